#!/usr/bin/env bash
# Runs the benchmarks COUNT times (default 6) and summarises them with
# benchstat; the raw results are kept in bench.out for A/B comparisons
# (benchstat old.out bench.out). Usage: bash scripts/bench.sh [PACKAGES...]
set -euo pipefail
cd "$(dirname "$0")/.."
tools_bin=$(bash scripts/install-deps.sh)
count=${COUNT:-6}
packages=("$@")
((${#packages[@]})) || packages=(./...)
go test -run '^$' -bench . -benchmem -count "$count" "${packages[@]}" | tee bench.out
"$tools_bin/benchstat" bench.out
