#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what is missing, then lint
# (gofmt, go vet, staticcheck) and every test tier with the race detector.
# The network tier needs root; without it those tests skip with a reason,
# and with CI=true they fail instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."

tools_bin=$(bash scripts/install-deps.sh)
export PATH="$tools_bin:$PATH"

step() { printf '\n== %s\n' "$*"; }

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' | grep -v '^gen/') 2>&1 || true)
if [[ -n "$unformatted" ]]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

step "go vet"
go vet ./...

step "the CLI builds for macOS (people run dsprobe from their laptops)"
GOOS=darwin GOARCH=arm64 go build -o /dev/null ./cmd/dsprobe

step "staticcheck"
staticcheck ./...

step "generated code (buf lint, buf generate reproduces gen/, buf breaking)"
bash scripts/check-gen.sh

step "go test -race (unit and network tiers)"
# The real-client timing checks run alone afterwards: on a 2-core machine,
# other packages' tests running beside them are what could push a client's
# timer past its tolerance.
timing=./test/profilecheck
go test -race -count=1 -timeout 20m $(go list ./... | grep -v "/test/profilecheck$")
go test -race -count=1 -timeout 10m "$timing"

step "benchmarks compile and run once"
# Their numbers are noise here; a failure is not, so its output is shown.
bench_log=$(mktemp)
trap 'rm -f "$bench_log"' EXIT
if ! go test -run '^$' -bench . -benchtime 1x ./... >"$bench_log" 2>&1; then
  grep -v -E '^(ok|PASS|goos|goarch|pkg|cpu|Benchmark)' "$bench_log" || true
  exit 1
fi

echo
echo "all checks passed"
