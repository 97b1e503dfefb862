#!/usr/bin/env bash
# End to end, as a new user would: the easel binary against DynamoDB (dynalite), S3
# (versitygw) and Bedrock (the repo's wire fake), reached only through the AWS SDK's
# standard settings (AWS_REGION, AWS_ENDPOINT_URL_*, the default credential chain).
# Generate, fetch, list, delete; the object in S3 and the item in DynamoDB; SIGTERM → 0.
# Starts the services itself unless scripts/test.sh already did.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "e2e FAIL: $*" >&2; [ -f "$tmp/serve.log" ] && tail -20 "$tmp/serve.log" >&2; exit 1; }
if [ -z "${EASEL_TEST_S3_ENDPOINT:-}" ]; then
  source scripts/services.sh
  trap 'cleanup; easel_services_down' EXIT
  easel_services_up
fi
free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; fail "nothing listens on $1"; }

go build -o "$tmp/easel" ./cmd/easel
go build -o "$tmp/bedrock-fake" ./bedrock/bedrocktest/fakeserver

export AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=$EASEL_TEST_S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$EASEL_TEST_S3_SECRET_KEY
export AWS_EC2_METADATA_DISABLED=true
export AWS_ENDPOINT_URL_S3=$EASEL_TEST_S3_ENDPOINT
export AWS_ENDPOINT_URL_DYNAMODB=$EASEL_TEST_DYNAMODB_ENDPOINT
fport=$(free_port)
"$tmp/bedrock-fake" --addr "127.0.0.1:$fport" --region "$AWS_REGION" >"$tmp/fake.log" 2>&1 &
pids+=($!)
wait_port "$fport"
export AWS_ENDPOINT_URL_BEDROCK_RUNTIME=http://127.0.0.1:$fport

suffix=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
bucket=easel-e2e-$suffix table=easel-e2e-$suffix
# Every S3 call here has an empty body: S3 wants that body's SHA-256 in a header.
sig=(--aws-sigv4 "aws:amz:us-east-1:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY"
  -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
curl -fsS "${sig[@]}" -X PUT "$AWS_ENDPOINT_URL_S3/$bucket" >/dev/null || fail "create bucket"

catalog=dynamodb://$table
blob="s3://$bucket?prefix=images/&use_path_style=true"
"$tmp/easel" migrate --catalog "$catalog" >/dev/null || fail "easel migrate"
"$tmp/easel" migrate --catalog "$catalog" >/dev/null || fail "easel migrate is not idempotent"
key=$("$tmp/easel" keys create --user alice --catalog "$catalog" 2>/dev/null | tail -1)
bobkey=$("$tmp/easel" keys create --user bob --catalog "$catalog" 2>/dev/null | tail -1)
[[ $key == easel_* ]] || fail "keys create printed no key"

port=$(free_port)
"$tmp/easel" serve --addr "127.0.0.1:$port" --data "$tmp/data" --catalog "$catalog" --blob "$blob" \
  --model bedrock:core --model bedrock:sd3.5 --log-format text >"$tmp/serve.out" 2>"$tmp/serve.log" &
serve_pid=$!
pids+=($serve_pid)
wait_port "$port"
base=http://127.0.0.1:$port
api() { curl -sS -o "$tmp/body" -w '%{http_code}' -H "Authorization: Bearer $1" "${@:2}"; }

[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/readyz")" = 200 ] || fail "/readyz not 200"
[ "$(api "$key" "$base/v1/models")" = 200 ] || fail "GET /v1/models"
[ "$(jq -r '.data[] | select(.default) | .id' "$tmp/body")" = core ] || fail "default model is not core: $(cat "$tmp/body")"

code=$(api "$key" -X POST -H 'Content-Type: application/json' -H 'Idempotency-Key: e2e-1' \
  -d '{"prompt":"a paper boat on a pond","aspect_ratio":"16:9","seed":42}' "$base/v1/images")
[ "$code" = 201 ] || fail "generate: $code $(cat "$tmp/body")"
id=$(jq -r '.images[0].id' "$tmp/body")
url=$(jq -r '.images[0].url' "$tmp/body")
sha=$(jq -r '.images[0].sha256' "$tmp/body")
echo "generated $id"

# The presigned URL serves exactly the recorded bytes.
curl -fsS -o "$tmp/img.png" "$url" || fail "fetch $url"
[ "$(sha256sum "$tmp/img.png" | cut -d' ' -f1)" = "$sha" ] || fail "fetched bytes differ from sha256"
# The object is in S3 under the prefix, the item in DynamoDB.
curl -fsS -o /dev/null "${sig[@]}" -I "$AWS_ENDPOINT_URL_S3/$bucket/images/$id.png" || fail "object not in S3"
ddb() {
  curl -fsS --aws-sigv4 "aws:amz:us-east-1:dynamodb" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
    -H 'Content-Type: application/x-amz-json-1.0' -H "X-Amz-Target: DynamoDB_20120810.$1" -d "$2" "$AWS_ENDPOINT_URL_DYNAMODB/"
}
items=$(ddb Scan "{\"TableName\":\"$table\"}" | jq '[.Items[] | select(.pk.S | contains("'"$id"'"))] | length')
[ "$items" -ge 1 ] || fail "no DynamoDB item for $id"

# Idempotent replay: same answer, the model billed once.
code=$(api "$key" -X POST -H 'Content-Type: application/json' -H 'Idempotency-Key: e2e-1' \
  -d '{"prompt":"a paper boat on a pond","aspect_ratio":"16:9","seed":42}' "$base/v1/images")
[ "$code" = 201 ] && [ "$(jq -r '.images[0].id' "$tmp/body")" = "$id" ] || fail "idempotent replay: $code"

[ "$(api "$key" "$base/v1/images")" = 200 ] || fail "list"
[ "$(jq '.images | length' "$tmp/body")" = 1 ] || fail "list has $(jq '.images | length' "$tmp/body") images, want 1"
[ "$(api "$bobkey" "$base/v1/images/$id")" = 404 ] || fail "bob can read alice's image"
[ "$(api "$key" -X POST -H 'Content-Type: application/json' -d '{"prompt":"x","aspect_ratio":"7:3"}' "$base/v1/images")" = 400 ] \
  && [ "$(jq -r .error.param "$tmp/body")" = aspect_ratio ] || fail "bad aspect ratio not a 400 with param"

# The command-line client.
EASEL_KEY=$key "$tmp/easel" generate --server "$base" --model sd3.5 --out "$tmp/out" "a red kite over dunes" >"$tmp/gen.out" \
  || fail "easel generate: $(cat "$tmp/gen.out")"
[ -s "$(cut -f1 "$tmp/gen.out" | head -1)" ] || fail "easel generate saved no file"

[ "$(api "$key" -X DELETE "$base/v1/images/$id")" = 204 ] || fail "delete"
[ "$(api "$key" "$base/v1/images/$id")" = 404 ] || fail "deleted image still answers"
if curl -fsS -o /dev/null "${sig[@]}" -I "$AWS_ENDPOINT_URL_S3/$bucket/images/$id.png" 2>/dev/null; then fail "object still in S3 after delete"; fi

kill -TERM "$serve_pid"
wait "$serve_pid" || fail "easel serve exited with $? after SIGTERM, want 0"
echo "e2e (AWS emulators): every check passed"
