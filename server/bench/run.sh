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
#   BENCH_IMPLS        implementations (default: ours ours-jetstream gosse r3labs launchdarkly node null);
#                      node is a plain Node http broadcast server (server/bench/node, no npm deps);
#                      null (server/bench/adapters/null) is the load tool's floor, the least a server
#                      can do (one pre-encoded frame written to every stream in a loop), shown beside
#                      the others so that "ours minus null" is ours' own cost, and never counted as a peer;
#                      ours-jetstream is our server with the JetStream engine (-nats-embedded,
#                      a fresh store each run), shown beside ours and never counted as a peer
#   BENCH_SCENARIOS    scenarios (default: fanout steady ordinary hiccup idle-10k idle-100k burst
#                      idle-tls idle-h2 idle-h2x10 fanout-identity idle-identity h2load h2attack); the
#                      TLS ones (our server only, with a self-signed certificate): idle-tls HTTP/1.1 over
#                      TLS, idle-h2 one HTTP/2 stream per connection, idle-h2x10 ten streams per
#                      connection; the identity ones (issue 21, our server only, A/B back to back):
#                      ours-signed-in, each client signed in with its private topic, against ours with a
#                      public one instead; and our HTTP/2 server against Go's (the binary with
#                      -http2-server=net/http): h2load, nghttp2's h2load on /healthz and on app.wasm in
#                      brotli (make deps-h2load), and h2attack, the attack patterns of server/h2
#                      (TestAttacks), each alone for BENCH_ATTACK_DURATION (default 20s; 5s with BENCH_QUICK)
#   BENCH_H2_RUNS      runs of each h2load load, taking turns (default 2)
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
IMPLS=${BENCH_IMPLS:-"ours ours-jetstream gosse r3labs launchdarkly node null"}
SCENARIOS=${BENCH_SCENARIOS:-"fanout steady ordinary hiccup idle-10k idle-100k burst idle-tls idle-h2 idle-h2x10 fanout-identity idle-identity h2load h2attack"}
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
rm -f "$RESULTS"/*.json "$RESULTS"/*.md "$RESULTS"/*.tsv

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

# is_h2 SCENARIO: one of ours against Go's HTTP/2 server, not an ssebench scenario.
is_h2() { [ "$1" = h2load ] || [ "$1" = h2attack ]; }

for s in $SCENARIOS; do
	is_h2 "$s" && continue
	scenario_flags "$s" >/dev/null || { echo "unknown scenario $s (known: fanout steady ordinary hiccup idle-10k idle-100k burst idle-tls idle-h2 idle-h2x10 fanout-identity idle-identity h2load h2attack)" >&2; exit 2; }
done
for impl in $IMPLS; do
	if [ "$impl" = node ]; then
		command -v node >/dev/null || { echo "node is not installed: the node implementation needs it (make deps)" >&2; exit 2; }
	elif [[ $impl != ours && $impl != ours-jetstream ]] && [ ! -x "$BIN/$impl" ]; then
		echo "unknown implementation $impl (known: ours ours-jetstream gosse r3labs launchdarkly node null)" >&2
		exit 2
	fi
done
for s in $SCENARIOS; do
	is_h2 "$s" && continue
	runs=$RUNS
	case $s in idle-*) runs=1 ;; esac # memory is steady; one run is enough
	for run in $(seq "$runs"); do
		for impl in $(scenario_impls "$s"); do
			run_one "$s" "$impl" "$run" "$runs"
		done
	done
done

# HTTP/2: ours against Go's, the same binary with -http2-server=net/http.
H2LOAD=${H2LOAD:-h2load}
H2_RUNS=${BENCH_H2_RUNS:-2}
H2WEB=$DIR/web-h2 # the real app: app.wasm, and app.wasm.br for the bulk load
CLK_TCK=$(getconf CLK_TCK)

# server_cpu PID: the CPU time the process has used, in clock ticks.
server_cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# h2load_row LOAD IMPL RUN CPU_TICKS OUTPUT: a row of h2load.tsv from h2load's output.
h2load_row() {
	awk -v load="$1" -v impl="$2" -v run="$3" -v cpu="$4" -v tck="$CLK_TCK" '
		/^finished in/ { rps = $4; sub(/,$/, "", rps) }
		/^traffic:/ { total = $3; sub(/^\(/, "", total); sub(/\)$/, "", total); hdr = $6; sub(/^\(/, "", hdr); sub(/\)$/, "", hdr) }
		/^requests:/ { ok = $8; failed = $10 }
		END { printf "%s\t%s\t%s\t%s\t%s\t%s\t%.2f\t%s\t%s\n", load, impl, run, rps, total, hdr, cpu / tck, ok, failed }' <<<"$5"
}

run_h2load() {
	local n_wasm=1000
	[ "$QUICK" = 1 ] && n_wasm=200
	if ! command -v "$H2LOAD" >/dev/null; then
		echo "h2load is missing: make deps-h2load (apt-get install nghttp2-client)" >&2
		exit 2
	fi
	if [ -n "$OURS_BUILD_ERR" ]; then
		echo "== h2load: skipped, $OURS_BUILD_ERR" >&2
		return
	fi
	echo "== h2load: building the app (app.wasm and its brotli copy, logs in $LOGS/h2-wasm.log)"
	mkdir -p "$H2WEB"
	make -C "$ROOT" --no-print-directory wasm GO="$GO" WASM_OUT="$H2WEB/app.wasm" >"$LOGS/h2-wasm.log" 2>&1 ||
		{ echo "building app.wasm failed: see $LOGS/h2-wasm.log" >&2; exit 2; }
	local tsv=$RESULTS/h2load.tsv run impl port flags load out c0 c1
	for run in $(seq "$H2_RUNS"); do
		for impl in ours go; do
			echo "== h2load / $impl (run $run of $H2_RUNS)"
			port=$("$BIN/ssebench" freeport)
			flags=()
			[ "$impl" = go ] && flags=(-http2-server=net/http)
			"${SERVER_CPU[@]}" "$BIN/ours" -addr "127.0.0.1:$port" -max-clients=-1 -max-clients-per-ip=-1 -log-level=WARN -web "$H2WEB" \
				-tls-cert "$DIR/cert/cert.pem" -tls-key "$DIR/cert/key.pem" "${flags[@]}" >"$LOGS/h2load-$impl-$run.log" 2>&1 &
			SERVER_PID=$!
			for _ in $(seq 100); do
				"$H2LOAD" -n 1 "https://127.0.0.1:$port/healthz" 2>/dev/null | grep -q '1 succeeded' && break
				sleep 0.1
			done
			for load in healthz wasm-br; do
				c0=$(server_cpu "$SERVER_PID")
				case $load in
				healthz) out=$("${TOOL_CPU[@]}" "$H2LOAD" -n 50000 -c 50 -m 10 "https://127.0.0.1:$port/healthz" 2>&1) || true ;;
				wasm-br) out=$("${TOOL_CPU[@]}" "$H2LOAD" -n "$n_wasm" -c 10 -H 'accept-encoding: br' "https://127.0.0.1:$port/web/app.wasm" 2>&1) || true ;;
				esac
				c1=$(server_cpu "$SERVER_PID")
				printf '%s\n' "$out" >"$LOGS/h2load-$load-$impl-$run.txt"
				h2load_row "$load" "$impl" "$run" "$((c1 - c0))" "$out" >>"$tsv"
			done
			stop_server "$SERVER_PID"
			SERVER_PID=
		done
	done
	h2load_table "$tsv" "$n_wasm" >"$RESULTS/h2load.md"
}

# h2load_table TSV N_WASM: the Markdown of the h2load loads.
h2load_table() {
	cat <<-EOF
		## HTTP/2: ours against Go's, with h2load

		nghttp2's h2load (Debian's nghttp2-client, an HTTP/2 client that is not Go's) loads the binary over TLS (a self-signed certificate): ours (\`-http2-server=h2\`, the default) and Go's (\`-http2-server=net/http\`), $H2_RUNS runs each, taking turns, each server fresh${PLACEMENT:+; $PLACEMENT}. /healthz: \`h2load -n 50000 -c 50 -m 10\`; app.wasm in brotli (the real app: 1.4 MB, 7 MB raw): \`h2load -n $2 -c 10 -H 'accept-encoding: br'\`. Bytes are what h2load received, frames and TLS-decrypted; CPU is the server's for the whole load.

		| load | server | run | requests/s | MB received | of them headers, KB | server CPU s | succeeded | failed |
		|---|---|--:|--:|--:|--:|--:|--:|--:|
	EOF
	awk -F'\t' '{ printf "| %s | %s | %s | %.0f | %.2f | %.1f | %s | %s | %s |\n", $1, $2, $3, $4, $5 / 1048576, $6 / 1024, $7, $8, $9 }' "$1"
	echo
	echo "Ours ÷ Go's, each run against Go's run next to it:"
	echo
	echo "| load | requests/s | bytes received | server CPU |"
	echo "|---|---|---|---|"
	awk -F'\t' '
		{ v[$1, $3, $2, "rps"] = $4; v[$1, $3, $2, "bytes"] = $5; v[$1, $3, $2, "cpu"] = $7; loads[$1] = 1; if ($3 + 0 > n) n = $3 + 0 }
		function r(a, b) { return b > 0 ? sprintf("%.2f×", a / b) : "n/a" }
		END {
			for (l in loads) {
				rps = ""; by = ""; cpu = ""
				for (i = 1; i <= n; i++) {
					sep = i > 1 ? ", " : ""
					rps = rps sep r(v[l, i, "ours", "rps"], v[l, i, "go", "rps"])
					by = by sep r(v[l, i, "ours", "bytes"], v[l, i, "go", "bytes"])
					cpu = cpu sep r(v[l, i, "ours", "cpu"], v[l, i, "go", "cpu"])
				}
				printf "| %s | %s | %s | %s |\n", l, rps, by, cpu
			}
		}' "$1" | sort
	echo
}

# run_h2attack: TestAttacks (server/h2), each pattern alone for
# BENCH_ATTACK_DURATION against each server; it writes the table.
run_h2attack() {
	local d=${BENCH_ATTACK_DURATION:-20s}
	[ "$QUICK" = 1 ] && d=${BENCH_ATTACK_DURATION:-5s}
	echo "== h2attack: the attack patterns, $d each against each server (log in $LOGS/h2attack.log)"
	local rc=0
	$GO test ./server/h2 -run '^TestAttacks$' -count=1 -timeout 120m -v \
		-attack.duration="$d" -attack.report="$RESULTS/h2attack-table.md" >"$LOGS/h2attack.log" 2>&1 || rc=$?
	{
		echo "## HTTP/2: attack patterns, ours against Go's"
		echo
		echo "\`go test ./server/h2 -run '^TestAttacks\$' -attack.duration=$d\`: each pattern runs alone against our server, then against Go's (net/http's), each served as the binary serves it with TLS, in a fresh process."
		[ "$rc" != 0 ] && printf '\n**TestAttacks failed** (exit %s): %s\n' "$rc" "$(grep -E '^\s+attack_test.go:[0-9]+: [^o]' "$LOGS/h2attack.log" | grep -v ': ours:\|: go  :' | head -5 | tr '\n' ' ')"
		echo
		if [ -f "$RESULTS/h2attack-table.md" ]; then cat "$RESULTS/h2attack-table.md"; else echo "No table: see $LOGS/h2attack.log."; fi
		echo
	} >"$RESULTS/h2attack.md"
}

for s in $SCENARIOS; do
	case $s in
	h2load) run_h2load ;;
	h2attack) run_h2attack ;;
	esac
done

NOTES=$RESULTS/notes.md
cat "$RESULTS"/h2load.md "$RESULTS"/h2attack.md >"$NOTES" 2>/dev/null || true
shopt -s nullglob
JSONS=("$RESULTS"/*.json)
shopt -u nullglob
"$BIN/ssebench" report -o "$REPORT" -command "$COMMAND" -revision "$REVISION" -placement "$PLACEMENT" -notes "$NOTES" "${JSONS[@]}"
echo "== wrote $REPORT (results in $RESULTS)"
