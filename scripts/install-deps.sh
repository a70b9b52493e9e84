#!/usr/bin/env bash
# Installs what the test tiers need, pinned, and only what is missing:
#   - Debian packages: iproute2 and nftables (test hosts and faults), curl,
#     ca-certificates (the CA bundle of the container images),
#     python3, nodejs and a Java runtime (real clients the profiles are
#     checked against), dnsmasq and
#     nginx (the third-party DNS and web servers of the probe tests),
#     busybox-static (the real node's web server);
#   - Go tools, built from the module proxy at pinned versions into a cache
#     directory outside the repository, keyed by version;
#   - Jaeger v2, the real trace backend of the end-to-end tier, built from the
#     wrapper module in scripts/jaeger (pinned by its go.mod and go.sum; a
#     cold build, modules cached, took 433 s on 2 cores under a load average
#     of about 10, 351 CPU-seconds; then it is cached);
#   - the cluster tier's Kubernetes control plane (kube-apiserver,
#     kube-controller-manager, kube-proxy), built from the wrapper module in
#     scripts/kube (cold, modules cached: 455 s on 2 cores, then cached),
#     etcd from Debian's etcd-server, and CoreDNS (go install, pinned);
#   - the cluster tier's real node: kube-scheduler and kubelet (from the same
#     wrapper module), containerd, runc and the CNI plugins (go install of
#     their pinned releases, each in a directory keyed by version). Cold
#     (empty build cache, modules downloaded) on 2 cores under a load average
#     of 5 to 8: kubelet and kube-scheduler 367 s (25 s and 13 s when the
#     control plane's packages are in the build cache), containerd 93 s,
#     runc 24 s, the four plugins 8 s; then they are cached.
#   - Prometheus and promtool, the version deploy/ runs, built from the
#     wrapper module in scripts/prometheus (cold, modules cached: 154 s on 2
#     cores under a load average of about 4, 246 CPU-seconds; then cached):
#     the end-to-end tier scrapes the mesh with it and runs the shipped
#     dashboard's queries, test/deploy checks the shipped configuration and
#     tests the alert rules with promtool.
#   - blackbox_exporter, the reference of the side-by-side load benchmark
#     (scripts/sidebyside.sh), built from the wrapper module in
#     scripts/blackbox (cold, modules cached: 44 s on 2 cores under a load
#     average of about 2, 50 CPU-seconds; then cached).
# Safe to run again: a second run installs nothing.
set -euo pipefail

STATICCHECK_VERSION=v0.8.2
# The API's code generators (scripts/gen.sh). protoc-gen-go must match the
# google.golang.org/protobuf of go.mod, and the grpc-gateway plugins the
# github.com/grpc-ecosystem/grpc-gateway/v2 runtime of go.mod, since the
# generated code is built against those.
BUF_VERSION=v1.75.0
PROTOC_GEN_GO_VERSION=v1.36.12
PROTOC_GEN_GO_GRPC_VERSION=v1.6.2
GRPC_GATEWAY_VERSION=v2.33.0
# The cluster tier's DNS (CoreDNS with its kubernetes plugin).
COREDNS_VERSION=v1.15.0
# Renders deploy/ in the cluster tier's tests: kustomize v5.8.2 is
# sigs.k8s.io/kustomize/api v0.21.2 (cold build about 15 s).
KUSTOMIZE_VERSION=v5.8.2
# golang.org/x/perf has no tagged release; this is its 2026-01-12 commit.
BENCHSTAT_VERSION=v0.0.0-20260112171951-5abaabe9f1bd
CACHE_DIR=${DSPROBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dsprobe}
TOOLS_BIN="$CACHE_DIR/tools/bin"

log() { printf 'install-deps: %s\n' "$*" >&2; }

# --- Debian packages -------------------------------------------------------
declare -A package_for=(
  [ip]=iproute2
  [nft]=nftables
  [curl]=curl
  [python3]=python3
  [node]=nodejs
  [java]=default-jre-headless
  [dnsmasq]=dnsmasq-base
  [nginx]=nginx-light
  [etcd]=etcd-server
  # The CA bundle the container images carry (scripts/images.sh).
  [update-ca-certificates]=ca-certificates
)
missing=()
for cmd in "${!package_for[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${package_for[$cmd]}")
done
# Packages without a command of their own to look for: busybox-static (the
# real node's third-party web server, static so that it runs alone in an
# image; Debian's busybox is not) and what runc's seccomp support builds
# against.
for package in busybox-static libseccomp-dev pkg-config; do
  dpkg-query -W -f '${Status}' "$package" 2>/dev/null | grep -q 'ok installed' || missing+=("$package")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    log "missing ${missing[*]}; not root, so the network tier will skip (run as root to install)"
  else
    log "apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # The tests start their own servers inside network namespaces; keep
    # the packages' init scripts from starting system-wide ones.
    policy=/usr/sbin/policy-rc.d
    if [[ ! -e $policy ]]; then
      printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy"
      trap 'rm -f "$policy"' EXIT
    fi
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

# --- Go tools ---------------------------------------------------------------
install_go_tool() { # name module version
  local name=$1 module=$2 version=$3
  local dir="$CACHE_DIR/tools/$name-$version"
  if [[ ! -x "$dir/$name" ]]; then
    log "go install $module@$version"
    mkdir -p "$dir"
    GOBIN="$dir" GOFLAGS=-mod=mod go install "$module@$version"
  fi
  mkdir -p "$TOOLS_BIN"
  ln -sf "$dir/$name" "$TOOLS_BIN/$name"
}
install_go_tool staticcheck honnef.co/go/tools/cmd/staticcheck "$STATICCHECK_VERSION"
install_go_tool benchstat golang.org/x/perf/cmd/benchstat "$BENCHSTAT_VERSION"
install_go_tool buf github.com/bufbuild/buf/cmd/buf "$BUF_VERSION"
install_go_tool protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go "$PROTOC_GEN_GO_VERSION"
install_go_tool protoc-gen-go-grpc google.golang.org/grpc/cmd/protoc-gen-go-grpc "$PROTOC_GEN_GO_GRPC_VERSION"
install_go_tool protoc-gen-grpc-gateway github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway "$GRPC_GATEWAY_VERSION"
install_go_tool protoc-gen-openapiv2 github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2 "$GRPC_GATEWAY_VERSION"
install_go_tool coredns github.com/coredns/coredns "$COREDNS_VERSION"
install_go_tool kustomize sigs.k8s.io/kustomize/kustomize/v5 "$KUSTOMIZE_VERSION"

# static_go_binary says whether FILE is a Go binary built without cgo (so it
# runs alone in a container image).
static_go_binary() {
  [[ -x $1 ]] && go version -m "$1" 2>/dev/null | grep -q 'CGO_ENABLED=0'
}

# --- Jaeger v2 ----------------------------------------------------------------
jaeger_module="$(cd "$(dirname "$0")" && pwd)/jaeger"
JAEGER_VERSION=$(awk '$1 == "require" && $2 == "github.com/jaegertracing/jaeger" {print $3}' "$jaeger_module/go.mod")
# The module's v1.76.0 is the release v1.76.0 / v2.13.0 (its CHANGELOG.md), the
# jaegertracing/jaeger:2.13.0 image deploy/overlays/observability runs; the
# binary reports it (jaeger version). It is static (no cgo, as Jaeger's own
# release builds are), so test/e2e packages it as that image for the real
# node; a cached build with cgo is built again.
JAEGER_RELEASE=v2.13.0
jaeger_dir="$CACHE_DIR/tools/jaeger-$JAEGER_VERSION"
if ! static_go_binary "$jaeger_dir/jaeger"; then
  log "building Jaeger $JAEGER_VERSION (cold: about 7 minutes on 2 cores)"
  mkdir -p "$jaeger_dir"
  ldflags="-s -w -X github.com/jaegertracing/jaeger/internal/version.latestVersion=$JAEGER_RELEASE"
  (cd "$jaeger_module" && GOFLAGS= GOWORK=off CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" \
    -o "$jaeger_dir/jaeger.tmp" github.com/jaegertracing/jaeger/cmd/jaeger)
  mv "$jaeger_dir/jaeger.tmp" "$jaeger_dir/jaeger"
fi
ln -sf "$jaeger_dir/jaeger" "$TOOLS_BIN/jaeger"

# --- Kubernetes control plane ---------------------------------------------------
kube_module="$(cd "$(dirname "$0")" && pwd)/kube"
KUBE_VERSION=$(awk '$1 == "require" && $2 == "k8s.io/kubernetes" {print $3}' "$kube_module/go.mod")
kube_dir="$CACHE_DIR/tools/kube-$KUBE_VERSION"
kube_commands=(kube-apiserver kube-controller-manager kube-proxy kube-scheduler kubelet)
# Only the missing commands are built, so a cache from before a command was
# added keeps the others.
kube_missing=()
for cmd in "${kube_commands[@]}"; do
  [[ -x "$kube_dir/$cmd" ]] || kube_missing+=("$cmd")
done
if ((${#kube_missing[@]})); then
  log "building Kubernetes $KUBE_VERSION ${kube_missing[*]} (cold: about 8 minutes on 2 cores for the control plane)"
  rm -rf "$kube_dir.tmp" && mkdir -p "$kube_dir.tmp" "$kube_dir"
  # Without the version stamp the binaries report v0.0.0-master, which
  # version checks and the discovery API would show.
  minor=${KUBE_VERSION#v1.}; minor=${minor%%.*}
  version_pkg=k8s.io/component-base/version
  ldflags="-s -w -X $version_pkg.gitVersion=$KUBE_VERSION -X $version_pkg.gitMajor=1 -X $version_pkg.gitMinor=$minor"
  ldflags+=" -X $version_pkg.gitTreeState=clean"
  (cd "$kube_module" && GOFLAGS= GOWORK=off go build -trimpath -ldflags "$ldflags" -o "$kube_dir.tmp/" \
    $(printf 'k8s.io/kubernetes/cmd/%s ' "${kube_missing[@]}"))
  mv "$kube_dir.tmp"/* "$kube_dir/" && rmdir "$kube_dir.tmp"
fi
for cmd in "${kube_commands[@]}"; do
  ln -sf "$kube_dir/$cmd" "$TOOLS_BIN/$cmd"
done

# --- The cluster tier's real node ------------------------------------------------
# containerd, runc and the CNI plugins, each built with go install from its
# own release module (its go.mod and go.sum pin its dependencies; the module
# proxy's checksum database pins the release), into a directory keyed by
# version. The kubelet comes with the control plane above.
build_release() { # dir version module cgo tags ldflags packages...
  local dir=$1 version=$2 module=$3 cgo=$4 tags=$5 ldflags=$6
  shift 6
  local pkg path missing=()
  for pkg in "$@"; do
    # "." is the module's root package; go install names its command after
    # the module path's last element.
    path=$module/$pkg && [[ $pkg == . ]] && path=$module
    [[ -x "$dir/${path##*/}" ]] || missing+=("$path@$version")
  done
  ((${#missing[@]})) || return 0
  log "building ${missing[*]}"
  mkdir -p "$dir.tmp"
  GOBIN="$dir.tmp" GOFLAGS=-mod=mod CGO_ENABLED=$cgo go install -trimpath -tags "$tags" -ldflags "$ldflags" "${missing[@]}"
  mkdir -p "$dir" && mv "$dir.tmp"/* "$dir/" && rmdir "$dir.tmp"
}
# containerd is static (no cgo) without the snapshotters this machine's
# kernel and the tier do not use; overlayfs is what it runs on.
CONTAINERD_VERSION=v2.4.2
containerd_dir="$CACHE_DIR/tools/containerd-$CONTAINERD_VERSION"
build_release "$containerd_dir" "$CONTAINERD_VERSION" github.com/containerd/containerd/v2 0 \
  no_btrfs,no_devmapper,no_zfs,no_aufs \
  "-s -w -X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION" \
  cmd/containerd cmd/ctr cmd/containerd-shim-runc-v2
for cmd in containerd ctr containerd-shim-runc-v2; do
  ln -sf "$containerd_dir/$cmd" "$TOOLS_BIN/$cmd"
done
# runc needs cgo for libseccomp (the RuntimeDefault seccomp profile that PSS
# restricted requires); Debian's runc 1.1 and crun 1.8 are too old for
# containerd 2.4's runtime spec.
RUNC_VERSION=v1.5.2
runc_dir="$CACHE_DIR/tools/runc-$RUNC_VERSION"
if pkg-config --exists libseccomp 2>/dev/null || [[ -x "$runc_dir/runc" ]]; then
  build_release "$runc_dir" "$RUNC_VERSION" github.com/opencontainers/runc 1 seccomp \
    "-s -w -X main.version=${RUNC_VERSION#v}" .
  ln -sf "$runc_dir/runc" "$TOOLS_BIN/runc"
else
  log "libseccomp-dev is missing (not root?): runc is not built, so the real node's tests will skip"
fi
# The CNI plugins stay in their own directory, the CNI bin_dir of the node's
# containerd (names such as bridge and portmap do not belong on PATH); the
# tests find it through the cni-plugins link.
CNI_PLUGINS_VERSION=v1.10.0
cni_dir="$CACHE_DIR/tools/cni-plugins-$CNI_PLUGINS_VERSION"
build_release "$cni_dir" "$CNI_PLUGINS_VERSION" github.com/containernetworking/plugins 0 "" \
  "-s -w -X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=$CNI_PLUGINS_VERSION" \
  plugins/main/bridge plugins/ipam/host-local plugins/main/loopback plugins/meta/portmap
ln -sfn "$cni_dir" "$TOOLS_BIN/cni-plugins"
# --- Prometheus -------------------------------------------------------------------
prometheus_module="$(cd "$(dirname "$0")" && pwd)/prometheus"
PROMETHEUS_VERSION=$(awk '$1 == "require" && $2 == "github.com/prometheus/prometheus" {print $3}' "$prometheus_module/go.mod")
# Static (no cgo, as Prometheus' release builds are), so that test/e2e
# packages it as the prom/prometheus image deploy/ runs; a cached build with
# cgo is built again.
prometheus_dir="$CACHE_DIR/tools/prometheus-$PROMETHEUS_VERSION"
prometheus_commands=(prometheus promtool)
if [[ ! -x "$prometheus_dir/promtool" ]] || ! static_go_binary "$prometheus_dir/prometheus"; then
  log "building Prometheus $PROMETHEUS_VERSION (cold: about 3 minutes on 2 cores)"
  mkdir -p "$prometheus_dir.tmp"
  # The module's v0.3YY.Z is Prometheus 3.YY.Z, the version the binaries
  # report (--version, /api/v1/status/buildinfo). Without the builtinassets
  # tag the web UI is not embedded: the tests use the HTTP API alone.
  minor=${PROMETHEUS_VERSION#v0.3}; patch=${minor#*.}; minor=${minor%%.*}
  version_pkg=github.com/prometheus/common/version
  ldflags="-s -w -X $version_pkg.Version=3.$((10#$minor)).$patch"
  (cd "$prometheus_module" && GOFLAGS= GOWORK=off CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$prometheus_dir.tmp/" \
    $(printf 'github.com/prometheus/prometheus/cmd/%s ' "${prometheus_commands[@]}"))
  rm -rf "$prometheus_dir" && mv "$prometheus_dir.tmp" "$prometheus_dir"
fi
for cmd in "${prometheus_commands[@]}"; do
  ln -sf "$prometheus_dir/$cmd" "$TOOLS_BIN/$cmd"
done

# --- blackbox_exporter -------------------------------------------------------------
blackbox_module="$(cd "$(dirname "$0")" && pwd)/blackbox"
BLACKBOX_VERSION=$(awk '$1 == "require" && $2 == "github.com/prometheus/blackbox_exporter" {print $3}' "$blackbox_module/go.mod")
blackbox_dir="$CACHE_DIR/tools/blackbox_exporter-$BLACKBOX_VERSION"
if [[ ! -x "$blackbox_dir/blackbox_exporter" ]]; then
  log "building blackbox_exporter $BLACKBOX_VERSION"
  mkdir -p "$blackbox_dir"
  # The version it reports (--version), as its release builds stamp it.
  ldflags="-s -w -X github.com/prometheus/common/version.Version=${BLACKBOX_VERSION#v}"
  (cd "$blackbox_module" && GOFLAGS= GOWORK=off CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" \
    -o "$blackbox_dir/blackbox_exporter.tmp" github.com/prometheus/blackbox_exporter)
  mv "$blackbox_dir/blackbox_exporter.tmp" "$blackbox_dir/blackbox_exporter"
fi
ln -sf "$blackbox_dir/blackbox_exporter" "$TOOLS_BIN/blackbox_exporter"

echo "$TOOLS_BIN"
