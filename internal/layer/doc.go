// Package layer names the layers of one family's path that a verdict can
// blame, with the exact enum names of the API (LAYER_DNS, ...) and the short
// names of the span attributes (dns, ...). It depends on nothing else in the
// project, so every package can speak of layers.
//
// It must depend on the standard library alone.
package layer
