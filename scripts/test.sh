#!/usr/bin/env bash
# Easel's whole test suite, the README's test command. On a fresh machine it installs
# what the tests need (idempotently: quick when already there): dynalite from npm as
# DynamoDB, versitygw as S3, Debian's chromium for the page test. It starts those
# services on loopback, runs every test with -race, short fuzz runs, the CDK app's
# tests and the end-to-end script, and stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20
# Tests reach loopback only; make sure no ambient AWS settings leak in.
unset AWS_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_ENDPOINT_URL \
  AWS_ENDPOINT_URL_S3 AWS_ENDPOINT_URL_DYNAMODB AWS_ENDPOINT_URL_BEDROCK_RUNTIME AWS_ENDPOINT_URL_SQS AWS_ENDPOINT_URL_EVENTBRIDGE AWS_BEARER_TOKEN_BEDROCK || true
for v in $(env | grep -o '^EASEL_[A-Z_]*' || true); do unset "$v"; done

started=$(date +%s)
step() { printf '\n== %s (%ss)\n' "$*" "$(( $(date +%s) - started ))"; }

step "format and vet"
unformatted=$(gofmt -l $(git ls-files '*.go' | grep -v '^infra/') 2>/dev/null || true)
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
go vet ./...

step "test dependencies"
if ! command -v chromium >/dev/null 2>&1; then
  echo "installing Debian's chromium (once)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
export EASEL_TEST_CHROMIUM=$(command -v chromium)
# shellcheck source=scripts/services.sh
source scripts/services.sh
trap easel_services_down EXIT
easel_services_up
export EASEL_TEST_REQUIRE_SERVICES=1

step "go test -race ./..."
go test -race -count=1 -timeout 15m ./...

step "fuzz (short runs; the corpus also runs in go test)"
fuzz() { go test -run '^$' -fuzz "^$2\$" -fuzztime "${FUZZTIME:-5s}" "$1" >/dev/null; echo "fuzzed $1 $2"; }
fuzz ./httpapi FuzzDecodeGenerateRequest
fuzz ./httpapi FuzzImagePath
fuzz ./localfs FuzzKey
fuzz . FuzzIDFromKey
fuzz . FuzzInspectImage

step "end to end: the easel binary on embedded defaults"
bash scripts/e2e-local.sh

step "docs: every runnable example in README.md and docs/ against the built binary"
go run ./internal/cmd/docrun -q README.md docs/*.md

step "end to end: the easel binary on dynalite, versitygw and the Bedrock fake"
bash scripts/e2e.sh

step "end to end: jobs survive kill -9 and SIGTERM, locally and on two instances"
bash scripts/e2e-jobs.sh

step "OpenAI SDKs (Node openai 7.x, openai-go v3) against the easel binary"
bash scripts/openai-sdk/run.sh

step "infra: CDK app synthesis, assertions, cdk-nag"
(cd infra && go test -count=1 ./...)

step "boot test: the synthesized user data boots easel in a scratch root (also with private images); the first-deploy cleanup and signing-key functions"
lambda_sdk=infra/boottest/testdata/lambda-sdk
if [ ! -d "$lambda_sdk/node_modules/@aws-sdk/client-s3" ] || [ "$lambda_sdk/package-lock.json" -nt "$lambda_sdk/node_modules/.package-lock.json" ]; then
  (cd "$lambda_sdk" && npm ci --no-audit --no-fund --loglevel=error)
fi
(cd infra && EASEL_TEST_BOOT=1 go test -count=1 -timeout 20m -run '^(TestBoot|TestBootPrivateImages|TestFirstDeployCleanup|TestSigningKeyFunction)$' -v ./boottest/)

step "done"
