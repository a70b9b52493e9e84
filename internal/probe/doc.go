// Package probe is what one prober does for one target: resolve A and AAAA
// separately, connect to every address of each requested family directly,
// run the application check on each connection, run its own Happy Eyeballs
// race for real, predict every client profile from the measured outcomes,
// and judge each family. It returns the cause of every failure as data;
// logging, metrics and spans are the caller's.
//
// So it knows nothing of the API (internal/apiconv converts its results), of
// telemetry or of Kubernetes: a prober needs no Kubernetes API access.
//
// It must not depend on gen/..., internal/telemetry, go.opentelemetry.io/...,
// github.com/prometheus/... or k8s.io/client-go/....
package probe
