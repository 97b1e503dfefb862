#!/usr/bin/env bash
# Jobs end to end, against the built binary (issue 8, "done when" 1 and 2):
#
#  1. Local: SQLite catalog and queue, images in a folder, the model behind the Bedrock
#     fake (so calls can be counted). 200 async jobs of 4 users; kill -9 the server while
#     jobs are queued and running; restart; within a minute every job has succeeded,
#     every image's object has its recorded SHA-256, no job is left queued or running,
#     and the model was called at most 200 + (jobs running at the kill) times.
#  2. Two instances on DynamoDB (dynalite), S3 (versitygw), SQS and Bedrock (the repo's
#     fakes; 300 ms a model call): 200 jobs; SIGKILL one instance mid-run; the survivor
#     finishes all 200 with the same checks. Then 200 more with SIGTERM instead: the
#     drained instance hands its work back and the model is called exactly 200 times.
#
# Starts the services itself unless scripts/test.sh already did.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
  echo "e2e-jobs FAIL: $*" >&2
  for f in "$tmp"/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -15 "$f" >&2; }; done
  exit 1
}
if [ -z "${EASEL_TEST_S3_ENDPOINT:-}" ]; then
  source scripts/services.sh
  trap 'cleanup; easel_services_down' EXIT
  easel_services_up
fi
free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
wait_port() { for _ in $(seq 150); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; fail "nothing listens on $1"; }

go build -o "$tmp/easel" ./cmd/easel
go build -o "$tmp/aws-fake" ./bedrock/bedrocktest/fakeserver
go build -o "$tmp/jobload" ./internal/cmd/jobload

export AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
export AWS_ACCESS_KEY_ID=$EASEL_TEST_S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$EASEL_TEST_S3_SECRET_KEY

# start_fake LATENCY: a fake of its own (Bedrock with latency, SQS with a redriving queue).
start_fake() {
  fport=$(free_port)
  "$tmp/aws-fake" --addr "127.0.0.1:$fport" --region "$AWS_REGION" --latency "$1" --fixed-image \
    --sqs-queue jobs:jobs-dead:8 >"$tmp/fake.log" 2>&1 &
  pids+=($!)
  wait_port "$fport"
  export AWS_ENDPOINT_URL_BEDROCK_RUNTIME=http://127.0.0.1:$fport AWS_ENDPOINT_URL_SQS=http://127.0.0.1:$fport
}
model_calls() { curl -fsS "http://127.0.0.1:$fport/_fake/calls" | jq '[.[]] | add // 0'; }
# succeeded URL KEYS: how many of the users' jobs have succeeded.
succeeded() {
  local url=$1 n=0 k
  for k in ${2//,/ }; do
    n=$((n + $(curl -fsS -H "Authorization: Bearer $k" "$url/v1/jobs?status=succeeded&limit=100" | jq '.jobs | length')))
  done
  echo "$n"
}
# wait_calls N: until the model has been called at least N times.
wait_calls() { for _ in $(seq 600); do [ "$(model_calls)" -ge "$1" ] && return 0; sleep 0.05; done; fail "the model was not called $1 times"; }
make_keys() { # make_keys EASEL_ARGS...: four users' keys, comma-separated
  local keys=() u
  for u in ana ben cy dee; do keys+=("$("$tmp/easel" keys create --user "$u" "$@" 2>/dev/null | tail -1)"); done
  (IFS=,; echo "${keys[*]}")
}

echo "== 1. local: kill -9 with 200 jobs queued and running, restart"
start_fake 100ms
data=$tmp/data
local_args=(--data "$data" --model bedrock:core --workers 8 --user-concurrency 0 --user-queue 0 --user-rate 0
  --thumbnails=false --log-format text)
keys=$("$tmp/easel" keys create --user ana --data "$data" --init 2>/dev/null | tail -1)
for u in ben cy dee; do keys+=,$("$tmp/easel" keys create --user "$u" --data "$data" 2>/dev/null | tail -1); done
port=$(free_port)
"$tmp/easel" serve --addr "127.0.0.1:$port" "${local_args[@]}" >"$tmp/local1.out" 2>"$tmp/local1.log" &
serve=$!
pids+=($serve)
wait_port "$port"
url=http://127.0.0.1:$port
"$tmp/jobload" submit -url "$url" -keys "$keys" -jobs 200 >"$tmp/ids1" 2>"$tmp/submit1.log" || fail "submit: $(cat "$tmp/submit1.log")"
wait_calls 40
before=$(succeeded "$url" "$keys")
kill -9 "$serve"
wait "$serve" 2>/dev/null || true
at_kill=$(model_calls)
running=$((at_kill - before))
echo "killed after $at_kill model calls, $before jobs succeeded (so at most $running were running)"
[ "$before" -lt 200 ] || fail "every job had ended before the kill; nothing was tested"
port=$(free_port)
"$tmp/easel" serve --addr "127.0.0.1:$port" "${local_args[@]}" >"$tmp/local2.out" 2>"$tmp/local2.log" &
pids+=($!)
wait_port "$port"
url=http://127.0.0.1:$port
summary=$("$tmp/jobload" wait -url "$url" -keys "$keys" -ids "$tmp/ids1" -timeout 60s) || fail "after the restart: $summary"
total=$(model_calls)
echo "after the restart: $summary; model calls $total (at most 200 + $running)"
[ "$total" -le $((200 + running)) ] || fail "model calls $total > 200 + $running"
grep -q "handed back the jobs of a previous run" "$tmp/local2.log" || fail "the restarted server did not hand back the jobs left running"
kill -TERM "${pids[-1]}"; wait "${pids[-1]}" || fail "serve did not exit 0 on SIGTERM"
kill "${pids[0]}" 2>/dev/null || true

echo "== 2. two instances on DynamoDB, S3, SQS and Bedrock (300 ms a call)"
start_fake 300ms
export AWS_ENDPOINT_URL_S3=$EASEL_TEST_S3_ENDPOINT AWS_ENDPOINT_URL_DYNAMODB=$EASEL_TEST_DYNAMODB_ENDPOINT
suffix=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
bucket=easel-jobs-$suffix table=easel-jobs-$suffix
sig=(--aws-sigv4 "aws:amz:us-east-1:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY"
  -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
curl -fsS "${sig[@]}" -X PUT "$AWS_ENDPOINT_URL_S3/$bucket" >/dev/null || fail "create bucket"
aws_args=(--catalog "dynamodb://$table" --blob "s3://$bucket?prefix=images/&use_path_style=true" --queue sqs://jobs
  --model bedrock:core --workers 8 --user-concurrency 0 --user-queue 0 --user-rate 0 --job-lease 6s
  --thumbnails=false --drain-timeout 30s --log-format text)
"$tmp/easel" migrate --catalog "dynamodb://$table" >/dev/null || fail "migrate"
keys=$(make_keys --catalog "dynamodb://$table")
# start_instance NAME: starts an instance; sets inst_pid and inst_url.
start_instance() {
  local p
  p=$(free_port)
  "$tmp/easel" serve --addr "127.0.0.1:$p" --data "$tmp/$1" "${aws_args[@]}" >"$tmp/$1.out" 2>"$tmp/$1.log" &
  inst_pid=$!
  pids+=($inst_pid)
  wait_port "$p"
  inst_url=http://127.0.0.1:$p
}
start_instance a; a=$inst_pid urla=$inst_url
start_instance b; urlb=$inst_url

base=$(model_calls)
"$tmp/jobload" submit -url "$urla" -keys "$keys" -jobs 200 >"$tmp/ids2" 2>"$tmp/submit2.log" || fail "submit: $(cat "$tmp/submit2.log")"
wait_calls $((base + 30))
before=$(succeeded "$urlb" "$keys")
kill -9 "$a"
wait "$a" 2>/dev/null || true
at_kill=$(model_calls)
running=$((at_kill - base - before))
echo "instance a killed after $((at_kill - base)) model calls, $before jobs succeeded"
summary=$("$tmp/jobload" wait -url "$urlb" -keys "$keys" -ids "$tmp/ids2" -timeout 90s) || fail "survivor: $summary"
total=$(($(model_calls) - base))
echo "survivor: $summary; model calls $total (at most 200 + $running)"
[ "$total" -le $((200 + running)) ] || fail "model calls $total > 200 + $running"

start_instance a2; a=$inst_pid
base=$(model_calls)
"$tmp/jobload" submit -url "$urlb" -keys "$keys" -jobs 200 >"$tmp/ids3" 2>"$tmp/submit3.log" || fail "submit: $(cat "$tmp/submit3.log")"
wait_calls $((base + 30))
kill -TERM "$a"
wait "$a" || fail "the drained instance did not exit 0"
summary=$("$tmp/jobload" wait -url "$urlb" -keys "$keys" -ids "$tmp/ids3" -timeout 90s) || fail "after SIGTERM: $summary"
total=$(($(model_calls) - base))
echo "after SIGTERM: $summary; model calls $total (want exactly 200)"
[ "$total" -eq 200 ] || fail "model calls $total, want 200"
echo "e2e-jobs: ok"
