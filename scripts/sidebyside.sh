#!/usr/bin/env bash
# The side-by-side load benchmark of the performance issue: a real prober
# process answering gRPC Probe calls (check tcp, both families) against
# blackbox_exporter answering /probe?module=tcp_v4 and tcp_v6 for the same
# target, at the same concurrency, in alternating rounds (test/sidebyside).
# Prints each process's CPU time per dual-family probe, its peak and
# current RSS, and the prober/blackbox ratios. Needs root (network
# namespaces); about a minute on 2 cores at the defaults.
# Usage: [ROUNDS=6] [PAIRS=2000] [CONCURRENCY=8] [PROBER=binary] bash scripts/sidebyside.sh
# PROBER measures another build of cmd/prober (an older commit's, for a
# before and after) instead of this tree's.
set -euo pipefail
cd "$(dirname "$0")/.."
tools_bin=$(bash scripts/install-deps.sh)
export PATH="$tools_bin:$PATH"
go test -count=1 -v -timeout 30m -run '^TestSideBySide$' ./test/sidebyside/ \
  -args -rounds "${ROUNDS:-6}" -pairs "${PAIRS:-2000}" -concurrency "${CONCURRENCY:-8}" -prober "${PROBER:-}"
