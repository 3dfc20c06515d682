#!/usr/bin/env bash
# run.sh: the side-by-side benchmark behind `make bench`.
#
# Builds our server, the peers' adapters (this module) and the load tool
# (server/cmd/ssebench); then for each scenario and implementation starts
# the server on a free 127.0.0.1 port, runs ssebench against it with its
# PID, and stops it; finally writes BENCHMARKS.md from the JSON results.
#
# Environment:
#   BENCH_QUICK=1      fewer clients and shorter phases, one run (a check, ~1.5 min)
#   BENCH_RUNS         runs of each publishing scenario (default 3; 1 with BENCH_QUICK);
#                      the implementations take turns, and the report shows the median run
#   BENCH_IMPLS        implementations (default: ours ours-jetstream gosse r3labs launchdarkly node);
#                      node is a plain Node http broadcast server (server/bench/node, no npm deps);
#                      ours-jetstream is our server with the JetStream engine (-nats-embedded,
#                      a fresh store each run), shown beside ours and never counted as a peer
#   BENCH_SCENARIOS    scenarios (default: fanout steady ordinary hiccup idle-10k idle-100k burst
#                      idle-tls idle-h2 idle-h2x10 fanout-identity idle-identity); the TLS ones (our
#                      server only, with a self-signed certificate): idle-tls HTTP/1.1 over TLS, idle-h2
#                      one HTTP/2 stream per connection, idle-h2x10 ten streams per connection; the
#                      identity ones (issue 21, our server only, A/B back to back): ours-signed-in, each
#                      client signed in with its private topic, against ours with a public one instead
#   BENCH_DIR          work directory for binaries, logs, results (default: bin/bench)
#   BENCH_REPORT       the report to write (default: BENCHMARKS.md at the repository root)
#   BENCH_PIN          1 (default when taskset exists and there are 2+ CPUs): run every
#                      server on CPU 0 and the load tool on CPU 1, so that neither steals
#                      the other's CPU and the 1000 reading goroutines of the tool do not
#                      delay a server's writes; the same for every implementation. 0: share all CPUs.
#   BENCH_OURS_FLAGS   extra flags for our server (say -flush-window=2ms), to compare settings
#   GO                 the go command
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
GO=${GO:-go}
QUICK=${BENCH_QUICK:-0}
IMPLS=${BENCH_IMPLS:-"ours ours-jetstream gosse r3labs launchdarkly node"}
SCENARIOS=${BENCH_SCENARIOS:-"fanout steady ordinary hiccup idle-10k idle-100k burst idle-tls idle-h2 idle-h2x10 fanout-identity idle-identity"}
DIR=${BENCH_DIR:-$ROOT/bin/bench}
REPORT=${BENCH_REPORT:-$ROOT/BENCHMARKS.md}
if [ "$QUICK" = 1 ]; then RUNS=${BENCH_RUNS:-1}; else RUNS=${BENCH_RUNS:-3}; fi
# Our server would require this token on /publish; the load tool sends none.
unset SSEWASM_PUBLISH_TOKEN
BIN=$DIR/bin
WEB=$DIR/web # our server needs a directory with an app.wasm; any bytes do for benchmarks
PIN=${BENCH_PIN:-auto}
if [ "$PIN" = auto ]; then
	PIN=0
	if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then PIN=1; fi
fi
SERVER_CPU=()
TOOL_CPU=()
PLACEMENT=""
if [ "$PIN" = 1 ]; then
	SERVER_CPU=(taskset -c 0)
	TOOL_CPU=(taskset -c 1)
	PLACEMENT="every server is pinned to CPU 0 and the tool to CPU 1 (taskset), so each has one core of its own"
fi
RESULTS=$DIR/results
LOGS=$DIR/logs
mkdir -p "$BIN" "$RESULTS" "$LOGS" "$WEB"
[ -f "$WEB/app.wasm" ] || printf 'placeholder: the benchmarks never load the app\n' >"$WEB/app.wasm"
rm -f "$RESULTS"/*.json

COMMAND="make bench"
[ "$QUICK" = 1 ] && COMMAND="BENCH_QUICK=1 $COMMAND"
[ -n "${BENCH_RUNS:-}" ] && COMMAND="BENCH_RUNS=$BENCH_RUNS $COMMAND"
# A subset of scenarios or implementations is part of the command: the
# report must not read as a full run.
[ -n "${BENCH_IMPLS:-}" ] && COMMAND="BENCH_IMPLS='$BENCH_IMPLS' $COMMAND"
[ -n "${BENCH_SCENARIOS:-}" ] && COMMAND="BENCH_SCENARIOS='$BENCH_SCENARIOS' $COMMAND"
[ -n "${BENCH_OURS_FLAGS:-}" ] && COMMAND="BENCH_OURS_FLAGS='$BENCH_OURS_FLAGS' $COMMAND"
REVISION="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [ -n "$(git status --porcelain 2>/dev/null)" ]; then
	REVISION="$REVISION plus uncommitted changes in the working tree"
fi

# Scenario flags for ssebench.
scenario_flags() {
	if [ "$QUICK" = 1 ]; then
		case $1 in
		fanout) echo "-clients 200 -inflight 8 -duration 3s -settle 1s" ;;
		steady) echo "-clients 200 -rate 50 -duration 5s -settle 1s" ;;
		idle-10k) echo "-clients 10000 -idle -duration 2s -settle 2s" ;;
		idle-100k) echo "-clients 100000 -idle -duration 2s -settle 2s" ;;
		idle-tls) echo "-clients 2000 -idle -duration 2s -settle 2s -tls-insecure" ;;
		idle-h2) echo "-clients 2000 -idle -duration 2s -settle 2s -tls-insecure -http2" ;;
		idle-h2x10) echo "-clients 2000 -idle -duration 2s -settle 2s -tls-insecure -http2 -streams-per-conn 10" ;;
		burst) echo "-clients 20 -inflight 32 -duration 3s -settle 1s" ;;
		hiccup) echo "-clients 50 -inflight 8 -size 128 -no-reconnect -pause 400ms -pause-every 1s -duration 3s -settle 1s" ;;
		ordinary) echo "-clients 200 -rate 200 -duration 5s -settle 1s" ;;
		fanout-identity) echo "-clients 200 -inflight 8 -duration 3s -settle 1s -own-topic solo/" ;;
		idle-identity) echo "-clients 2000 -idle -duration 2s -settle 2s -own-topic solo/" ;;
		*) return 1 ;;
		esac
	else
		case $1 in
		fanout) echo "-clients 1000 -inflight 8 -duration 10s" ;;
		steady) echo "-clients 1000 -rate 50 -duration 15s" ;;
		idle-10k) echo "-clients 10000 -idle -duration 5s -settle 3s" ;;
		idle-100k) echo "-clients 100000 -idle -duration 5s -settle 3s" ;;
		# TLS: 5,000 streams (handshakes cost the tool CPU too), our server only.
		# Held 130 s, the only long holds of the bench (about 7 minutes for the
		# three): the handshakes leave much garbage, and the figure a user pays
		# is RSS once the runtime's forced GC (every 2 minutes) and the scavenger
		# have run ("RSS/conn after the hold" in the report).
		idle-tls) echo "-clients 5000 -idle -duration 130s -settle 3s -tls-insecure" ;;
		idle-h2) echo "-clients 5000 -idle -duration 130s -settle 3s -tls-insecure -http2" ;;
		idle-h2x10) echo "-clients 5000 -idle -duration 130s -settle 3s -tls-insecure -http2 -streams-per-conn 10" ;;
		burst) echo "-clients 50 -inflight 32 -duration 10s" ;;
		# hiccup: readers that pause 400 ms a second and never reconnect,
		# an unthrottled publisher: what an eviction loses stays lost.
		hiccup) echo "-clients 50 -inflight 8 -size 128 -no-reconnect -pause 400ms -pause-every 1s -duration 10s" ;;
		# ordinary: 1,000 clients at a rate that does not saturate: CPU per event and p99.
		ordinary) echo "-clients 1000 -rate 200 -duration 15s" ;;
		# identity (issue 21): each client also reads a topic of its own; ours-signed-in
		# signs in and reads its private user/<name> instead (identity_flags).
		fanout-identity) echo "-clients 1000 -inflight 8 -duration 10s -own-topic solo/" ;;
		idle-identity) echo "-clients 10000 -idle -duration 5s -settle 3s -own-topic solo/" ;;
		*) return 1 ;;
		esac
	fi
}

# scenario_impls SCENARIO: the implementations a scenario runs.
scenario_impls() {
	case $1 in
	*-identity) echo "ours ours-signed-in" ;; # ours against itself, with identities
	*) echo "$IMPLS" ;;
	esac
}

# identity_flags IMPL: what ours-signed-in adds to ssebench's flags (the later -own-topic wins).
identity_flags() {
	[ "$1" = ours-signed-in ] && echo "-sign-in -own-topic user/"
	return 0
}

echo "== building (logs in $LOGS)"
$GO build -o "$BIN/ssebench" ./server/cmd/ssebench
OURS_BUILD_ERR=""
if [[ " $IMPLS " == *" ours"* || " $SCENARIOS " == *-identity* ]]; then # ours and its variants run the same binary
	if ! $GO build -o "$BIN/ours" ./server 2>"$LOGS/ours-build.log"; then
		OURS_BUILD_ERR="our server did not build: $(head -c 400 "$LOGS/ours-build.log" | tr '\n' ' ')"
		echo "== $OURS_BUILD_ERR" >&2
	fi
fi
(cd server/bench && $GO build -o "$BIN/" ./adapters/...)
# A self-signed certificate for the TLS scenarios.
if [ ! -f "$DIR/cert/cert.pem" ]; then
	mkdir -p "$DIR/cert"
	(cd "$DIR/cert" && $GO run "$($GO env GOROOT)/src/crypto/tls/generate_cert.go" --host 127.0.0.1 --ecdsa-curve P256 2>/dev/null)
fi


stop_server() { # pid
	kill -TERM "$1" 2>/dev/null || return 0
	for _ in $(seq 50); do
		kill -0 "$1" 2>/dev/null || { wait "$1" 2>/dev/null || true; return 0; }
		sleep 0.2
	done
	echo "   server $1 did not stop within 10 s of SIGTERM: killing it" >&2
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

SERVER_PID=
trap '[ -n "$SERVER_PID" ] && stop_server "$SERVER_PID"' EXIT

# wait_time_wait: the previous run's 10,000 closed connections sit in
# TIME_WAIT for a minute and slow the next run's connects down to seconds:
# let them go (up to 70 s) so every implementation connects alike.
wait_time_wait() {
	command -v ss >/dev/null || return 0
	for _ in $(seq 70); do
		n=$(ss -tan state time-wait 2>/dev/null | wc -l)
		[ "$n" -lt 1000 ] && return 0
		sleep 1
	done
}

# run_one SCENARIO IMPL RUN RUNS: one server, one ssebench run.
run_one() {
	local s=$1 impl=$2 run=$3 runs=$4 flags out log rc port cmd
	flags="$(scenario_flags "$s") $(identity_flags "$impl")"
	out=$RESULTS/$s-$impl-$run.json
	log=$LOGS/$s-$impl-$run.log
	echo "== $s / $impl (run $run of $runs)"
	if [[ $impl == ours* ]] && [ -n "$OURS_BUILD_ERR" ]; then
		"$BIN/ssebench" fail -impl "$impl" -scenario "$s" -json "$out" -reason "$OURS_BUILD_ERR"
		return
	fi
	local scheme=http tlsflags=()
	case $s in idle-tls | idle-h2*)
		if [[ $impl != ours* ]]; then
			echo "   skipped: only our server serves TLS here"
			return
		fi
		scheme=https
		tlsflags=(-tls-cert "$DIR/cert/cert.pem" -tls-key "$DIR/cert/key.pem")
		;;
	esac
	case $s in idle-*) wait_time_wait ;; esac
	port=$("$BIN/ssebench" freeport)
	if [[ $impl == ours* ]]; then
		cmd=("$BIN/ours" -addr "127.0.0.1:$port" -max-clients=-1 -max-clients-per-ip=-1 -publish-rate=0 -publish-rate-global=0 -login-rate=0 -log-level=WARN -web "$WEB")
		# shellcheck disable=SC2206
		cmd+=(${BENCH_OURS_FLAGS:-}) # extra flags for our server, to compare settings
		cmd+=("${tlsflags[@]}")
		if [ "$impl" = ours-jetstream ]; then
			rm -rf "$DIR/nats"
			cmd+=(-nats-embedded "$DIR/nats")
		fi
	elif [ "$impl" = node ]; then
		cmd=(node "$ROOT/server/bench/node/server.js" -addr "127.0.0.1:$port")
	else
		cmd=("$BIN/$impl" -addr "127.0.0.1:$port")
	fi
	"${SERVER_CPU[@]}" "${cmd[@]}" >"$log" 2>&1 &
	SERVER_PID=$!
	rc=0
	# Progress lines go to the terminal and to a file; the table to a file.
	# shellcheck disable=SC2086
	timeout 300 "${TOOL_CPU[@]}" "$BIN/ssebench" -url "$scheme://127.0.0.1:$port" -pid "$SERVER_PID" -server-log "$log" \
		-impl "$impl" -scenario "$s" -json "$out" $flags \
		>"$LOGS/$s-$impl-$run.table" 2> >(tee "$LOGS/$s-$impl-$run.progress" | sed 's/^/   /' >&2) || rc=$?
	stop_server "$SERVER_PID"
	SERVER_PID=
	case $rc in
	0 | 3) ;;
	*)
		echo "   failed (exit $rc): $(grep '^reason' "$LOGS/$s-$impl-$run.table" | head -1)" >&2
		[ -f "$out" ] || "$BIN/ssebench" fail -impl "$impl" -scenario "$s" -json "$out" -reason "ssebench exited with status $rc"
		;;
	esac
}

for s in $SCENARIOS; do
	scenario_flags "$s" >/dev/null || { echo "unknown scenario $s (known: fanout steady ordinary hiccup idle-10k idle-100k burst idle-tls idle-h2 idle-h2x10 fanout-identity idle-identity)" >&2; exit 2; }
done
for impl in $IMPLS; do
	if [ "$impl" = node ]; then
		command -v node >/dev/null || { echo "node is not installed: the node implementation needs it (make deps)" >&2; exit 2; }
	elif [[ $impl != ours && $impl != ours-jetstream ]] && [ ! -x "$BIN/$impl" ]; then
		echo "unknown implementation $impl (known: ours ours-jetstream gosse r3labs launchdarkly node)" >&2
		exit 2
	fi
done
for s in $SCENARIOS; do
	runs=$RUNS
	case $s in idle-*) runs=1 ;; esac # memory is steady; one run is enough
	for run in $(seq "$runs"); do
		for impl in $(scenario_impls "$s"); do
			run_one "$s" "$impl" "$run" "$runs"
		done
	done
done

"$BIN/ssebench" report -o "$REPORT" -command "$COMMAND" -revision "$REVISION" -placement "$PLACEMENT" "$RESULTS"/*.json
echo "== wrote $REPORT (results in $RESULTS)"
