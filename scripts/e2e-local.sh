#!/usr/bin/env bash
# End to end on embedded defaults, as a new user would: the easel binary with the offline
# model, a folder and SQLite in a temp --data; two users' keys from `easel keys create`;
# generate, fetch, same seed twice, list/get/delete, cross-user 404s, 401, 400 with param,
# 413, Idempotency-Key replay, 429/503 with Retry-After under a burst, SIGTERM → exit 0.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
passed=0
ok() { passed=$((passed + 1)); }
fail() { echo "e2e-local FAIL: $*" >&2; tail -5 "$tmp/serve.log" >&2 2>/dev/null || true; echo "$passed passed, 1 failed"; exit 1; }
free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

go build -o "$tmp/easel" ./cmd/easel
easel=$tmp/easel data=$tmp/data
port=$(free_port)
"$easel" serve --addr "127.0.0.1:$port" --data "$data" --user-rate=0 --user-concurrency=1 --max-inflight=2 \
  >"$tmp/serve.out" 2>"$tmp/serve.log" &
pid=$!
for _ in $(seq 200); do grep -q '#key=' "$tmp/serve.out" 2>/dev/null && break; sleep 0.1; done
admin=$(grep -o '#key=.*' "$tmp/serve.out" | cut -d= -f2)
[ -n "$admin" ] || fail "serve printed no sign-in link"; ok
base=http://127.0.0.1:$port
alice=$("$easel" keys create --user alice --data "$data" 2>/dev/null | tail -1)
bob=$("$easel" keys create --user bob --data "$data" 2>/dev/null | tail -1)
[[ $alice == easel_* && $bob == easel_* ]] || fail "keys create while serving"; ok

api() { curl -sS -o "$tmp/body" -D "$tmp/headers" -w '%{http_code}' -H "Authorization: Bearer $1" "${@:2}"; }
post() { api "$1" -X POST -H 'Content-Type: application/json' -d "$2" "${@:3}" "$base/v1/images"; }

[ "$(post "$alice" '{"prompt":"a lighthouse at dusk","width":512,"height":512,"seed":5}')" = 201 ] || fail "generate"; ok
id=$(jq -r '.images[0].id' "$tmp/body") url=$(jq -r '.images[0].url' "$tmp/body") sha=$(jq -r '.images[0].sha256' "$tmp/body")
curl -fsS -o "$tmp/a.png" "$url" && [ "$(sha256sum <"$tmp/a.png" | cut -d' ' -f1)" = "$sha" ] || fail "fetch image URL"; ok
[ "$(post "$alice" '{"prompt":"a lighthouse at dusk","width":512,"height":512,"seed":5}')" = 201 ] || fail "generate again"
[ "$(jq -r '.images[0].sha256' "$tmp/body")" = "$sha" ] || fail "same seed gave different bytes"; ok
[ "$(api "$alice" "$base/v1/images")" = 200 ] && [ "$(jq '.images | length' "$tmp/body")" = 2 ] || fail "list"; ok
[ "$(api "$alice" "$base/v1/images/$id")" = 200 ] || fail "get"; ok
[ "$(api "$bob" "$base/v1/images/$id")" = 404 ] || fail "bob reads alice's image"; ok
[ "$(api "$bob" -X DELETE "$base/v1/images/$id")" = 404 ] || fail "bob deletes alice's image"; ok
[ "$(api "$bob" "$base/v1/images")" = 200 ] && [ "$(jq '.images | length' "$tmp/body")" = 0 ] || fail "bob lists alice's images"; ok
[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/v1/images")" = 401 ] || fail "no key is not 401"; ok
for f in 'prompt:{"prompt":""}' 'width:{"prompt":"x","width":100,"height":256}' 'n:{"prompt":"x","n":7}' \
         'seed:{"prompt":"x","seed":-3}' 'style:{"prompt":"x","style":"cubist"}' 'output_format:{"prompt":"x","output_format":"bmp"}' \
         'negative_prompt:{"prompt":"x","negative_prompt":5}' 'aspect_ratio:{"prompt":"x","aspect_ratio":"x"}'; do
  [ "$(post "$alice" "${f#*:}")" = 400 ] && [ "$(jq -r .error.param "$tmp/body")" = "${f%%:*}" ] || fail "bad ${f%%:*} not a 400 with param"
done; ok
head -c 70000 /dev/zero | tr '\0' a | sed 's/^/{"prompt":"/; s/$/"}/' >"$tmp/big.json"
[ "$(api "$alice" -X POST -H 'Content-Type: application/json' --data-binary @"$tmp/big.json" "$base/v1/images")" = 413 ] || fail "big body not 413"; ok
[ "$(post "$alice" '{"prompt":"once","width":256,"height":256}' -H 'Idempotency-Key: k1')" = 201 ] || fail "idempotent first"
first=$(jq -r '.images[0].id' "$tmp/body")
[ "$(post "$alice" '{"prompt":"once","width":256,"height":256}' -H 'Idempotency-Key: k1')" = 201 ] \
  && [ "$(jq -r '.images[0].id' "$tmp/body")" = "$first" ] || fail "Idempotency-Key replay"; ok
[ "$(api "$alice" -X DELETE "$base/v1/images/$id")" = 204 ] && [ "$(api "$alice" "$base/v1/images/$id")" = 404 ] || fail "delete"; ok

# A burst: one generation per user at a time, two per instance; the rest is refused
# with Retry-After, never queued without bound.
for i in 1 2 3 4 5 6; do
  k=$alice; [ $((i % 2)) = 0 ] && k=$bob
  ( curl -sS -o /dev/null -D "$tmp/burst$i" -w '%{http_code}\n' -H "Authorization: Bearer $k" -H 'Content-Type: application/json' \
      -d "{\"prompt\":\"burst $i\",\"width\":2048,\"height\":2048}" "$base/v1/images" >"$tmp/code$i" ) &
done
wait $(jobs -p | grep -v "^$pid$") 2>/dev/null || true
codes=$(cat "$tmp"/code* | sort | uniq -c | tr '\n' ' ')
grep -qE '^(429|503)$' "$tmp"/code* || fail "no 429/503 under a burst: $codes"
for i in 1 2 3 4 5 6; do
  if grep -qE '^(429|503)$' "$tmp/code$i"; then grep -qi '^retry-after:' "$tmp/burst$i" || fail "refusal without Retry-After"; fi
done; ok

kill -TERM "$pid"
wait "$pid" || fail "serve exited with $? after SIGTERM, want 0"
pid=
ok
# kill -9 in the middle of generations, then restart with a short sweep window: every
# listed image is complete and fetchable, and no file outlives the sweep unrecorded.
port=$(free_port)
"$easel" serve --addr "127.0.0.1:$port" --data "$data" --user-rate=0 --user-concurrency=0 --thumbnails=false \
  >"$tmp/serve.out" 2>"$tmp/serve.log" &
pid=$!
base=http://127.0.0.1:$port
for _ in $(seq 100); do curl -fs -o /dev/null "$base/healthz" && break; sleep 0.1; done
for i in 1 2 3 4; do # clients that keep generating until the server dies
  ( while curl -s -f -o /dev/null -H "Authorization: Bearer $alice" -H 'Content-Type: application/json' \
      -d "{\"prompt\":\"killed $i\",\"width\":2048,\"height\":2048}" "$base/v1/images"; do :; done ) &
done
sleep 2
kill -KILL "$pid"; wait "$pid" 2>/dev/null || true
pid=
port=$(free_port)
"$easel" serve --addr "127.0.0.1:$port" --data "$data" --sweep-after=1s --sweep-every=1s --thumbnails=false \
  >"$tmp/serve.out" 2>"$tmp/serve.log" &
pid=$!
base=http://127.0.0.1:$port
sleep 3
[ "$(api "$alice" "$base/v1/images?limit=100")" = 200 ] || fail "list after the crash"
jq -r '.images[].url' "$tmp/body" | while read -r u; do curl -fsS -o /dev/null "$u" || fail "ready image without its object: $u"; done
listed=$(jq -r '.images[].id' "$tmp/body" | sort)
[ "$(api "$bob" "$base/v1/images?limit=100")" = 200 ] && listed=$(printf '%s\n%s' "$listed" "$(jq -r '.images[].id' "$tmp/body")" | sort)
for f in "$data"/images/*; do
  [ -e "$f" ] || continue
  id=$(basename "$f"); id=${id%%.*}
  grep -qx "$id" <<<"$listed" || fail "object $(basename "$f") outlived the sweep without a ready record"
done; ok
swept=$(grep -o '"msg":"swept".*' "$tmp/serve.log" | head -1 || true)
echo "e2e-local: after kill -9: ${swept:-nothing left to sweep}"
kill -TERM "$pid"; wait "$pid" || fail "restarted serve exited with $?"
pid=
echo "e2e-local: burst statuses: $codes"
echo "$passed passed, 0 failed"
