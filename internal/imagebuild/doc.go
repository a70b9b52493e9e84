// Package imagebuild builds dsprobe's container images — the prober, the
// coordinator and the dsprobe CLI — as OCI image-layout archives
// (oci-layout, index.json, blobs) that `ctr -n k8s.io images import`,
// `kind load image-archive` and `docker load` read, with no Docker and no
// registry. scripts/images.sh runs it through scripts/images; tests that
// need the images in a cluster may call it too.
//
// Each image is one layer on an empty base: the static binary
// (CGO_ENABLED=0, -trimpath; its version and VCS revision stamped by the Go
// toolchain where internal/buildinfo reads them), /etc/passwd and
// /etc/group naming UID and GID 65532 (nonroot, as in distroless images),
// the build machine's CA bundle for TLS verification (Debian's
// ca-certificates), and /tmp. There is no shell. The image runs as
// 65532:65532 and carries the OCI labels source, version and revision.
//
// The same commit builds the same digests: every timestamp is
// SOURCE_DATE_EPOCH (by default the commit's time), entries are written in
// a fixed order with numeric owners only, and the archive around the layout
// is written the same way. Go's builds are reproducible given the same
// toolchain, so the binaries are too.
//
// go-containerregistry writes the manifests, config and layout, so the
// media types and digests are those every runtime expects; no product
// binary links it.
//
// Only github.com/dsprobe/dsprobe/scripts/images may import it.
// It must depend on nothing outside the standard library and
// github.com/google/go-containerregistry/....
package imagebuild
