//go:build linux

package h2_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssewasm/ssewasm/internal/testcert"
	"github.com/ssewasm/ssewasm/server/h2"
	"github.com/ssewasm/ssewasm/server/sse"
)

// The attack suite: HTTP/2 clients that attack (attack_patterns_test.go),
// each run against our server and against Go's (net/http's bundled
// HTTP/2), as the ssewasm binary serves them over TLS. Each server runs
// in a child process (this test binary, started again), so that its
// memory, goroutines and CPU are its own; the attackers and a healthy
// client run here. For each pattern the test asserts, of ours: that the
// healthy client (a GET /healthz four times a second, and an event
// stream that gets an event each interval) was served throughout; that
// the heap grew by a bounded amount and came back once the attackers
// left, and so did the goroutines; and that the CPU it spent stayed
// within a generous ratio of Go's server's under the same attack.
//
// go test runs each pattern for 1 s (both servers side by side, about
// 30 s in all); make bench runs it longer, one server at a time in a
// fresh process per pattern, and writes the table of peak and final
// RSS, goroutines, CPU seconds and the healthy client's service:
//
//	go test ./server/h2 -run '^TestAttacks$' -count=1 -attack.duration=20s -attack.report=h2attack.md
var (
	attackDuration = flag.Duration("attack.duration", 0, "how long TestAttacks runs each pattern; 0: 1 s, both servers at once (the make test suite); 5 s or more: one server at a time, each in a fresh process, for the table")
	attackReport   = flag.String("attack.report", "", "write TestAttacks' table, in Markdown, to this file")
)

// The child's environment: which server it runs, and how often it
// publishes to the healthy client's stream.
const (
	envAttackTarget = "SSEWASM_H2ATTACK_TARGET" // "ours" or "go"
	envAttackEvents = "SSEWASM_H2ATTACK_EVENTS" // a duration
	envAttackSndbuf = "SSEWASM_H2ATTACK_SNDBUF" // bytes of socket send buffer; "0": the system's (it grows to megabytes)
)

// The targets: ours as the binary runs it by default, Go's as it runs
// with -http2-server=net/http.
var targets = []string{"ours", "go"}

func init() { attackTarget = serveAttackTarget }

// serveAttackTarget is the child's main: it serves until its stdin
// closes.
func serveAttackTarget() (int, bool) {
	which := os.Getenv(envAttackTarget)
	if which == "" {
		return 0, false
	}
	if err := runAttackTarget(which, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "h2 attack target:", err)
		return 1, true
	}
	return 0, true
}

// targetStat is what the child reports of itself.
type targetStat struct {
	Goroutines int   `json:"goroutines"`
	Heap       int64 `json:"heap"`     // bytes of heap in use (objects and their spans' free room)
	CPU        int64 `json:"cpu"`      // user and system CPU time since the start, in ns
	RSS        int64 `json:"rss"`      // resident bytes
	PeakRSS    int64 `json:"peak_rss"` // the most resident bytes so far (VmHWM)
	Queued     int64 `json:"queued"`   // bytes our server's connections hold for their sockets (h2.Queued); 0 for Go's
	Conns      int   `json:"conns"`    // connections our server serves (h2.Conns); 0 for Go's
}

// runAttackTarget serves, as the ssewasm binary does with -tls-cert, on
// 127.0.0.1: handshakes by an h2.Listener, then HTTP/2 by our server or
// (which is "go") net/http's, with the binary's http.Server settings.
// It prints the address, then answers the lines the parent sends on in:
// "stat" (a targetStat in JSON), "gc" (collects and returns memory to
// the system). It stops when in closes.
func runAttackTarget(which string, in io.Reader, out io.Writer) error {
	every, err := time.ParseDuration(os.Getenv(envAttackEvents))
	if err != nil {
		return fmt.Errorf("%s: %w", envAttackEvents, err)
	}
	b, err := sse.New(sse.Options{Heartbeat: time.Hour})
	if err != nil {
		return err
	}
	hs := &http.Server{
		Handler:           attackMux(b),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		// As the binary configures Go's server (http2Config).
		HTTP2: &http.HTTP2Config{MaxReadFrameSize: 16 << 10, MaxDecoderHeaderTableSize: 1 << 10, MaxEncoderHeaderTableSize: 1 << 10},
	}
	var srv *h2.Server
	switch which {
	case "ours":
		srv = new(h2.Server)
		srv.ConfigureServer(hs)
	case "go":
	default:
		return fmt.Errorf("unknown target %q: ours or go", which)
	}
	sndbuf, _ := strconv.Atoi(os.Getenv(envAttackSndbuf))
	addr, stop, err := listenH2(srv, hs, sndbuf)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	ticked := make(chan struct{})
	go func() {
		defer close(ticked)
		t := time.NewTicker(every)
		defer t.Stop()
		for n := 0; ; n++ {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				b.Publish(ctx, "health", sse.Event{Data: strconv.Itoa(n)}) //nolint:errcheck // the parent sees a missing event
			}
		}
	}()
	fmt.Fprintf(out, "listening %s\n", addr)
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		switch sc.Text() {
		case "stat":
			st := readTargetStat()
			if srv != nil {
				st.Queued, st.Conns = int64(h2.Queued(srv)), h2.Conns(srv)
			}
			j, _ := json.Marshal(st)
			fmt.Fprintf(out, "stat %s\n", j)
		case "gc":
			runtime.GC()
			debug.FreeOSMemory()
			fmt.Fprintln(out, "gc")
		}
	}
	cancel()
	<-ticked
	stop()
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	return b.Shutdown(sctx)
}

// listenH2 serves hs on 127.0.0.1 over TLS (a new certificate) as the
// binary does: an h2.Listener does the handshakes and hands those that
// chose h2 to srv, or, if srv is nil, to hs's own HTTP/2 server. sndbuf,
// if not 0, sets each connection's socket send buffer (smallSendBuffers).
// stop closes hs and srv's connections.
func listenH2(srv *h2.Server, hs *http.Server, sndbuf int) (addr string, stop func(), err error) {
	cert, err := testcert.New()
	if err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	if sndbuf > 0 {
		ln = smallSendBuffers{ln.(*net.TCPListener), sndbuf}
	}
	l := h2.NewListener(ln, h2.ListenerConfig{
		TLSConfig:  &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}},
		Server:     srv,
		HTTPServer: hs,
	})
	served := make(chan struct{})
	go func() {
		defer close(served)
		hs.Serve(l) //nolint:errcheck // ends with hs.Close
	}()
	return ln.Addr().String(), func() {
		hs.Close()
		<-served
		if srv != nil {
			srv.Close()
		}
	}, nil
}

// smallSendBuffers gives each connection a send buffer of n bytes: what
// a client does not read then piles up in the server within a second,
// not after the many megabytes the kernel would buffer first.
type smallSendBuffers struct {
	*net.TCPListener
	n int
}

func (l smallSendBuffers) Accept() (net.Conn, error) {
	c, err := l.AcceptTCP()
	if err != nil {
		return nil, err
	}
	c.SetWriteBuffer(l.n) //nolint:errcheck // a larger buffer only slows the test down
	return c, nil
}

// attackMux is what the targets serve: the paths the attackers and the
// healthy client ask for.
func attackMux(b *sse.Broker) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.Handle("/events", b)
	// /linger: a handler that outlives its stream's reset a little.
	mux.HandleFunc("/linger", func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
		time.Sleep(50 * time.Millisecond)
	})
	// /big: 1 MiB, for readers that never open their window.
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 16<<10)
		for range 64 {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, n)
	})
	return mux
}

func readTargetStat() targetStat {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/unused:bytes"}}
	metrics.Read(s)
	st := targetStat{Goroutines: runtime.NumGoroutine(), Heap: int64(s[0].Value.Uint64() + s[1].Value.Uint64())}
	st.CPU = processCPU()
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for line := range strings.Lines(string(b)) {
			name, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			switch name {
			case "VmRSS":
				st.RSS = kb << 10
			case "VmHWM":
				st.PeakRSS = kb << 10
			}
		}
	}
	return st
}

// target is a child process serving one of the targets.
type target struct {
	name  string
	addr  string
	cmd   *exec.Cmd
	in    io.WriteCloser
	lines chan string // the child's answers
	mu    sync.Mutex  // one question at a time
	errs  strings.Builder
	once  sync.Once
}

// startTarget starts a child serving name, publishing an event each
// events, with socket send buffers of sndbuf bytes (0: the system's);
// cleanup stops it.
func startTarget(t *testing.T, name string, events time.Duration, sndbuf int) *target {
	t.Helper()
	tg := &target{name: name, lines: make(chan string, 1)}
	tg.cmd = exec.Command(os.Args[0], "-test.run=^$")
	tg.cmd.Env = append(os.Environ(), envAttackTarget+"="+name, envAttackEvents+"="+events.String(), envAttackSndbuf+"="+strconv.Itoa(sndbuf))
	tg.cmd.Stderr = &tg.errs
	var err error
	if tg.in, err = tg.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := tg.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := tg.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tg.stop)
	go func() {
		defer close(tg.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			tg.lines <- sc.Text()
		}
	}()
	line, err := tg.answer(30 * time.Second)
	if err != nil {
		t.Fatalf("%s server: %v", name, err)
	}
	addr, ok := strings.CutPrefix(line, "listening ")
	if !ok {
		t.Fatalf("%s server said %q, want its address", name, line)
	}
	tg.addr = addr
	return tg
}

// answer waits for the child's next line.
func (tg *target) answer(d time.Duration) (string, error) {
	select {
	case line, ok := <-tg.lines:
		if !ok {
			tg.cmd.Wait() //nolint:errcheck // its stderr says why
			return "", fmt.Errorf("the child ended: %s", tg.errs.String())
		}
		return line, nil
	case <-time.After(d):
		return "", fmt.Errorf("no answer within %v", d)
	}
}

func (tg *target) ask(q string) (string, error) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	if _, err := fmt.Fprintln(tg.in, q); err != nil {
		return "", err
	}
	return tg.answer(10 * time.Second)
}

func (tg *target) stat() (targetStat, error) {
	line, err := tg.ask("stat")
	if err != nil {
		return targetStat{}, err
	}
	var st targetStat
	j, ok := strings.CutPrefix(line, "stat ")
	if !ok {
		return st, fmt.Errorf("the child said %q to stat", line)
	}
	return st, json.Unmarshal([]byte(j), &st)
}

func (tg *target) gc() error {
	_, err := tg.ask("gc")
	return err
}

// stop closes the child's stdin, which ends it, and waits (killing it
// after 10 s).
func (tg *target) stop() {
	tg.once.Do(func() {
		tg.in.Close()
		t := time.AfterFunc(10*time.Second, func() { tg.cmd.Process.Kill() }) //nolint:errcheck // it may have ended
		defer t.Stop()
		for range tg.lines {
		}
		tg.cmd.Wait() //nolint:errcheck // its exit code does not matter once measured
	})
}

// attackResult is one pattern's run against one target.
type attackResult struct {
	pattern, target        string
	base, peak, end, final targetStat // peak: of heap and goroutines, sampled
	cpu                    time.Duration
	conns                  int64 // attacking connections made
	sent                   int64 // bytes they sent
	served                 bool
	health                 string // the healthy client's account
}

func TestAttacks(t *testing.T) {
	if testing.Short() {
		t.Skip("attacks take 30 s: skipped under -short")
	}
	d, long := *attackDuration, *attackDuration >= 5*time.Second
	// Short runs: an event four times a second, and small socket send
	// buffers, so that a second is enough to see what piles up.
	events, settle, sndbuf := 250*time.Millisecond, 100*time.Millisecond, 16<<10
	if d == 0 {
		d = time.Second
	}
	if long {
		events, settle, sndbuf = time.Second, 3*time.Second, 0
	}
	// Short runs share one child per target (figures are growths over
	// a baseline taken before each pattern); long runs start a fresh one
	// per pattern, for its RSS.
	shared := map[string]*target{}
	if !long {
		var wg sync.WaitGroup
		var mu sync.Mutex
		for _, name := range targets {
			wg.Go(func() {
				tg := startTarget(t, name, events, sndbuf)
				mu.Lock()
				shared[name] = tg
				mu.Unlock()
			})
		}
		wg.Wait()
	}
	var results []attackResult
	for _, p := range attacks {
		t.Run(p.name, func(t *testing.T) {
			conns := p.conns
			if long && p.longConns > 0 {
				conns = p.longConns
			}
			rs := make([]attackResult, len(targets))
			run := func(i int) {
				tg := shared[targets[i]]
				if tg == nil {
					tg = startTarget(t, targets[i], events, sndbuf)
					defer tg.stop()
				}
				rs[i] = runAttack(t, p, conns, tg, d, settle, events)
			}
			if long { // one at a time: each has the machine to itself
				for i := range targets {
					run(i)
				}
			} else {
				var wg sync.WaitGroup
				for i := range targets {
					wg.Go(func() { run(i) })
				}
				wg.Wait()
			}
			if t.Failed() { // a target could not be measured
				return
			}
			results = append(results, rs...)
			ours, theirs := rs[0], rs[1]
			for _, r := range rs {
				t.Logf("%-4s: queued %s peak; heap +%s peak, +%s after; goroutines %d → %d peak, %d after; CPU %.2f s; %d connections sent %s; RSS peak %s, after %s; healthy: %s",
					r.target, mb(r.peak.Queued), mb(r.peak.Heap-r.base.Heap), mb(r.final.Heap-r.base.Heap), r.base.Goroutines, r.peak.Goroutines, r.final.Goroutines,
					r.cpu.Seconds(), r.conns, mb(r.sent), mb(r.end.PeakRSS), mb(r.final.RSS), r.health)
			}
			checkAttack(t, conns, ours, theirs)
		})
	}
	if *attackReport != "" {
		if err := os.WriteFile(*attackReport, []byte(attackTable(results, d, long)), 0o644); err != nil {
			t.Error(err)
		}
	}
}

// Bounds on ours under attack. The heap may grow while an attack runs
// (what the attackers send is bounded per connection, not in all), and
// must come back once they leave.
const (
	// maxQueuedPerConn bounds what one connection holds for its socket
	// (h2.Queued): out holds 64 KB of handlers' frames and a frame more,
	// and 10,000 small frames the client made us send (about 170 KB);
	// flush's write as much again.
	maxQueuedPerConn = 512 << 10
	// The heap may grow while a pattern runs by maxAttackHeap, and by
	// maxConnHeap for each connection at once: its TLS state, buffers
	// and a header block begun, what Go's server holds too.
	maxAttackHeap  = 32 << 20
	maxConnHeap    = 48 << 10
	maxLeftHeap    = 8 << 20 // heap growth left after it, collected
	maxLeftRoutine = 10      // goroutines left after it
	// CPU: at most cpuRatio times Go's server's, plus cpuSlack (a short
	// run's CPU is a few hundred ms, and noisy).
	cpuRatio = 3
	cpuSlack = 500 * time.Millisecond
)

func checkAttack(t *testing.T, conns int, ours, theirs attackResult) {
	t.Helper()
	if !ours.served {
		t.Errorf("the healthy client was not served: %s", ours.health)
	}
	if q := ours.peak.Queued; q > maxQueuedPerConn*int64(max(conns, 1)) {
		t.Errorf("%s queued for the sockets of %d connections, want at most %s each", mb(q), conns, mb(maxQueuedPerConn))
	}
	if g, limit := ours.peak.Heap-ours.base.Heap, int64(maxAttackHeap+conns*maxConnHeap); g > limit {
		t.Errorf("the heap grew by %s during the attack of %d connections, want at most %s (Go's server: %s)", mb(g), conns, mb(limit), mb(theirs.peak.Heap-theirs.base.Heap))
	}
	if g := ours.final.Heap - ours.base.Heap; g > maxLeftHeap {
		t.Errorf("the heap kept %s after the attack, want at most %s", mb(g), mb(maxLeftHeap))
	}
	if n := ours.final.Conns - ours.base.Conns; n > 0 {
		t.Errorf("%d connections left after the attack", n)
	}
	if n := ours.final.Goroutines - ours.base.Goroutines; n > maxLeftRoutine {
		t.Errorf("%d goroutines left after the attack (%d before), want at most %d more", ours.final.Goroutines, ours.base.Goroutines, maxLeftRoutine)
	}
	// The CPU an attacker takes from ours, in all and for each byte it
	// sends, against Go's: a server that stops reading a flood spends
	// little, one that reads it cheaply spends little a byte.
	if limit := cpuRatio*theirs.cpu + cpuSlack; ours.cpu > limit {
		t.Errorf("CPU %.2f s; Go's server %.2f s: want at most %d× Go's + %v", ours.cpu.Seconds(), theirs.cpu.Seconds(), cpuRatio, cpuSlack)
	}
	if theirs.sent > 0 {
		perByte := time.Duration(float64(theirs.cpu) * float64(ours.sent) / float64(theirs.sent)) // Go's CPU for what ours received
		if limit := cpuRatio*perByte + cpuSlack; ours.cpu > limit {
			t.Errorf("CPU %.2f s for %s received; Go's server %.2f s for %s: want at most %d× Go's a byte + %v",
				ours.cpu.Seconds(), mb(ours.sent), theirs.cpu.Seconds(), mb(theirs.sent), cpuRatio, cpuSlack)
		}
	}
}

// runAttack runs p with conns connections against tg for d, measuring
// tg before, during and after.
func runAttack(t *testing.T, p attack, conns int, tg *target, d, settle, events time.Duration) attackResult {
	t.Helper()
	r := attackResult{pattern: p.name, target: tg.name}
	hc := startHealthy(tg.addr, events)
	defer hc.stop()
	if err := hc.ready(10 * time.Second); err != nil {
		t.Errorf("%s: the healthy client could not start: %v", tg.name, err)
		return r
	}
	fail := func(err error) attackResult {
		t.Errorf("%s: %v", tg.name, err)
		return r
	}
	if err := tg.gc(); err != nil {
		return fail(err)
	}
	var err error
	if r.base, err = tg.stat(); err != nil {
		return fail(err)
	}
	from := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()

	// Sample the heap and the goroutines while the attack runs.
	r.peak = r.base
	sampled := make(chan error, 1)
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				sampled <- nil
				return
			case <-tick.C:
			}
			st, err := tg.stat()
			if err != nil {
				sampled <- err
				return
			}
			r.peak.Heap = max(r.peak.Heap, st.Heap)
			r.peak.Goroutines = max(r.peak.Goroutines, st.Goroutines)
			r.peak.Queued = max(r.peak.Queued, st.Queued)
		}
	}()
	r.conns, r.sent = attackWith(ctx, p, conns, tg.addr)
	if err := <-sampled; err != nil {
		return fail(err)
	}
	if r.end, err = tg.stat(); err != nil {
		return fail(err)
	}
	r.cpu = time.Duration(r.end.CPU - r.base.CPU)
	r.peak.Heap = max(r.peak.Heap, r.end.Heap)
	r.peak.Goroutines = max(r.peak.Goroutines, r.end.Goroutines)
	r.peak.Queued = max(r.peak.Queued, r.end.Queued)

	// After: the attackers have closed their connections. Wait settle,
	// then until the server has let go of them (a connection told to go
	// away closes a second after), 5 s at most, collecting.
	time.Sleep(settle)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if err := tg.gc(); err != nil {
			return fail(err)
		}
		if r.final, err = tg.stat(); err != nil {
			return fail(err)
		}
		if r.final.Conns <= r.base.Conns && r.final.Goroutines <= r.base.Goroutines+maxLeftRoutine/2 || time.Now().After(deadline) {
			break
		}
	}
	r.served, r.health = hc.report(from, time.Now(), max(3*events, 2*time.Second))
	return r
}

// healthy is a client that only asks for what it should get: GET
// /healthz four times a second (every fourth on a new connection), and
// an event stream of the topic the target publishes to.
type healthy struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	first  chan struct{} // closed at the first event

	mu       sync.Mutex
	events   []time.Time
	failures []string
	oks      int
	ended    []time.Time // when the event stream broke
}

func startHealthy(addr string, events time.Duration) *healthy {
	ctx, cancel := context.WithCancel(context.Background())
	h := &healthy{cancel: cancel, first: make(chan struct{})}
	client := func() *http.Client {
		return &http.Client{Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
			ForceAttemptHTTP2: true,
		}}
	}
	kept := client()
	h.wg.Go(func() {
		defer kept.CloseIdleConnections()
		var once sync.Once
		for ctx.Err() == nil {
			err := h.stream(ctx, kept, "https://"+addr+"/events?topic=health", func() { once.Do(func() { close(h.first) }) })
			if ctx.Err() != nil {
				return
			}
			h.mu.Lock()
			h.ended = append(h.ended, time.Now())
			h.failures = append(h.failures, fmt.Sprintf("%s event stream: %v", time.Now().Format("15:04:05.000"), err))
			h.mu.Unlock()
			time.Sleep(100 * time.Millisecond)
		}
	})
	h.wg.Go(func() {
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			c := kept
			if i%4 == 3 {
				c = client()
			}
			start := time.Now()
			err := get(ctx, c, "https://"+addr+"/healthz", 3*time.Second)
			if c != kept {
				c.CloseIdleConnections()
			}
			h.mu.Lock()
			switch {
			case ctx.Err() != nil:
			case err != nil:
				h.failures = append(h.failures, fmt.Sprintf("%s /healthz: %v", start.Format("15:04:05.000"), err))
			default:
				h.oks++
			}
			h.mu.Unlock()
		}
	})
	return h
}

// get asks for url and reads its body, within d.
func get(ctx context.Context, c *http.Client, url string, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != 200 || resp.ProtoMajor != 2 {
		return fmt.Errorf("%s %s", resp.Proto, resp.Status)
	}
	return nil
}

// stream reads the event stream at url, noting when each event came.
func (h *healthy) stream(ctx context.Context, c *http.Client, url string, first func()) error {
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return errors.New(resp.Status)
	}
	r := bufio.NewReader(resp.Body)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		if strings.HasPrefix(line, "data:") {
			h.mu.Lock()
			h.events = append(h.events, time.Now())
			h.mu.Unlock()
			first()
		}
	}
}

// ready waits for the first event.
func (h *healthy) ready(d time.Duration) error {
	select {
	case <-h.first:
		return nil
	case <-time.After(d):
		h.mu.Lock()
		defer h.mu.Unlock()
		return fmt.Errorf("no event within %v: %v", d, h.failures)
	}
}

// report says whether the client was served between from and to: every
// /healthz answered, and no gap between events longer than gap.
func (h *healthy) report(from, to time.Time, gap time.Duration) (bool, string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var longest time.Duration
	last := from
	n := 0
	for _, e := range append(h.events, to) {
		if e.Before(from) || e.After(to) {
			continue
		}
		longest = max(longest, e.Sub(last))
		last = e
		n++
	}
	served := len(h.failures) == 0 && longest <= gap
	s := fmt.Sprintf("%d /healthz answered, %d events, longest wait %v", h.oks, n-1, longest.Round(10*time.Millisecond))
	if len(h.failures) > 0 {
		s += fmt.Sprintf("; %d failures, the first: %s", len(h.failures), h.failures[0])
	}
	return served, s
}

func (h *healthy) stop() {
	h.cancel()
	h.wg.Wait()
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/(1<<20)) }

// attackTable is the Markdown table of results.
func attackTable(rs []attackResult, d time.Duration, long bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Each pattern ran %v against each server", d)
	if long {
		b.WriteString(", one server at a time, each in a fresh process")
	} else {
		b.WriteString(", both servers at once, each in one process for every pattern (RSS figures carry over)")
	}
	b.WriteString(". RSS and goroutines are the server process's; CPU is its CPU time while the pattern ran; healthy: a client's GET /healthz four times a second and its event stream were served throughout.\n\n")
	b.WriteString("| pattern | server | connections | MB received | peak RSS | final RSS | goroutines before / peak / final | CPU s | healthy client served |\n|---|---|--:|--:|--:|--:|--:|--:|---|\n")
	for _, r := range rs {
		served := "yes"
		if !r.served {
			served = "**no**: " + r.health
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %.1f | %s | %s | %d / %d / %d | %.2f | %s |\n", r.pattern, r.target, r.conns,
			float64(r.sent)/(1<<20), mb(r.end.PeakRSS), mb(r.final.RSS), r.base.Goroutines, r.peak.Goroutines, r.final.Goroutines, r.cpu.Seconds(), served)
	}
	b.WriteString("\nThe patterns:\n\n")
	for _, p := range attacks {
		fmt.Fprintf(&b, "- %s: %s\n", p.name, p.what)
	}
	return b.String()
}
