// Command ssebench is a load tool for SSE servers that serve the ssewasm
// protocol (docs/protocol.md): GET /events?topic=T streams and
// POST /publish?topic=T.
//
// It opens N clients, publishes events at a rate (or unthrottled with K
// requests in flight), checks that every client receives every event
// exactly once and byte for byte, and reports delivered events/s, loss,
// duplicates and latency percentiles; given the server's PID, also its
// RSS per connection and CPU time per delivered event.
//
//	ssebench -url http://127.0.0.1:8844 -clients 1000 -rate 50 -duration 20s -pid 1234 -json out.json
//	ssebench -url http://127.0.0.1:8844 -clients 10000 -idle -duration 5s -pid 1234
//	ssebench report -o BENCHMARKS.md results/*.json
//	ssebench freeport
//	ssebench fail -impl ours -scenario fanout -reason "did not build" -json out.json
//
// Every run is bounded in clients and time and stops by itself. Targets
// must be loopback addresses unless -allow-remote is given. Progress goes
// to stderr every second; the final table goes to stdout.
//
// Exit status: 0 when the run completed, 1 when it failed, 2 for bad
// flags, 3 when the machine cannot do the run (for example, the file
// descriptor limit is below the client count).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/ssewasm/ssewasm/shared/topic"
)

// Bounds on a run, so that a typo cannot start an endless or huge one.
const (
	maxClients   = 200_000
	maxDuration  = 10 * time.Minute
	maxEventsCap = 10_000_000
	maxSize      = 1 << 20
	maxInflight  = 1024
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(mainCode(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func mainCode(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "report":
			if err := reportMain(args[1:], stderr); err != nil {
				if errors.Is(err, flag.ErrHelp) {
					return 0
				}
				fmt.Fprintln(stderr, "ssebench report:", err)
				return 1
			}
			return 0
		case "fail":
			if err := failMain(args[1:], stderr); err != nil {
				fmt.Fprintln(stderr, "ssebench fail:", err)
				return 1
			}
			return 0
		case "freeport":
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				fmt.Fprintln(stderr, "ssebench freeport:", err)
				return 1
			}
			fmt.Fprintln(stdout, ln.Addr().(*net.TCPAddr).Port)
			ln.Close()
			return 0
		}
	}
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "ssebench:", err)
		return 2
	}
	_, err = run(ctx, cfg, stdout, stderr)
	var np *errNotPossible
	switch {
	case errors.As(err, &np):
		fmt.Fprintln(stderr, "ssebench:", err)
		return 3
	case err != nil:
		fmt.Fprintln(stderr, "ssebench:", err)
		return 1
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("ssebench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: ssebench [flags]         run a benchmark\n       ssebench report [flags] FILE.json...   write BENCHMARKS.md\n       ssebench freeport        print a free 127.0.0.1 port\n       ssebench fail -impl I -scenario S -reason R -json FILE   record a run that could not start\n\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&c.url, "url", "http://127.0.0.1:8844", "base URL of the server; the tool uses /events and /publish under it")
	fs.BoolVar(&c.allowRemote, "allow-remote", false, "allow a target that is not a loopback address (only for a server you own)")
	fs.StringVar(&c.topic, "topic", "default", "topic to subscribe and publish to")
	fs.StringVar(&c.event, "event", "", `event name to publish with (""; unnamed "message" events)`)
	fs.IntVar(&c.clients, "clients", 100, fmt.Sprintf("SSE clients to open (at most %d)", maxClients))
	fs.IntVar(&c.sources, "sources", 0, "spread clients over source addresses 127.0.0.1..127.0.0.N, about 25,000 clients each (0: as many as the client count needs)")
	fs.IntVar(&c.dialConcurrency, "dial-concurrency", 256, "clients connecting at once")
	fs.DurationVar(&c.connectTimeout, "connect-timeout", time.Minute, "time allowed for all clients to connect")
	fs.BoolVar(&c.idle, "idle", false, "publish nothing: hold the connections for -duration (for RSS per connection)")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "publishing phase (or idle hold) length, at most "+maxDuration.String())
	fs.Float64Var(&c.rate, "rate", 0, "events per second to publish; 0: unthrottled, -inflight requests at a time")
	fs.IntVar(&c.inflight, "inflight", 8, "publish requests in flight at most")
	fs.IntVar(&c.maxEvents, "max-events", 2_000_000, "stop publishing after this many events (the tool keeps each one to verify it)")
	fs.IntVar(&c.size, "size", 100, "event data size in bytes (at least the seq and timestamp prefix)")
	fs.BoolVar(&c.multiline, "multiline", false, "put a LF every 40 bytes of data, so events span several data lines")
	fs.DurationVar(&c.settle, "settle", 2*time.Second, "wait after connecting before measuring")
	fs.DurationVar(&c.drain, "drain", 2*time.Second, "after publishing, wait at most this long for events still on their way before counting losses")
	fs.DurationVar(&c.warmupTimeout, "warmup-timeout", 10*time.Second, "wait at most this long for every client to receive a warm-up event")
	fs.DurationVar(&c.reconnectDelay, "reconnect-delay", 250*time.Millisecond, "wait before reconnecting a stream the server ended")
	fs.BoolVar(&c.noReconnect, "no-reconnect", false, "never reconnect a stream the server ended: what it missed counts as lost")
	fs.DurationVar(&c.pause, "pause", 0, "each client stops reading this long once every -pause-every (a busy tab, a throttled phone)")
	fs.DurationVar(&c.pauseEvery, "pause-every", time.Second, "the period of -pause; each client starts at its own phase")
	fs.IntVar(&c.pid, "pid", 0, "server process ID: report its RSS per connection and CPU per delivered event (Linux)")
	fs.StringVar(&c.serverLog, "server-log", "", "server's log file, quoted in the result when the run fails")
	fs.StringVar(&c.impl, "impl", "", "implementation name, for the report")
	fs.StringVar(&c.scenario, "scenario", "", "scenario name, for the report")
	fs.StringVar(&c.jsonOut, "json", "", "write the result as JSON to this file")
	fs.DurationVar(&c.progress, "progress", time.Second, "progress line interval on stderr (0: none)")
	fs.BoolVar(&c.tlsInsecure, "tls-insecure", false, "with an https:// -url: accept any server certificate (a self-signed test certificate)")
	fs.StringVar(&c.tlsCA, "tls-ca", "", "with an https:// -url: PEM file of the CA (or the self-signed certificate) the server's certificate must chain to")
	fs.BoolVar(&c.http2, "http2", false, "with an https:// -url: open the streams over HTTP/2 (otherwise HTTP/1.1 over TLS)")
	fs.IntVar(&c.streamsPerConn, "streams-per-conn", 1, "with -http2: streams sharing one connection, as several EventSources of one tab do")
	fs.StringVar(&c.ownTopic, "own-topic", "", `each client also subscribes to a topic of its own, this prefix + its name (b0, b1, ...): "user/" with -sign-in for each one's private topic, "solo/" for a public one`)
	fs.BoolVar(&c.signIn, "sign-in", false, "each client first signs in as its name (POST /login: the server's -login-rate must allow it) and sends its session cookie with its stream")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q: every option is a flag (see -h)", fs.Args())
	}
	return c, c.validate()
}

// validate checks the bounds that keep every run finite.
func (c *config) validate() error {
	switch {
	case c.clients < 1 || c.clients > maxClients:
		return fmt.Errorf("-clients %d: must be 1..%d", c.clients, maxClients)
	case c.duration <= 0 || c.duration > maxDuration:
		return fmt.Errorf("-duration %v: must be positive and at most %v", c.duration, maxDuration)
	case c.connectTimeout <= 0 || c.connectTimeout > 5*time.Minute:
		return fmt.Errorf("-connect-timeout %v: must be positive and at most 5m", c.connectTimeout)
	case c.rate < 0 || c.rate > 1e6:
		return fmt.Errorf("-rate %g: must be 0 (unthrottled) to 1e6", c.rate)
	case c.inflight < 1 || c.inflight > maxInflight:
		return fmt.Errorf("-inflight %d: must be 1..%d", c.inflight, maxInflight)
	case c.maxEvents < 1 || c.maxEvents > maxEventsCap:
		return fmt.Errorf("-max-events %d: must be 1..%d", c.maxEvents, maxEventsCap)
	case c.size < 0 || c.size > maxSize:
		return fmt.Errorf("-size %d: must be 0..%d", c.size, maxSize)
	case c.dialConcurrency < 1 || c.dialConcurrency > 10_000:
		return fmt.Errorf("-dial-concurrency %d: must be 1..10000", c.dialConcurrency)
	case c.sources < 0:
		return fmt.Errorf("-sources %d: must not be negative", c.sources)
	case c.settle < 0 || c.drain < 0 || c.warmupTimeout < 0 || c.settle > time.Minute || c.drain > time.Minute || c.warmupTimeout > time.Minute:
		return fmt.Errorf("-settle, -drain and -warmup-timeout must be 0..1m")
	case c.reconnectDelay < 0 || c.reconnectDelay > time.Minute:
		return fmt.Errorf("-reconnect-delay %v: must be 0..1m", c.reconnectDelay)
	case c.pause < 0 || c.pause > 10*time.Second || c.pause > 0 && c.pauseEvery <= c.pause:
		return fmt.Errorf("-pause %v: must be 0..10s and shorter than -pause-every (%v)", c.pause, c.pauseEvery)
	case c.streamsPerConn < 1 || c.streamsPerConn > 1000:
		return fmt.Errorf("-streams-per-conn %d: must be 1..1000", c.streamsPerConn)
	case c.streamsPerConn > 1 && !c.http2:
		return fmt.Errorf("-streams-per-conn %d needs -http2: HTTP/1.1 carries one stream per connection", c.streamsPerConn)
	case c.http2 && !strings.HasPrefix(c.url, "https://"):
		return fmt.Errorf("-http2 needs an https:// -url (HTTP/2 without TLS is not offered by browsers)")
	case c.topic == "":
		return fmt.Errorf("-topic must not be empty")
	case c.ownTopic != "" && !topic.Valid(c.ownTopic+clientName(c.clients-1)):
		return fmt.Errorf("-own-topic %q: the prefix and a client's name must make a topic (ASCII letters, digits and -_.:/@~)", c.ownTopic)
	}
	return nil
}

// failMain implements `ssebench fail`: it records a run that could not
// start (the server did not build, say) so that the report shows why.
func failMain(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("ssebench fail", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	fs.StringVar(&c.impl, "impl", "", "implementation name")
	fs.StringVar(&c.scenario, "scenario", "", "scenario name")
	fs.StringVar(&c.jsonOut, "json", "", "result file to write")
	reason := fs.String("reason", "", "why the run could not start")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.jsonOut == "" || c.impl == "" || c.scenario == "" {
		return fmt.Errorf("-impl, -scenario and -json are required")
	}
	res := newResult(c)
	res.Status, res.Reason = "failed", *reason
	return writeJSON(c.jsonOut, res)
}
