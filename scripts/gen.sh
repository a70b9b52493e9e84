#!/usr/bin/env bash
# Regenerates the API's code from proto/: gen/dsprobe/v1 (messages, gRPC
# services, the grpc-gateway REST mapping) and gen/openapiv2 (the OpenAPI
# document). Lints and formats the protos first. Offline: the generators are
# the pinned local builds of scripts/install-deps.sh, and buf needs no
# registry (the module has no dependencies). Commit gen/ with the protos;
# scripts/check-gen.sh fails if they disagree.
set -euo pipefail
cd "$(dirname "$0")/.."

tools_bin=$(bash scripts/install-deps.sh)
export PATH="$tools_bin:$PATH"

buf format --write
buf lint
buf generate
