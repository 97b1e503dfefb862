#!/usr/bin/env bash
# The official OpenAI SDKs, unchanged, against the built easel binary: Node's `openai`
# (7.x, pinned in package-lock.json; node:test) and `openai-go` v3 (its own Go module in
# go/, so the service's module never depends on it). The server runs the offline model
# on a folder and SQLite in a temp --data, on a free loopback port.
set -euo pipefail
cd "$(dirname "$0")"
here=$(pwd)
tmp=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "openai-sdk FAIL: $*" >&2; tail -20 "$tmp/serve.log" >&2 2>/dev/null || true; exit 1; }
free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

if [ ! -d node_modules/openai ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
(cd ../.. && go build -o "$tmp/easel" ./cmd/easel)

port=$(free_port)
"$tmp/easel" serve --addr "127.0.0.1:$port" --data "$tmp/data" --user-rate=0 --user-concurrency=0 \
  --log-level warn >"$tmp/serve.out" 2>"$tmp/serve.log" &
pid=$!
for _ in $(seq 300); do grep -q '#key=' "$tmp/serve.out" 2>/dev/null && break; sleep 0.1; done
key=$(grep -o '#key=.*' "$tmp/serve.out" | cut -d= -f2)
[ -n "$key" ] || fail "easel serve printed no key"
export EASEL_URL=http://127.0.0.1:$port EASEL_KEY=$key

echo "Node: openai $(node -p 'require("./node_modules/openai/package.json").version') on node $(node --version)"
node --test --test-reporter=spec "$here/sdk.test.mjs" || fail "Node SDK"
echo "Go: $(cd go && go list -m -f '{{.Path}} {{.Version}}' github.com/openai/openai-go/v3)"
(cd go && go vet ./... && go test -count=1 -v ./...) || fail "Go SDK"

kill -TERM "$pid"
wait "$pid" || fail "easel serve exited with $? after SIGTERM"
pid=
echo "OpenAI SDKs (Node and Go) against the easel binary: every check passed"
