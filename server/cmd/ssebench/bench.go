package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ssewasm/ssewasm/server/internal/proc"
)

// config is one run's settings; see the flags in main.go.
type config struct {
	url             string
	topic           string
	event           string
	clients         int
	sources         int
	dialConcurrency int
	connectTimeout  time.Duration
	idle            bool
	duration        time.Duration
	rate            float64
	inflight        int
	maxEvents       int
	size            int
	multiline       bool
	settle          time.Duration
	drain           time.Duration
	warmupTimeout   time.Duration
	reconnectDelay  time.Duration
	noReconnect     bool          // a stream the server ends stays ended: its missed events count as lost
	pause           time.Duration // each client stops reading this long ...
	pauseEvery      time.Duration // ... once in this period (0: never pauses)
	pid             int
	serverLog       string
	impl            string
	scenario        string
	jsonOut         string
	allowRemote     bool
	progress        time.Duration // 0: no progress lines
	tlsInsecure     bool          // https: do not verify the server's certificate
	tlsCA           string        // https: PEM file of the CA that signed the server's certificate
	http2           bool          // https: streams over HTTP/2 instead of HTTP/1.1
	streamsPerConn  int           // with http2: streams that share one connection
	ownTopic        string        // each client also subscribes to this prefix + its name ("": none)
	signIn          bool          // each client signs in as its name (POST /login) and streams with its cookie
}

// urlParts is what the clients and the publisher need from -url.
type urlParts struct {
	host       string // Host header
	dialAddr   string // host:port
	eventsPath string // path and query of the stream
	publishURL string
	loginURL   string // -sign-in's
	loopback   bool
}

func splitURL(u *url.URL, topic, event string) urlParts {
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	base := strings.TrimSuffix(u.Path, "/")
	q := url.Values{"topic": {topic}}
	eventsPath := base + "/events?" + q.Encode()
	if event != "" {
		q.Set("event", event)
	}
	ip := net.ParseIP(u.Hostname())
	return urlParts{
		host:       u.Host,
		dialAddr:   net.JoinHostPort(u.Hostname(), port),
		eventsPath: eventsPath,
		publishURL: u.Scheme + "://" + u.Host + base + "/publish?" + q.Encode(),
		loginURL:   u.Scheme + "://" + u.Host + base + "/login",
		loopback:   ip != nil && ip.IsLoopback() || u.Hostname() == "localhost",
	}
}

// runner holds the state shared by the clients, the publisher and the
// progress reporter during one run.
type runner struct {
	cfg    config
	urls   urlParts
	dialer *dialer
	table  *sentTable
	start  time.Time
	log    io.Writer

	clients           []*client
	connected         atomic.Int64 // streams open now
	connectFailed     atomic.Int64 // first attempts that failed
	firstConnErr      atomic.Pointer[string]
	disconnects       atomic.Int64 // streams the server ended
	reconnects        atomic.Int64
	reconnectFailures atomic.Int64
	phase             atomic.Value // string
	pub               *publisher
}

func (r *runner) now() time.Duration { return time.Since(r.start) }

// run does one benchmark run and returns its result. A run the machine
// cannot do returns a result with Status "not possible" and an error
// wrapping errNotPossible.
func run(ctx context.Context, cfg config, stdout, stderr io.Writer) (*result, error) {
	res := newResult(cfg)
	err := runInto(ctx, cfg, stderr, res)
	var np *errNotPossible
	switch {
	case errors.As(err, &np):
		res.Status, res.Reason = "not possible", np.Error()
	case err != nil:
		res.Status, res.Reason = "failed", err.Error()
		if cfg.serverLog != "" {
			if tail := logError(cfg.serverLog); tail != "" {
				res.Reason += "; server log: " + tail
			}
		}
	default:
		res.Status = "ok"
	}
	writeTable(stdout, res)
	if cfg.jsonOut != "" {
		if werr := writeJSON(cfg.jsonOut, res); werr != nil && err == nil {
			err = werr
		}
	}
	return res, err
}

func runInto(ctx context.Context, cfg config, logw io.Writer, res *result) error {
	u, err := checkTarget(ctx, cfg.url, cfg.allowRemote, nil)
	if err != nil {
		return err
	}
	urls := splitURL(u, cfg.topic, cfg.event)
	if err := checkFDs(cfg.clients, fdHardLimit(), 0); err != nil {
		return err
	}
	if cfg.pid > 0 {
		if !proc.Alive(cfg.pid) {
			return fmt.Errorf("server pid %d is not running", cfg.pid)
		}
		if err := checkFDs(cfg.clients, 0, serverFDLimit(cfg.pid)); err != nil {
			return err
		}
	}
	srcs, err := sourceAddrs(cfg.clients, cfg.sources, ephemeralPorts(), urls.loopback)
	if err != nil {
		return err
	}
	res.Sources = len(srcs)

	// Bound the whole run, whatever happens.
	limit := cfg.connectTimeout + cfg.warmupTimeout + cfg.settle + cfg.duration + cfg.drain + 30*time.Second
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()

	r := &runner{cfg: cfg, urls: urls, start: time.Now(), log: logw}
	r.dialer = newDialer(urls, min(cfg.connectTimeout, 10*time.Second))
	if u.Scheme == "https" {
		if r.dialer.tls, err = cfg.tlsConfig(); err != nil {
			return err
		}
	}
	r.phase.Store("starting")
	capacity := cfg.maxEvents
	if cfg.idle {
		capacity = 1
	}
	r.table = newSentTable(capacity)
	r.pub = newPublisher(r, max(cfg.inflight, 1), r.dialer.tls)
	defer r.pub.close()

	if err := waitListening(ctx, urls.dialAddr, 10*time.Second, cfg.pid); err != nil {
		return err
	}
	// A test publish: fails early and clearly on a server without
	// /publish. Idle runs can do without publishing.
	canPublish := true
	if err := r.pub.post(ctx, warmPrefix+"preflight"); err != nil {
		if !cfg.idle {
			return explainPublishErr(err)
		}
		canPublish = false
		fmt.Fprintf(logw, "ssebench: %v; idle run continues without warm-up events\n", explainPublishErr(err))
	}

	var s0 procSample
	if cfg.pid > 0 {
		if s0, err = sampleProc(cfg.pid); err != nil {
			return err
		}
		res.Server.RSSBeforeKB = s0.rss / 1024
	}

	r.clients = make([]*client, cfg.clients)
	var h2 *http.Transport
	for i := range r.clients {
		r.clients[i] = &client{}
		if cfg.ownTopic != "" {
			r.clients[i].own.query = "&" + url.Values{"topic": {cfg.ownTopic + clientName(i)}}.Encode()
		}
		if cfg.http2 {
			if i%cfg.streamsPerConn == 0 { // a transport of its own: a connection of its own
				h2 = r.dialer.h2Transport(srcs, i)
				defer h2.CloseIdleConnections()
			}
			r.clients[i].h2 = h2
		}
		if len(srcs) > 0 {
			r.clients[i].src = srcs[i%len(srcs)]
		}
	}
	stopProgress := r.startProgress(cfg.progress)
	defer stopProgress()
	if cfg.signIn {
		if err := r.signInAll(ctx, res); err != nil {
			return err
		}
	}

	// Connect.
	clientCtx, closeClients := context.WithCancel(ctx)
	var clientsDone sync.WaitGroup
	defer func() { closeClients(); clientsDone.Wait() }()
	if err := r.connectAll(clientCtx, &clientsDone, res); err != nil {
		return err
	}

	// Warm up: every client must have received an event before we measure,
	// so all are subscribed. Then let the server settle.
	if canPublish {
		r.phase.Store("warm-up")
		r.warmUp(ctx, res)
	}
	r.phase.Store("settle")
	sleepCtx(ctx, cfg.settle)
	var s1 procSample
	if cfg.pid > 0 {
		if s1, err = sampleProc(cfg.pid); err != nil {
			return err
		}
		res.Server.RSSConnectedKB = s1.rss / 1024
		if n := r.connected.Load(); n > 0 {
			res.Server.RSSPerConnBytes = (s1.rss - s0.rss) / n
		}
	}

	// Measure.
	measureStart := r.now()
	if cfg.idle {
		r.phase.Store("idle")
		sleepCtx(ctx, cfg.duration)
	} else {
		r.phase.Store("publish")
		stop, stopPub := context.WithTimeout(ctx, cfg.duration)
		if cfg.rate > 0 {
			r.pub.runRate(stop, ctx, cfg.rate, cfg.inflight)
		} else {
			r.pub.runUnthrottled(stop, ctx, cfg.inflight)
		}
		stopPub()
		res.PublishSeconds = (r.now() - measureStart).Seconds()
		r.phase.Store("drain")
		r.waitDrain(ctx, cfg.drain)
	}
	res.ClientsAtEnd = r.connected.Load()
	if cfg.pid > 0 {
		s2, err := sampleProc(cfg.pid)
		if err != nil {
			return err
		}
		res.Server.RSSEndKB = s2.rss / 1024
		if n := res.ClientsAtEnd; cfg.idle && n > 0 {
			res.Server.RSSEndPerConnBytes = (s2.rss - s0.rss) / n
		}
		res.Server.CPUSeconds = (s2.cpu - s1.cpu).Seconds()
	}
	r.phase.Store("closing")
	closeClients()
	clientsDone.Wait()
	stopProgress()
	r.collect(res, measureStart)
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("run exceeded its time bound of %v and was stopped", limit)
	case ctx.Err() != nil:
		return fmt.Errorf("interrupted")
	}
	if res.Connected == 0 {
		return fmt.Errorf("no client opened its stream: %s", res.FirstConnectError)
	}
	return nil
}

// connectAll starts every client, at most dialConcurrency dialing at
// once, and waits until each has connected or failed, or connectTimeout.
func (r *runner) connectAll(ctx context.Context, wg *sync.WaitGroup, res *result) error {
	r.phase.Store("connect")
	t0 := time.Now()
	sem := make(chan struct{}, r.cfg.dialConcurrency) // dial slots
	var attempts sync.WaitGroup
	deadline, cancel := context.WithTimeout(ctx, r.cfg.connectTimeout)
	defer cancel()
	for _, c := range r.clients {
		select {
		case sem <- struct{}{}:
		case <-deadline.Done():
		}
		if deadline.Err() != nil {
			break
		}
		attempts.Add(1)
		wg.Go(func() {
			c.run(ctx, r, func(err error) {
				if err != nil {
					r.handshakeFailed(err)
				} else {
					r.connected.Add(1)
				}
				<-sem
				attempts.Done()
			})
		})
	}
	attempts.Wait()
	res.ConnectSeconds = time.Since(t0).Seconds()
	if n := r.connected.Load(); int(n) < r.cfg.clients {
		fmt.Fprintf(r.log, "ssebench: only %d of %d clients connected (%d failed; first error: %s)\n",
			n, r.cfg.clients, r.connectFailed.Load(), r.firstConnectError())
		if n == 0 {
			return fmt.Errorf("no client connected: %s", r.firstConnectError())
		}
	}
	return ctx.Err()
}

// handshakeFailed counts a client whose first connection attempt failed.
func (r *runner) handshakeFailed(err error) {
	r.connectFailed.Add(1)
	msg := err.Error()
	r.firstConnErr.CompareAndSwap(nil, &msg)
}

func (r *runner) firstConnectError() string {
	if p := r.firstConnErr.Load(); p != nil {
		return *p
	}
	return ""
}

// warmUp publishes unmeasured events until every connected client has
// received one, or warmupTimeout.
func (r *runner) warmUp(ctx context.Context, res *result) {
	t0 := time.Now()
	deadline := t0.Add(r.cfg.warmupTimeout)
	for i := 0; time.Now().Before(deadline) && ctx.Err() == nil; i++ {
		if err := r.pub.post(ctx, fmt.Sprintf("%s%d", warmPrefix, i)); err != nil {
			fmt.Fprintf(r.log, "ssebench: warm-up publish: %v\n", err)
		}
		for range 10 {
			if r.warmedCount() >= int(r.connected.Load()) {
				res.WarmupSeconds = time.Since(t0).Seconds()
				return
			}
			sleepCtx(ctx, 20*time.Millisecond)
		}
	}
	res.WarmupSeconds = time.Since(t0).Seconds()
	fmt.Fprintf(r.log, "ssebench: after %v, %d of %d connected clients had not received a warm-up event; measuring anyway\n",
		r.cfg.warmupTimeout, int(r.connected.Load())-r.warmedCount(), r.connected.Load())
}

func (r *runner) warmedCount() int {
	n := 0
	for _, c := range r.clients {
		if c.warmed.Load() {
			n++
		}
	}
	return n
}

// waitDrain waits until every client that connected has every
// acknowledged event, or d.
func (r *runner) waitDrain(ctx context.Context, d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		want := r.pub.acked.Load()
		done := true
		for _, c := range r.clients {
			if c.tally.unique.Load() < want && c.everConnected() {
				done = false
				break
			}
		}
		if done {
			return
		}
		sleepCtx(ctx, 20*time.Millisecond)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// waitListening retries a TCP connection to addr for up to d, so the
// tool can start right after the server process.
func waitListening(ctx context.Context, addr string, d time.Duration, pid int) error {
	deadline := time.Now().Add(d)
	for {
		conn, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", addr)
		if err == nil {
			conn.Close()
			return nil
		}
		if pid > 0 && !proc.Alive(pid) {
			return fmt.Errorf("server pid %d exited before listening on %s", pid, addr)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("nothing listens on %s after %v: %w (start the server first, or check -url)", addr, d, err)
		}
		sleepCtx(ctx, 50*time.Millisecond)
	}
}

// logError returns the line of a server's log that most likely says why
// it failed: the first that mentions an error, else the last one.
func logError(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	var last string
	for l := range strings.Lines(string(b)) {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		low := strings.ToLower(l)
		for _, k := range []string{"panic", "fatal", "error", "not defined", "cannot", "failed", "invalid"} {
			if strings.Contains(low, k) {
				return l
			}
		}
		last = l
	}
	return last
}
