# shellcheck shell=bash
# Test services for Easel's over-the-wire tests, to be sourced by the test script:
#
#   source scripts/services.sh
#   easel_services_up || exit 1
#   trap easel_services_down EXIT
#
# easel_services_up installs (only when missing) and starts, on free loopback ports:
#   - dynalite, a DynamoDB emulator (npm, pinned in scripts/dynalite/package-lock.json);
#   - versitygw, an S3 gateway over a posix folder (go install, cached in GOBIN/GOPATH/bin),
#     with an access key and secret generated for this run;
#   - the repository's AWS wire fakes as one process (bedrock/bedrocktest/fakeserver, built
#     from this checkout): SQS and EventBridge for tests that need them shared between
#     processes (no SQS emulator speaks the JSON protocol the current SDK uses; see
#     docs/jobs.md), signed with the same key pair as versitygw, region us-east-1.
# It exports EASEL_TEST_DYNAMODB_ENDPOINT, EASEL_TEST_S3_ENDPOINT, EASEL_TEST_S3_ACCESS_KEY,
# EASEL_TEST_S3_SECRET_KEY, EASEL_TEST_SQS_ENDPOINT and EASEL_TEST_EVENTBRIDGE_ENDPOINT.
# easel_services_down stops them all and removes their temp folder; it is safe to call
# more than once. Needs bash, node, npm and go; nothing else.
# Both functions work whether or not the caller runs under set -euo pipefail.
# Set EASEL_SERVICES_KEEP_LOGS=1 to keep the logs folder after easel_services_down.

EASEL_SERVICES_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
EASEL_VERSITYGW_VERSION=v1.8.0
# The PIDs and the temp folder live in shell variables, not exported: a child shell that
# sources this file starts its own services instead of stopping ours. Sourcing the file
# again in the same shell keeps them.
EASEL_SERVICES_DIR=${EASEL_SERVICES_DIR-}
EASEL_DYNALITE_PID=${EASEL_DYNALITE_PID-}
EASEL_VERSITYGW_PID=${EASEL_VERSITYGW_PID-}
EASEL_AWSFAKE_PID=${EASEL_AWSFAKE_PID-}
export -n EASEL_SERVICES_DIR EASEL_DYNALITE_PID EASEL_VERSITYGW_PID EASEL_AWSFAKE_PID

# _easel_log prints a progress line to stderr.
_easel_log() { printf 'services: %s\n' "$*" >&2; }

# _easel_free_port prints a loopback TCP port that was free a moment ago.
_easel_free_port() {
	node -e 'const s = require("net").createServer();
s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

# _easel_random_hex N prints N random bytes from /dev/urandom as lowercase hex.
_easel_random_hex() {
	od -An -v -N"$1" -tx1 /dev/urandom | tr -d ' \n'
}

# _easel_listening PORT reports whether something accepts connections on 127.0.0.1:PORT.
_easel_listening() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# _easel_wait_ready NAME PID PORT LOG waits (30 s at most) until PID listens on PORT.
# Returns 2 if the process died first (perhaps the port was taken), 1 on timeout.
_easel_wait_ready() {
	local name=$1 pid=$2 port=$3 log=$4 i
	for ((i = 0; i < 300; i++)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			_easel_log "$name exited before it listened on port $port; log tail:"
			tail -n 20 "$log" >&2 || true
			return 2
		fi
		if _easel_listening "$port"; then
			# Something listens; make sure it is ours and not a process that took the port.
			sleep 0.2
			if kill -0 "$pid" 2>/dev/null; then
				return 0
			fi
		fi
		sleep 0.1
	done
	_easel_log "$name did not listen on 127.0.0.1:$port within 30 s; log tail:"
	tail -n 20 "$log" >&2 || true
	return 1
}

# _easel_stop PID stops a process we started: TERM, up to 10 s, then KILL.
_easel_stop() {
	local pid=$1 i
	[[ -n $pid ]] || return 0
	if ! kill -0 "$pid" 2>/dev/null; then
		wait "$pid" 2>/dev/null || true
		return 0
	fi
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		_easel_log "process $pid ignored SIGTERM for 10 s; killing it"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	# wait reaps our child and returns its status (143 after SIGTERM): ignore it, so
	# that callers running under set -e carry on to stop the other service.
	wait "$pid" 2>/dev/null || true
	return 0
}

# _easel_dynalite_install runs npm ci when node_modules is missing or older than the lock.
_easel_dynalite_install() {
	local dir=$EASEL_SERVICES_ROOT/scripts/dynalite
	local stamp=$dir/node_modules/.package-lock.json
	if [[ -f $dir/node_modules/dynalite/cli.js && -f $stamp && ! $dir/package-lock.json -nt $stamp ]]; then
		return 0
	fi
	_easel_log "installing dynalite (npm ci in scripts/dynalite)"
	(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) >&2 || {
		_easel_log "npm ci in $dir failed"
		return 1
	}
}

# _easel_versitygw_bin prints where go install puts versitygw.
_easel_versitygw_bin() {
	local bin
	bin=$(go env GOBIN) || return 1
	if [[ -z $bin ]]; then
		bin=$(go env GOPATH) || return 1
		bin=${bin%%:*}/bin
	fi
	printf '%s/versitygw\n' "$bin"
}

# _easel_versitygw_install installs versitygw when it is missing (about 2.5 min cold).
_easel_versitygw_install() {
	local bin=$1
	[[ -x $bin ]] && return 0
	_easel_log "installing versitygw $EASEL_VERSITYGW_VERSION (go install; a few minutes the first time)"
	(cd "$EASEL_SERVICES_DIR" && go install "github.com/versity/versitygw/cmd/versitygw@$EASEL_VERSITYGW_VERSION") >&2 || {
		_easel_log "go install versitygw failed"
		return 1
	}
	[[ -x $bin ]] || { _easel_log "versitygw is not at $bin after go install"; return 1; }
}

# _easel_start_dynalite starts dynalite on a free port (3 tries, in case a port is taken).
_easel_start_dynalite() {
	local cli=$EASEL_SERVICES_ROOT/scripts/dynalite/node_modules/dynalite/cli.js
	local log=$EASEL_SERVICES_DIR/dynalite.log port try rc
	for ((try = 0; try < 3; try++)); do
		port=$(_easel_free_port) || return 1
		node "$cli" --host 127.0.0.1 --port "$port" \
			--createTableMs 0 --deleteTableMs 0 --updateTableMs 0 >"$log" 2>&1 </dev/null &
		EASEL_DYNALITE_PID=$!
		rc=0
		_easel_wait_ready dynalite "$EASEL_DYNALITE_PID" "$port" "$log" || rc=$?
		if ((rc == 0)); then
			export EASEL_TEST_DYNAMODB_ENDPOINT=http://127.0.0.1:$port
			return 0
		fi
		_easel_stop "$EASEL_DYNALITE_PID"
		EASEL_DYNALITE_PID=
		((rc == 2)) || return 1
	done
	return 1
}

# _easel_start_versitygw starts versitygw with fresh credentials and an empty folder.
_easel_start_versitygw() {
	local bin=$1 log=$EASEL_SERVICES_DIR/versitygw.log data=$EASEL_SERVICES_DIR/s3
	local access secret port try rc
	mkdir -p "$data" || return 1
	access=$(_easel_random_hex 10) || return 1
	secret=$(_easel_random_hex 20) || return 1
	access=${access^^}
	for ((try = 0; try < 3; try++)); do
		port=$(_easel_free_port) || return 1
		# Credentials go through the environment (ROOT_ACCESS_KEY, ROOT_SECRET_KEY), not argv,
		# so they do not show in ps.
		ROOT_ACCESS_KEY=$access ROOT_SECRET_KEY=$secret \
			"$bin" --port "127.0.0.1:$port" posix "$data" >"$log" 2>&1 </dev/null &
		EASEL_VERSITYGW_PID=$!
		rc=0
		_easel_wait_ready versitygw "$EASEL_VERSITYGW_PID" "$port" "$log" || rc=$?
		if ((rc == 0)); then
			export EASEL_TEST_S3_ENDPOINT=http://127.0.0.1:$port
			export EASEL_TEST_S3_ACCESS_KEY=$access
			export EASEL_TEST_S3_SECRET_KEY=$secret
			return 0
		fi
		_easel_stop "$EASEL_VERSITYGW_PID"
		EASEL_VERSITYGW_PID=
		((rc == 2)) || return 1
	done
	return 1
}

# _easel_start_awsfake builds the AWS fakes' command and starts it with versitygw's key
# pair (so awstest.Credentials signs for both).
_easel_start_awsfake() {
	local bin=$EASEL_SERVICES_DIR/aws-fake log=$EASEL_SERVICES_DIR/aws-fake.log port try rc
	(cd "$EASEL_SERVICES_ROOT" && go build -o "$bin" ./bedrock/bedrocktest/fakeserver) >&2 || {
		_easel_log "go build of the AWS fakes failed"
		return 1
	}
	for ((try = 0; try < 3; try++)); do
		port=$(_easel_free_port) || return 1
		AWS_ACCESS_KEY_ID=$EASEL_TEST_S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$EASEL_TEST_S3_SECRET_KEY \
			"$bin" --addr "127.0.0.1:$port" --region us-east-1 >"$log" 2>&1 </dev/null &
		EASEL_AWSFAKE_PID=$!
		rc=0
		_easel_wait_ready "AWS fakes" "$EASEL_AWSFAKE_PID" "$port" "$log" || rc=$?
		if ((rc == 0)); then
			export EASEL_TEST_SQS_ENDPOINT=http://127.0.0.1:$port
			export EASEL_TEST_EVENTBRIDGE_ENDPOINT=http://127.0.0.1:$port
			return 0
		fi
		_easel_stop "$EASEL_AWSFAKE_PID"
		EASEL_AWSFAKE_PID=
		((rc == 2)) || return 1
	done
	return 1
}

# easel_services_up installs what is missing and starts dynalite, versitygw and the AWS fakes.
easel_services_up() {
	local bin
	if [[ -n $EASEL_DYNALITE_PID || -n $EASEL_VERSITYGW_PID || -n $EASEL_AWSFAKE_PID ]]; then
		_easel_log "already running (dynalite $EASEL_DYNALITE_PID, versitygw $EASEL_VERSITYGW_PID, AWS fakes $EASEL_AWSFAKE_PID)"
		return 0
	fi
	local tool
	for tool in node npm go od; do
		command -v "$tool" >/dev/null || { _easel_log "$tool is not on PATH"; return 1; }
	done
	EASEL_SERVICES_DIR=$(mktemp -d "${TMPDIR:-/tmp}/easel-services.XXXXXX") || return 1
	bin=$(_easel_versitygw_bin) || { easel_services_down; return 1; }
	if ! _easel_dynalite_install || ! _easel_versitygw_install "$bin" ||
		! _easel_start_dynalite || ! _easel_start_versitygw "$bin" || ! _easel_start_awsfake; then
		_easel_log "could not start the test services"
		easel_services_down
		return 1
	fi
	_easel_log "dynalite at $EASEL_TEST_DYNAMODB_ENDPOINT (pid $EASEL_DYNALITE_PID)," \
		"versitygw at $EASEL_TEST_S3_ENDPOINT (pid $EASEL_VERSITYGW_PID)," \
		"SQS and EventBridge fakes at $EASEL_TEST_SQS_ENDPOINT (pid $EASEL_AWSFAKE_PID), logs in $EASEL_SERVICES_DIR"
}

# easel_services_down stops the services and removes their temp folder. Safe to call twice.
easel_services_down() {
	_easel_stop "$EASEL_DYNALITE_PID"
	_easel_stop "$EASEL_VERSITYGW_PID"
	_easel_stop "$EASEL_AWSFAKE_PID"
	EASEL_DYNALITE_PID=
	EASEL_VERSITYGW_PID=
	EASEL_AWSFAKE_PID=
	if [[ -n $EASEL_SERVICES_DIR && -d $EASEL_SERVICES_DIR ]]; then
		if [[ ${EASEL_SERVICES_KEEP_LOGS:-} == 1 ]]; then
			rm -rf "$EASEL_SERVICES_DIR/s3"
			_easel_log "logs kept in $EASEL_SERVICES_DIR"
		else
			rm -rf "$EASEL_SERVICES_DIR"
		fi
	fi
	EASEL_SERVICES_DIR=
	unset EASEL_TEST_DYNAMODB_ENDPOINT EASEL_TEST_S3_ENDPOINT EASEL_TEST_S3_ACCESS_KEY EASEL_TEST_S3_SECRET_KEY \
		EASEL_TEST_SQS_ENDPOINT EASEL_TEST_EVENTBRIDGE_ENDPOINT
	return 0
}
