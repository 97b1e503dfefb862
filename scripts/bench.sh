"$out/load.jsonl" 2>/dev/null || true"$out/load.jsonl" 2>/dev/null |#!/usr/bin/env bash
# Easel's benchmark command: Go benchmarks of the generate path, then a load test of the
# real binary over loopback HTTP, with CPU and heap profiles. Not part of scripts/test.sh
# (it takes 10-15 minutes). Everything runs on this machine; traffic stays on 127.0.0.1.
#
#   bash scripts/bench.sh                 # everything, results in a new /tmp/easel-bench.* folder
#   BENCH_QUICK=1 bash scripts/bench.sh   # a smoke run: few iterations, 5 s loads
#
# Settings (environment):
#   BENCH_OUT       results folder (default: a new mktemp -d folder)
#   BENCH_COUNT     -count of the Go benchmarks (default 6, benchstat's minimum for a confidence interval)
#   BENCH_TIME      -benchtime of the Go benchmarks (default 2s)
#   BENCH_DURATION  measured time of each load run (default 20s), after a 3 s warm-up
#   BENCH_CLIENTS   concurrent clients of the load generator (default 16)
#   BENCH_AWS_CLIENTS  client counts of the aws setup, each a run of its own (default "16 64":
#                   peak RSS at C=16 and C=64 on the emulated AWS path is a target)
#   BENCH_REPEAT    runs of each load setup (default 3)
#   BENCH_GO        0 skips the Go benchmarks (load tests only)
#   BENCH_EASEL     an easel binary to load-test instead of this checkout's (before/after comparisons
#                   with the same fake and load generator)
#   BENCH_SETUPS    load setups to run (default "local local-tmpfs aws local-thumbs async")
#   BENCH_ASYNC_RATE   jobs per second of the async setup (default 100): POST /v1/images with
#                   Prefer: respond-async at that rate for $duration, its latency reported
#
# The machine has 2 cores, shared: every figure comes with the load average, and the
# CPU time per image (of the server alone) is the figure to compare across runs.
set -euo pipefail
cd "$(dirname "$0")/.."

out=${BENCH_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/easel-bench.XXXXXX")}
mkdir -p "$out/bin"
count=${BENCH_COUNT:-6}
benchtime=${BENCH_TIME:-2s}
duration=${BENCH_DURATION:-20s}
clients=${BENCH_CLIENTS:-16}
aws_clients=${BENCH_AWS_CLIENTS:-16 64}
repeat=${BENCH_REPEAT:-3}
setups=${BENCH_SETUPS:-local local-tmpfs aws local-thumbs async}
async_rate=${BENCH_ASYNC_RATE:-100}
if [[ ${BENCH_QUICK:-} == 1 ]]; then
  count=1 benchtime=20x duration=5s repeat=1
fi
benchstat_mod=golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da

# Only loopback, and no ambient AWS settings: the emulators and the fake are the only AWS here.
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 AWS_ENDPOINT_URL_DYNAMODB \
  AWS_ENDPOINT_URL_BEDROCK_RUNTIME AWS_BEARER_TOKEN_BEDROCK || true
for v in $(env | grep -o '^EASEL_[A-Z_]*' || true); do unset "$v"; done

started=$(date +%s)
step() { printf '\n== %s (%ss, load %s)\n' "$*" "$(($(date +%s) - started))" "$(cut -d' ' -f1-3 /proc/loadavg)"; }
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$out"/data-* /dev/shm/easel-bench-"$$" 2>/dev/null || true
  if declare -F easel_services_down >/dev/null; then easel_services_down; fi
}
trap cleanup EXIT
free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
wait_port() {
  local _
  for _ in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
  echo "nothing listens on 127.0.0.1:$1" >&2
  return 1
}
benchstat() {
  if type -P benchstat >/dev/null; then command benchstat "$@"; return; fi
  timeout 300 go run "$benchstat_mod" "$@" 2>/dev/null || echo "(benchstat unavailable: see the raw figures above)"
}
# medians FILE...: per benchmark, the median and the range of the figures that matter here.
medians() {
  awk '
    /^Benchmark/ {
      for (i = 3; i < NF; i += 2) if ($(i+1) == "cpu-ms/image" || $(i+1) == "MB-alloc/image" || $(i+1) == "images/s") {
        k = $1 SUBSEP $(i+1); n[k]++; v[k, n[k]] = $i; if (!($1 in seen)) { seen[$1] = 1; order[++m] = $1 }
      }
    }
    function med(k,   a, i, j, t, c) {
      c = n[k]; for (i = 1; i <= c; i++) a[i] = v[k, i]
      for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
      return sprintf("%.2f (%.2f-%.2f)", (c % 2) ? a[(c+1)/2] : (a[c/2] + a[c/2+1]) / 2, a[1], a[c])
    }
    END {
      printf "%-36s %-24s %-24s %-24s %s\n", "benchmark", "cpu-ms/image", "MB-alloc/image", "images/s", "runs"
      for (i = 1; i <= m; i++) { b = order[i]
        printf "%-36s %-24s %-24s %-24s %d\n", b, med(b SUBSEP "cpu-ms/image"), med(b SUBSEP "MB-alloc/image"), med(b SUBSEP "images/s"), n[b SUBSEP "images/s"] }
    }' "$@"
}
profile_top() { # profile_top NAME BINARY PROFILE [pprof flags]: the top of a profile, kept as text
  local name=$1 bin=$2 prof=$3
  shift 3
  go tool pprof -top -nodecount=30 "$@" "$bin" "$prof" >"$out/$name.top.txt" 2>/dev/null || true
}

step "machine"
{
  echo "date: $(date -u +%FT%TZ)"
  echo "cores: $(nproc); memory: $(free -h | awk '/Mem:/ {print $2}')"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
  echo "uptime: $(uptime)"
  go version
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo none) $(git status --porcelain 2>/dev/null | wc -l | tr -d ' ') changed files"
} | tee "$out/machine.txt"

run_go=${BENCH_GO:-1}
: >"$out/service.txt"; : >"$out/awspath.txt"; : >"$out/serve.txt"
if [[ $run_go == 1 ]]; then
step "go benchmarks: service.Generate on SQLite + folder (count $count, benchtime $benchtime)"
go test -run '^$' -bench 'Generate' -benchtime "$benchtime" -count "$count" ./service/ | tee "$out/service.txt"
go test -run '^$' -bench 'Generate/n=1$' -benchtime "$benchtime" -count 1 \
  -cpuprofile "$out/service.cpu" -memprofile "$out/service.mem" -o "$out/bin/service.test" ./service/ >/dev/null
profile_top service-cpu "$out/bin/service.test" "$out/service.cpu"
profile_top service-alloc "$out/bin/service.test" "$out/service.mem" -sample_index=alloc_space
fi

step "build easel, the Bedrock fake and the load generator"
if [[ -n ${BENCH_EASEL:-} ]]; then cp "$BENCH_EASEL" "$out/bin/easel"; else go build -o "$out/bin/easel" ./cmd/easel; fi
go build -o "$out/bin/bedrock-fake" ./bedrock/bedrocktest/fakeserver
go build -o "$out/bin/load" ./bench/load
go build -o "$out/bin/jobload" ./internal/cmd/jobload

step "services: dynalite, versitygw, the Bedrock fake (--fixed-image, zero latency)"
# shellcheck source=scripts/services.sh
source scripts/services.sh
easel_services_up
export AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
export AWS_ACCESS_KEY_ID=$EASEL_TEST_S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$EASEL_TEST_S3_SECRET_KEY
fport=$(free_port)
"$out/bin/bedrock-fake" --addr "127.0.0.1:$fport" --fixed-image --region us-east-1 >"$out/fake.log" 2>&1 &
fake_pid=$!
pids+=("$fake_pid")
wait_port "$fport"
export AWS_ENDPOINT_URL_BEDROCK_RUNTIME=http://127.0.0.1:$fport

if [[ $run_go == 1 ]]; then
step "go benchmarks: the AWS-emulated path (fake → bedrock adapter → versitygw + dynalite)"
EASEL_BENCH_BEDROCK_ENDPOINT=$AWS_ENDPOINT_URL_BEDROCK_RUNTIME \
  go test -run '^$' -bench 'AWSPath' -benchtime "$benchtime" -count "$count" ./bench/ | tee "$out/awspath.txt"
EASEL_BENCH_BEDROCK_ENDPOINT=$AWS_ENDPOINT_URL_BEDROCK_RUNTIME \
  go test -run '^$' -bench 'AWSPath/generate$' -benchtime "$benchtime" -count 1 \
  -cpuprofile "$out/awspath.cpu" -memprofile "$out/awspath.mem" -o "$out/bin/bench.test" ./bench/ >/dev/null
profile_top awspath-cpu "$out/bin/bench.test" "$out/awspath.cpu"
profile_top awspath-alloc "$out/bin/bench.test" "$out/awspath.mem" -sample_index=alloc_space

step "go benchmark: the whole HTTP path in one process (easel serve wiring + fake + clients), profiled"
go test -run '^$' -bench 'Serve/local' -benchtime "$benchtime" -count 1 \
  -cpuprofile "$out/serve.cpu" -memprofile "$out/serve.mem" -o "$out/bin/easel.test" ./cmd/easel/ | tee "$out/serve.txt"
profile_top serve-cpu "$out/bin/easel.test" "$out/serve.cpu"
profile_top serve-alloc "$out/bin/easel.test" "$out/serve.mem" -sample_index=alloc_space
fi

# load_run SETUP RUN CLIENTS LABEL: start easel serve for SETUP, drive it with CLIENTS
# clients for $duration, stop it.
load_run() {
  local setup=$1 run=$2 c=$3 label=$4 data stores=() flags=() peers=() key port serve_pid
  data=$out/data-$setup
  case $setup in
    local | local-thumbs) stores=(--data "$data") ;;
    local-tmpfs) data=/dev/shm/easel-bench-$$; stores=(--data "$data") ;;
    aws)
      local name
      name=easel-bench-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
      # curl 7.88 signs but does not send x-amz-content-sha256, which S3 requires: send the
      # hash of the empty body.
      curl -fsS --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
        -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
        -X PUT "$EASEL_TEST_S3_ENDPOINT/$name" >/dev/null
      stores=(--data "$data" --catalog "dynamodb://$name" --blob "s3://$name?prefix=images/&use_path_style=true")
      peers=(-peer "versitygw=$EASEL_VERSITYGW_PID" -peer "dynalite=$EASEL_DYNALITE_PID")
      ;;
    *) echo "unknown setup $setup" >&2; return 1 ;;
  esac
  flags=(--thumbnails=false)
  [[ $setup == local-thumbs ]] && flags=(--thumbnails=true)
  AWS_ENDPOINT_URL_S3=$EASEL_TEST_S3_ENDPOINT AWS_ENDPOINT_URL_DYNAMODB=$EASEL_TEST_DYNAMODB_ENDPOINT \
    "$out/bin/easel" migrate "${stores[@]}" >/dev/null
  key=$(AWS_ENDPOINT_URL_S3=$EASEL_TEST_S3_ENDPOINT AWS_ENDPOINT_URL_DYNAMODB=$EASEL_TEST_DYNAMODB_ENDPOINT \
    "$out/bin/easel" keys create --user bench "${stores[@]:0:4}" 2>/dev/null | tail -1)  # --data, --catalog: keys take no --blob
  port=$(free_port)
  AWS_ENDPOINT_URL_S3=$EASEL_TEST_S3_ENDPOINT AWS_ENDPOINT_URL_DYNAMODB=$EASEL_TEST_DYNAMODB_ENDPOINT \
    "$out/bin/easel" serve --addr "127.0.0.1:$port" "${stores[@]}" --model bedrock:core \
    --user-rate=0 --user-concurrency=0 --max-inflight=256 "${flags[@]}" \
    --public-url "http://127.0.0.1:$port/images/" --log-level warn \
    >"$out/serve-$label-$run.out" 2>"$out/serve-$label-$run.log" &
  serve_pid=$!
  pids+=("$serve_pid")
  wait_port "$port"
  "$out/bin/load" -url "http://127.0.0.1:$port" -key "$key" -c "$c" -d "$duration" -warmup 3s \
    -pid "$serve_pid" -peer "bedrock-fake=$fake_pid" "${peers[@]}" -label "$label" -json "$out/load.jsonl" |
    tee "$out/load-$label-$run.txt"
  kill -TERM "$serve_pid"
  wait "$serve_pid" || echo "easel serve ($setup) exited with $?" >&2
  rm -rf "$data"
}

# async_run RUN: a local server (SQLite catalog and queue, folder, the Bedrock fake);
# jobs submitted with Prefer: respond-async at $async_rate a second for $duration by four
# users; the POSTs' latency, then every job waited for and checked.
async_run() {
  local run=$1 data=$out/data-async keys port serve_pid secs n
  secs=${duration%s}
  n=$((async_rate * secs))
  keys=$("$out/bin/easel" keys create --init --user a --data "$data" 2>/dev/null | tail -1)
  for u in b c d; do keys+=,$("$out/bin/easel" keys create --user "$u" --data "$data" 2>/dev/null | tail -1); done
  port=$(free_port)
  "$out/bin/easel" serve --addr "127.0.0.1:$port" --data "$data" --model bedrock:core --thumbnails=false \
    --user-rate=0 --user-concurrency=0 --user-queue=0 --max-inflight=64 --log-level warn \
    >"$out/serve-async-$run.out" 2>"$out/serve-async-$run.log" &
  serve_pid=$!
  pids+=("$serve_pid")
  wait_port "$port"
  "$out/bin/jobload" submit -url "http://127.0.0.1:$port" -keys "$keys" -jobs "$n" -rate "$async_rate" \
    >"$out/async-ids-$run" 2> >(tee "$out/async-$run.txt" >&2)
  "$out/bin/jobload" wait -url "http://127.0.0.1:$port" -keys "$keys" -ids "$out/async-ids-$run" -timeout 5m |
    tee -a "$out/async-$run.txt"
  kill -TERM "$serve_pid"
  wait "$serve_pid" || echo "easel serve (async) exited with $?" >&2
  rm -rf "$data"
}

for setup in $setups; do
  if [[ $setup == async ]]; then
    for run in $(seq "$repeat"); do
      step "async submissions: $async_rate jobs/s for $duration, run $run of $repeat"
      async_run "$run"
    done
    continue
  fi
  counts=$clients
  [[ $setup == aws ]] && counts=$aws_clients
  for c in $counts; do
    label=$setup
    [[ $setup == aws ]] && label=aws-c$c
    for run in $(seq "$repeat"); do
      step "load test of the easel binary: $setup, run $run of $repeat ($c clients, $duration)"
      load_run "$setup" "$run" "$c" "$label"
    done
  done
done

step "summary"
touch "$out/load.jsonl" # empty when only the async setup ran
{
  echo "### Go benchmarks: median (min-max) of -count=$count"
  medians "$out/service.txt" "$out/awspath.txt"
  echo
  echo "### The same through benchstat"
  benchstat "$out/service.txt" "$out/awspath.txt"
  echo
  echo "### In-process HTTP path (BenchmarkServe/local, fake and clients in the same process)"
  grep '^Benchmark' "$out/serve.txt" || true
  echo
  echo "### Load tests of the easel binary over loopback ($clients clients, aws at $aws_clients; $duration each)"
  jq -r '[.label, .clients, (.gen_per_s|.*10|round/10), (.p50_ms|round), (.p95_ms|round), (.p99_ms|round),
          (.errors|to_entries|map("\(.key)×\(.value)")|join(" ")|if .=="" then "none" else . end),
          (.server_cpu_ms_per_image*100|round/100), (.server_cores*100|round/100),
          (.server_hwm_mb|round), (.peers_cpu_ms_per_image|to_entries|map("\(.key) \(.value*10|round/10)")|join(", ")),
          "\(.load_start)→\(.load_end)"] | @tsv' "$out/load.jsonl" |
    { printf 'setup\tclients\tgen/s\tp50ms\tp95ms\tp99ms\terrors\tsrv-cpu-ms/img\tsrv-cores\tpeak-RSS-MiB\tothers cpu-ms/img\tload\n'; cat; } |
    column -t -s $'\t'
  echo
  echo "### Async submissions (POST /v1/images, Prefer: respond-async, $async_rate jobs/s; target p99 < 20 ms)"
  cat "$out"/async-*.txt 2>/dev/null || echo "(not run)"
  echo
  echo "### Peak RSS of the server on the emulated AWS path (VmHWM, MiB; target ≤ 125 at C=64)"
  jq -r 'select(.label | startswith("aws")) | "C=\(.clients)\tpeak RSS \(.server_hwm_mb|round) MiB\t\(.gen_per_s*10|round/10) gen/s\t\(.server_cpu_ms_per_image*100|round/100) cpu-ms/image"' "$out/load.jsonl" || true
  echo
  echo "Server capacity on 2 dedicated cores ≈ 2000 / srv-cpu-ms/img generations/s (the emulators,"
  echo "the fake and the load generator share this machine's cores and are not counted)."
  echo "Profiles (go tool pprof BINARY PROFILE) and their tops (*.top.txt) are in $out."
} | tee "$out/summary.txt"
