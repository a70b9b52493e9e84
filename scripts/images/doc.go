// Command images builds the project's container images into a directory and
// prints, one line each, the image reference, its manifest digest and its
// archive:
//
//	go run ./scripts/images -out dist/images
//	dsprobe.local/prober:dev sha256:... dist/images/prober.oci.tar
//
// scripts/images.sh runs it with the CA bundle's provenance. See
// internal/imagebuild for what the images hold.
//
// It must import nothing outside the standard library and internal/imagebuild.
package main
