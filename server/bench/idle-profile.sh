#!/usr/bin/env bash
# idle-profile.sh MODE [server flags...]: the memory of 5,000 idle streams
# on our server over TLS, with profiles (docs/design.md, "Streams over
# TLS"). MODE: tls (HTTP/1.1 over TLS), h2 (one HTTP/2 stream per
# connection) or h2x10 (ten streams per connection). Builds the pprof
# build of the server and ssebench, holds the streams for 40 s, and
# writes to bin/profile-MODE/: the heap profile and goroutine dump at
# +25 s, RSS before and after /debug/gc (three GCs and FreeOSMemory),
# the stacks' size, and ssebench's table. Run from the repository root
# after `make bench` has made bin/bench/cert and bin/bench/web once.
set -euo pipefail
mode=${1:?usage: idle-profile.sh tls|h2|h2x10 [server flags]}
shift
GO=${GO:-go}
D=bin/bench
out=bin/profile-$mode
[ -f "$D/cert/cert.pem" ] && [ -d "$D/web" ] || { echo "run make bench once first: it makes $D/cert and $D/web" >&2; exit 2; }
rm -rf "$out" && mkdir -p "$out"
$GO build -tags pprof -o "$out/server" ./server
$GO build -o "$out/ssebench" ./server/cmd/ssebench
port=$("$out/ssebench" freeport)
pp=$("$out/ssebench" freeport)
SSEWASM_PPROF=127.0.0.1:$pp taskset -c 0 "$out/server" -addr "127.0.0.1:$port" -max-clients=-1 -max-clients-per-ip=-1 \
	-publish-rate=0 -publish-rate-global=0 -log-level=WARN -web "$D/web" \
	-tls-cert "$D/cert/cert.pem" -tls-key "$D/cert/key.pem" "$@" >"$out/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
sleep 1
case $mode in
h2) flags=(-http2) ;;
h2x10) flags=(-http2 -streams-per-conn 10) ;;
tls) flags=() ;;
*) echo "unknown mode $mode" >&2; exit 2 ;;
esac
taskset -c 1 "$out/ssebench" -url "https://127.0.0.1:$port" -tls-insecure "${flags[@]}" -clients 5000 -idle -duration 40s -settle 2s -pid $pid >"$out/table" 2>"$out/progress" &
bench=$!
sleep 25
curl -s "http://127.0.0.1:$pp/debug/stacks" >"$out/stacks-before-gc"
grep VmRSS /proc/$pid/status >"$out/rss-before-gc"
curl -s "http://127.0.0.1:$pp/debug/pprof/heap" >"$out/heap.pb.gz"
curl -s "http://127.0.0.1:$pp/debug/pprof/goroutine?debug=1" >"$out/goroutines.txt"
curl -s "http://127.0.0.1:$pp/debug/gc"
sleep 1
grep VmRSS /proc/$pid/status >"$out/rss-after-gc"
curl -s "http://127.0.0.1:$pp/debug/stacks" >"$out/stacks-after-gc"
wait $bench
grep -H VmRSS "$out"/rss-*
cat "$out/stacks-after-gc"
grep -E "RSS" "$out/table"
$GO tool pprof -sample_index=inuse_space -top "$out/heap.pb.gz" 2>/dev/null | head -20
head -3 "$out/goroutines.txt"
