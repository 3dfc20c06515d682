#!/usr/bin/env bash
# run.sh: the side-by-side benchmark behind `make bench`.
#
# Builds our server, the peers' adapters (this module) and the load tool
# (server/cmd/ssebench); then for each scenario and implementation starts
# the server on a free 127.0.0.1 port, runs ssebench against it with its
# PID, and stops it; finally writes BENCHMARKS.md from the JSON results.
#
# Environment:
#   BENCH_QUICK=1      fewer clients and shorter phases (a check, ~3 min)
#   BENCH_IMPLS        implementations (default: ours gosse r3labs launchdarkly)
#   BENCH_SCENARIOS    scenarios (default: fanout steady idle-10k idle-100k burst)
#   BENCH_DIR          work directory for binaries, logs, results (default: bin/bench)
#   BENCH_REPORT       the report to write (default: BENCHMARKS.md at the repository root)
#   GO                 the go command
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
GO=${GO:-go}
QUICK=${BENCH_QUICK:-0}
IMPLS=${BENCH_IMPLS:-"ours gosse r3labs launchdarkly"}
SCENARIOS=${BENCH_SCENARIOS:-"fanout steady idle-10k idle-100k burst"}
DIR=${BENCH_DIR:-$ROOT/bin/bench}
REPORT=${BENCH_REPORT:-$ROOT/BENCHMARKS.md}
BIN=$DIR/bin
RESULTS=$DIR/results
LOGS=$DIR/logs
mkdir -p "$BIN" "$RESULTS" "$LOGS"
rm -f "$RESULTS"/*.json

if [ "$QUICK" = 1 ]; then
	COMMAND="BENCH_QUICK=1 make bench"
else
	COMMAND="make bench"
fi

# Scenario flags for ssebench.
scenario_flags() {
	if [ "$QUICK" = 1 ]; then
		case $1 in
		fanout) echo "-clients 200 -inflight 8 -duration 3s -settle 1s" ;;
		steady) echo "-clients 200 -rate 50 -duration 5s -settle 1s" ;;
		idle-10k) echo "-clients 10000 -idle -duration 2s -settle 2s" ;;
		idle-100k) echo "-clients 100000 -idle -duration 2s -settle 2s" ;;
		burst) echo "-clients 20 -inflight 32 -duration 3s -settle 1s" ;;
		*) return 1 ;;
		esac
	else
		case $1 in
		fanout) echo "-clients 1000 -inflight 8 -duration 10s" ;;
		steady) echo "-clients 1000 -rate 50 -duration 20s" ;;
		idle-10k) echo "-clients 10000 -idle -duration 5s -settle 3s" ;;
		idle-100k) echo "-clients 100000 -idle -duration 5s -settle 3s" ;;
		burst) echo "-clients 50 -inflight 32 -duration 10s" ;;
		*) return 1 ;;
		esac
	fi
}

echo "== building (logs in $LOGS)"
$GO build -o "$BIN/ssebench" ./server/cmd/ssebench
OURS_BUILD_ERR=""
if [[ " $IMPLS " == *" ours "* ]]; then
	if ! $GO build -o "$BIN/ours" ./server 2>"$LOGS/ours-build.log"; then
		OURS_BUILD_ERR="our server did not build: $(head -c 400 "$LOGS/ours-build.log" | tr '\n' ' ')"
		echo "== $OURS_BUILD_ERR" >&2
	fi
fi
(cd server/bench && $GO build -o "$BIN/" ./adapters/...)


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

for s in $SCENARIOS; do
	flags=$(scenario_flags "$s") || { echo "unknown scenario $s (known: fanout steady idle-10k idle-100k burst)" >&2; exit 2; }
	for impl in $IMPLS; do
		out=$RESULTS/$s-$impl.json
		log=$LOGS/$s-$impl.log
		echo "== $s / $impl"
		if [ "$impl" = ours ] && [ -n "$OURS_BUILD_ERR" ]; then
			"$BIN/ssebench" fail -impl "$impl" -scenario "$s" -json "$out" -reason "$OURS_BUILD_ERR"
			continue
		fi
		if [ "$impl" != ours ] && [ ! -x "$BIN/$impl" ]; then
			echo "unknown implementation $impl (known: ours gosse r3labs launchdarkly)" >&2
			exit 2
		fi
		port=$("$BIN/ssebench" freeport)
		if [ "$impl" = ours ]; then
			cmd=("$BIN/ours" -addr "127.0.0.1:$port" -max-clients=-1 -max-clients-per-ip=-1 -log-level=WARN)
		else
			cmd=("$BIN/$impl" -addr "127.0.0.1:$port")
		fi
		"${cmd[@]}" >"$log" 2>&1 &
		SERVER_PID=$!
		rc=0
		# shellcheck disable=SC2086
		timeout 300 "$BIN/ssebench" -url "http://127.0.0.1:$port" -pid "$SERVER_PID" -server-log "$log" \
			-impl "$impl" -scenario "$s" -json "$out" $flags >"$LOGS/$s-$impl.table" 2>"$LOGS/$s-$impl.progress" || rc=$?
		stop_server "$SERVER_PID"
		SERVER_PID=
		case $rc in
		0) tail -n +3 "$LOGS/$s-$impl.table" | sed 's/^/   /' | head -12 ;;
		3) echo "   $(tail -1 "$LOGS/$s-$impl.progress")" ;;
		*) echo "   failed (exit $rc): $(tail -1 "$LOGS/$s-$impl.progress")" >&2
		   [ -f "$out" ] || "$BIN/ssebench" fail -impl "$impl" -scenario "$s" -json "$out" -reason "ssebench exited with status $rc" ;;
		esac
	done
done

"$BIN/ssebench" report -o "$REPORT" -command "$COMMAND" "$RESULTS"/*.json
echo "== wrote $REPORT (results in $RESULTS)"
