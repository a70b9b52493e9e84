#!/usr/bin/env bash
# Checks the API against its generated code and its history (scripts/test.sh
# runs it; run it alone after editing proto/):
#   0. the generators pinned in install-deps.sh are the versions of the
#      runtimes go.mod requires;
#   1. buf lint, and buf format changes nothing;
#   2. buf generate, into a scratch directory, reproduces gen/ byte for byte;
#   3. buf breaking finds no breaking change against a baseline commit.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { printf 'check-gen: %s\n' "$*" >&2; exit 1; }

# --- 0. the generators match the runtimes of go.mod ----------------------
# gen/ is built against google.golang.org/protobuf and the grpc-gateway
# runtime, so bumping one side alone fails here, before install-deps.sh
# builds a mismatched generator.
pinned() { sed -n "s/^$1=//p" scripts/install-deps.sh; }
for pair in google.golang.org/protobuf=PROTOC_GEN_GO_VERSION \
  github.com/grpc-ecosystem/grpc-gateway/v2=GRPC_GATEWAY_VERSION; do
  module=${pair%%=*} var=${pair#*=}
  required=$(go list -m -f '{{.Version}}' "$module")
  if [[ $required != "$(pinned "$var")" ]]; then
    fail "go.mod requires $module $required but install-deps.sh pins $var=$(pinned "$var"): change both together, then run scripts/gen.sh"
  fi
done

tools_bin=$(bash scripts/install-deps.sh)
export PATH="$tools_bin:$PATH"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# --- 1. lint and format --------------------------------------------------
buf lint || fail "buf lint found problems in proto/ (see above)"
if ! buf format --diff --exit-code >"$scratch/format.diff"; then
  cat "$scratch/format.diff"
  fail "proto/ is not formatted: run scripts/gen.sh (buf format --write)"
fi

# --- 2. gen/ is what buf generate makes ----------------------------------
# buf.gen.yaml's out directories are relative to --output, so this writes
# $scratch/gen and leaves the committed gen/ alone.
buf generate --output "$scratch"
if ! diff -ru gen "$scratch/gen" >"$scratch/gen.diff"; then
  cat "$scratch/gen.diff"
  fail "buf generate must reproduce gen/ byte for byte, and it does not (diff above: - committed, + generated). Run scripts/gen.sh and commit gen/ with the protos; never edit gen/ by hand."
fi

# --- 3. no breaking change against the baseline --------------------------
# The baseline is the API as it was before the change under test:
#   - DSPROBE_BREAKING_AGAINST, if set (a git ref: a release tag, or
#     origin/main for a branch);
#   - else HEAD, when proto/ has uncommitted changes (a developer's edit is
#     checked against what is committed);
#   - else HEAD~1: the last commit is the change under test. In CI the
#     checkout is a fresh clone of main, so comparing with main (or HEAD)
#     would compare the API with itself and could never fail.
# A baseline without proto/ (the commit before the API existed) or missing
# from a shallow clone is skipped with a message: there is nothing to break.
# The baseline is read with git archive rather than buf's .git input, which
# clones the repository and needs the ref reachable by name.
against=${DSPROBE_BREAKING_AGAINST:-}
if [[ -z $against ]]; then
  if [[ -n $(git status --porcelain -- proto buf.yaml) ]]; then
    against=HEAD
  else
    against=HEAD~1
  fi
fi
if ! git rev-parse --verify --quiet "$against^{commit}" >/dev/null; then
  echo "check-gen: buf breaking skipped: no commit $against in this clone (shallow?)"
elif [[ -z $(git ls-tree -d "$against" proto) || -z $(git ls-tree "$against" buf.yaml) ]]; then
  echo "check-gen: buf breaking skipped: $against has no proto/ and buf.yaml to compare against"
else
  mkdir "$scratch/baseline"
  git archive "$against" buf.yaml proto | tar -x -C "$scratch/baseline"
  buf breaking --against "$scratch/baseline" ||
    fail "buf breaking: proto/ breaks the API of $against (see above). Contracts users script against must not change; add new fields, values and messages instead."
fi
