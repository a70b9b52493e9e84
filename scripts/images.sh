#!/usr/bin/env bash
# Builds the container images of the prober, the coordinator and the dsprobe
# CLI as OCI image-layout archives, offline and without Docker
# (internal/imagebuild, through scripts/images), from the commit checked out
# (HEAD; uncommitted changes are not in them), and prints each image's
# reference, digest and archive:
#
#   bash scripts/images.sh [OUT_DIR]        # default dist/images
#   dsprobe.local/prober:dev sha256:... dist/images/prober.oci.tar
#
# The same commit builds the same digests (timestamps are SOURCE_DATE_EPOCH,
# by default the commit's time). The CA bundle is this machine's Debian
# ca-certificates, whose version the images carry as a label. Load them with
# `kind load image-archive FILE` or `ctr -n k8s.io images import FILE`.
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:-dist/images}
ca_bundle=/etc/ssl/certs/ca-certificates.crt
if ! ca_version=$(dpkg-query -W -f '${Version}' ca-certificates 2>/dev/null); then
  echo "images: Debian's ca-certificates is not installed (apt-get install ca-certificates)" >&2
  exit 1
fi
exec go run ./scripts/images -out "$out" -ca-bundle "$ca_bundle" -ca-bundle-version "debian ca-certificates $ca_version"
