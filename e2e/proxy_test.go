package e2e

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ssewasm/ssewasm/internal/testlog"
	"github.com/ssewasm/ssewasm/server/sse"
)

// The proxy tests run the nginx and HAProxy configurations of
// docs/scale-out.md, read from the file itself, in front of three
// instances on NATS, with 500 clients (raw HTTP clients from ten loopback
// addresses, 50 each: under the default -max-clients-per-ip 100 only if
// the instances count each address on its own, through the proxy).

const (
	scaleOutDoc    = "docs/scale-out.md"
	proxyClients   = 500
	clientAddrs    = 10 // 127.0.0.2 … 127.0.0.11
	proxyTopic     = "crowd"
	docProxyAddr   = "127.0.0.1:8080"
	docNATSURL     = "nats://127.0.0.1:4222"
	docInstanceFmt = "127.0.0.1:884%d" // 1, 2, 3
)

func TestProxyNginx(t *testing.T) {
	testProxy(t, "nginx", startNginx, false)
}

func TestProxyHAProxy(t *testing.T) {
	testProxy(t, "haproxy", startHAProxy, true)
}

// docBlocks returns the fenced code blocks of the scale-out doc whose info
// string is lang.
func docBlocks(t *testing.T, lang string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), scaleOutDoc))
	if err != nil {
		t.Fatal(err)
	}
	var blocks []string
	var cur *strings.Builder
	for line := range strings.Lines(string(b)) {
		switch {
		case cur == nil && strings.TrimSpace(line) == "```"+lang:
			cur = &strings.Builder{}
		case cur != nil && strings.TrimSpace(line) == "```":
			blocks = append(blocks, cur.String())
			cur = nil
		case cur != nil:
			cur.WriteString(line)
		}
	}
	return blocks
}

// docConfig returns the doc's one block of lang with the placeholder
// addresses replaced by the instances' and the proxy's.
func docConfig(t *testing.T, lang string, instances []*server, proxyAddr string) string {
	t.Helper()
	blocks := docBlocks(t, lang)
	if len(blocks) != 1 {
		t.Fatalf("%s has %d ```%s blocks, want exactly one", scaleOutDoc, len(blocks), lang)
	}
	conf := blocks[0]
	placeholders := []string{docProxyAddr}
	repl := []string{docProxyAddr, proxyAddr}
	for i, s := range instances {
		p := fmt.Sprintf(docInstanceFmt, i+1)
		placeholders = append(placeholders, p)
		repl = append(repl, p, s.Addr)
	}
	for _, p := range placeholders {
		if !strings.Contains(conf, p) {
			t.Fatalf("the %s block of %s does not mention %s: keep the placeholder addresses (see the doc)", lang, scaleOutDoc, p)
		}
	}
	return strings.NewReplacer(repl...).Replace(conf)
}

// docInstanceFlags returns the flags the doc gives the instances behind a
// proxy, without -addr and -nats, which the test sets.
func docInstanceFlags(t *testing.T) []string {
	t.Helper()
	var lines []string
	for _, b := range docBlocks(t, "sh") {
		for line := range strings.Lines(b) {
			if strings.HasPrefix(line, "./bin/server ") && strings.Contains(line, "-trusted-proxy") {
				lines = append(lines, strings.TrimSpace(line))
			}
		}
	}
	if len(lines) != 3 {
		t.Fatalf("%s shows %d ./bin/server lines with -trusted-proxy, want 3", scaleOutDoc, len(lines))
	}
	var flags []string
	args := strings.Fields(lines[0])[1:]
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "-addr", "-nats":
			i++
		default:
			flags = append(flags, args[i])
		}
	}
	return flags
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// needBinary fails the test when a proxy is not installed.
func needBinary(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		for _, dir := range []string{"/usr/sbin", "/usr/local/sbin"} {
			if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
				return filepath.Join(dir, name)
			}
		}
		t.Fatalf("this test needs %s: run `make test` (it installs it) or `apt-get install -y %s`", name, pkg)
	}
	return p
}

// startProcess runs a proxy in the foreground; the test's cleanup stops
// it. It returns once addr accepts connections.
func startProcess(t *testing.T, addr, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	logs := &testlog.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	done := make(chan struct{}) // closed when the process has exited
	go func() { waitErr = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM) // both proxies: fast stop
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Errorf("%s did not stop within 10s of SIGTERM", name)
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", name, logs)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-done:
			t.Fatalf("%s exited: %v\n%s", name, waitErr, logs)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not accept connections on %s after 10s\n%s", name, addr, logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startNginx runs nginx with conf, all its files in a temporary prefix.
func startNginx(t *testing.T, conf, addr string) {
	bin := needBinary(t, "nginx", "nginx")
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"-p", dir + "/", "-c", file, "-e", filepath.Join(dir, "error.log"), "-g", "daemon off; pid " + filepath.Join(dir, "nginx.pid") + ";"}
	if out, err := exec.Command(bin, append([]string{"-t", "-q"}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t rejects the configuration of %s: %v\n%s\n%s", scaleOutDoc, err, out, conf)
	}
	startProcess(t, addr, bin, args...)
}

// startHAProxy runs haproxy with conf in the foreground.
func startHAProxy(t *testing.T, conf, addr string) {
	bin := needBinary(t, "haproxy", "haproxy")
	file := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-c", "-q", "-f", file).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c rejects the configuration of %s: %v\n%s\n%s", scaleOutDoc, err, out, conf)
	}
	startProcess(t, addr, bin, "-db", "-f", file)
}

// proxyClient is one stream client that reconnects through the proxy
// with its Last-Event-ID, as a browser's EventSource does, and keeps
// every event it gets.
type proxyClient struct {
	mu        sync.Mutex
	got       []received
	lastID    string
	opens     int       // streams opened (status 200)
	refused   int       // answers other than 200
	lastOpen  time.Time // when the latest stream opened
	firstOpen chan struct{}
}

func (c *proxyClient) snapshot() (got []received, opens, refused int, lastOpen time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.got), c.opens, c.refused, c.lastOpen
}

func (c *proxyClient) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.got)
}

// run streams from url until ctx ends.
func (c *proxyClient) run(ctx context.Context, hc *http.Client, url string) {
	for ctx.Err() == nil {
		c.stream(ctx, hc, url)
		select { // a browser waits for retry (200 ms here) before reconnecting
		case <-ctx.Done():
		case <-time.After(100*time.Millisecond + rand.N(200*time.Millisecond)):
		}
	}
}

func (c *proxyClient) stream(ctx context.Context, hc *http.Client, url string) {
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	c.mu.Lock()
	if c.lastID != "" {
		req.Header.Set("Last-Event-ID", c.lastID)
	}
	c.mu.Unlock()
	resp, err := hc.Do(req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	c.mu.Lock()
	if resp.StatusCode != http.StatusOK {
		c.refused++
		c.mu.Unlock()
		io.Copy(io.Discard, resp.Body)
		return
	}
	c.opens++
	c.lastOpen = time.Now()
	if c.opens == 1 {
		close(c.firstOpen)
	}
	c.mu.Unlock()
	d := sse.NewDecoder(resp.Body)
	for {
		e, err := d.Next()
		if err != nil {
			return
		}
		c.mu.Lock()
		c.got = append(c.got, received{e.ID, e.Name, e.Data})
		c.lastID = e.ID
		c.mu.Unlock()
	}
}

// crowd is the clients of one test.
type crowd struct {
	clients []*proxyClient
	wg      sync.WaitGroup
}

// join starts n clients of url, spread over the client addresses, and
// waits until each has opened its stream.
func (cr *crowd) join(t *testing.T, ctx context.Context, url string, n int) []*proxyClient {
	t.Helper()
	var transports []*http.Transport
	for i := range clientAddrs {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i))}, Timeout: 5 * time.Second}
		tr := &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}
		transports = append(transports, tr)
	}
	var joined []*proxyClient
	for i := range n {
		c := &proxyClient{firstOpen: make(chan struct{})}
		hc := &http.Client{Transport: transports[i%clientAddrs]}
		cr.wg.Go(func() { c.run(ctx, hc, url) })
		joined = append(joined, c)
	}
	cr.clients = append(cr.clients, joined...)
	deadline := time.After(30 * time.Second)
	for i, c := range joined {
		select {
		case <-c.firstOpen:
		case <-deadline:
			_, _, refused, _ := c.snapshot()
			t.Fatalf("client %d of %d did not open its stream through the proxy within 30s (%d refusals)", i, n, refused)
		}
	}
	return joined
}

// waitFor waits until every client has at least n events.
func waitFor(t *testing.T, clients []*proxyClient, n int, d time.Duration, what string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		behind := 0
		for _, c := range clients {
			if c.count() < n {
				behind++
			}
		}
		if behind == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d of %d clients have fewer than %d events after %v", what, behind, len(clients), n, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// publisher publishes on the instances in turn and keeps what it
// published, in order.
type publisher struct {
	mu   sync.Mutex
	list []received
	n    int
}

func (p *publisher) publish(t *testing.T, on []*server, k int, gap time.Duration) {
	for range k {
		p.mu.Lock()
		p.n++
		i := p.n
		p.mu.Unlock()
		data := fmt.Sprint("event ", i)
		srv := on[i%len(on)]
		code, id, err := tryPost(srv, proxyTopic, data)
		if err != nil || code != http.StatusOK {
			t.Errorf("publish %d on %s: status %d, %v", i, srv.URL, code, err)
			return
		}
		p.mu.Lock()
		p.list = append(p.list, received{id, "e", data})
		p.mu.Unlock()
		time.Sleep(gap)
	}
}

func (p *publisher) published() []received {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.list)
}

var clientsGauge = regexp.MustCompile(`(?m)^ssewasm_clients (\d+)`)

// streamsOn returns the streams srv has open, from its /metrics.
func streamsOn(t *testing.T, srv *server) int {
	t.Helper()
	resp, err := httpc.Get(srv.URL + "metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := clientsGauge.FindSubmatch(b)
	if m == nil {
		t.Fatalf("%smetrics has no ssewasm_clients", srv.URL)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// healthStatus returns the status of srv's /healthz, 0 if it is down.
func healthStatus(srv *server) int {
	resp, err := httpc.Get(srv.URL + "healthz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// refusedWhileDraining counts the stream requests srv refused in its
// -drain window, from its access log.
func refusedWhileDraining(srv *server) int {
	n := 0
	for line := range strings.Lines(srv.log.String()) {
		if strings.Contains(line, "path=/events") && strings.Contains(line, "status=503") {
			n++
		}
	}
	return n
}

// testProxy: a forged X-Forwarded-For does not fool the instances; 500
// clients connect through the proxy; events published on
// every instance reach each once; B is killed mid-stream and its clients
// resume through the proxy on the others; C is drained with SIGTERM and
// its clients resume too; in the end every client has every event
// published since it joined, once, in order.
//
// healthChecked says the proxy polls /healthz (HAProxy; nginx open source
// cannot).
func testProxy(t *testing.T, lang string, start func(t *testing.T, conf, addr string), healthChecked bool) {
	checkLeaks(t)
	dir := buildApp(t)
	began := time.Now() // after the build, which the e2e tests share
	flags := docInstanceFlags(t)
	ns := startNATS(t)
	var s []*server
	for range 3 {
		s = append(s, startInstance(t, dir, append([]string{"-nats", ns.URL()}, flags...)...))
	}
	a, b, c := s[0], s[1], s[2]
	proxyAddr := freeAddr(t)
	start(t, docConfig(t, lang, s, proxyAddr), proxyAddr)
	url := "http://" + proxyAddr + "/events?topic=" + proxyTopic
	t.Logf("%s on %s in front of %s, %s, %s with %q", lang, proxyAddr, a.Addr, b.Addr, c.Addr, flags)

	checkForwarded(t, proxyAddr, s)

	ctx, cancel := context.WithCancel(context.Background())
	var cr crowd
	t.Cleanup(func() { cancel(); cr.wg.Wait() }) // before the instances stop
	t0 := time.Now()
	cr.join(t, ctx, url, proxyClients)
	counts := []int{streamsOn(t, a), streamsOn(t, b), streamsOn(t, c)}
	t.Logf("%d clients connected through %s in %v; streams per instance %v", proxyClients, lang, time.Since(t0).Round(time.Millisecond), counts)
	if sum := counts[0] + counts[1] + counts[2]; sum != proxyClients || slices.Contains(counts, 0) {
		t.Fatalf("streams per instance %v, want %d over all three", counts, proxyClients)
	}
	for i, cl := range cr.clients {
		if _, _, refused, _ := cl.snapshot(); refused > 0 {
			t.Errorf("client %d was refused %d times before it connected", i, refused)
		}
	}

	// Fan-out: events published on each instance in turn reach everyone.
	var pub publisher
	pub.publish(t, s, 30, 0)
	waitFor(t, cr.clients, 30, 15*time.Second, "fan-out")

	// Kill B mid-stream while A and C publish.
	onB := counts[1]
	var pwg sync.WaitGroup
	pwg.Go(func() { pub.publish(t, []*server{a, c}, 60, 5*time.Millisecond) })
	for len(pub.published()) < 45 {
		time.Sleep(time.Millisecond)
	}
	killedAt := time.Now()
	b.kill(t)
	pwg.Wait()
	waitFor(t, cr.clients, 90, 20*time.Second, "after the kill")
	var resumed []time.Duration
	for _, cl := range cr.clients {
		if _, opens, _, last := cl.snapshot(); opens > 1 {
			resumed = append(resumed, last.Sub(killedAt))
		}
	}
	slices.Sort(resumed)
	if len(resumed) < onB {
		t.Errorf("%d clients reopened their stream after B was killed, want at least B's %d", len(resumed), onB)
	}
	if len(resumed) > 0 {
		t.Logf("B killed with %d streams: %d clients resumed through %s, median %v, last %v after the kill", onB, len(resumed),
			lang, resumed[len(resumed)/2].Round(time.Millisecond), resumed[len(resumed)-1].Round(time.Millisecond))
	}

	// Drain C: /healthz turns 503 first, new clients go elsewhere, then
	// C's streams end and its clients resume on A.
	onC := streamsOn(t, c)
	termAt := time.Now()
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// The order: /healthz turns 503 while C still runs, with its streams
	// open (checked next), so that proxies stop sending it clients before
	// it closes them.
	for healthStatus(c) != http.StatusServiceUnavailable {
		select {
		case err := <-c.done:
			t.Fatalf("C exited (%v) before its /healthz turned 503", err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	unhealthy := time.Since(termAt)
	if n := streamsOn(t, c); n != onC {
		t.Errorf("C has %d streams once its /healthz says 503, want its %d still open", n, onC)
	}
	pwg.Go(func() { pub.publish(t, []*server{a}, 70, 100*time.Millisecond) })
	// Clients joining at once are retried elsewhere by nginx (which
	// passes on every 503); HAProxy retries them too, but may pick C again
	// until its health check has taken C out.
	refusals := func(cls []*proxyClient) (n int) {
		for _, cl := range cls {
			_, _, r, _ := cl.snapshot()
			n += r
		}
		return n
	}
	early := cr.join(t, ctx, url, 30)
	if n := refusals(early); n > 0 && !healthChecked {
		t.Errorf("%d refusals seen by 30 clients joining as C began to drain, want none", n)
	}
	// Once the health check (every 1 s, 2 failures) has had time, C gets
	// no new request at all from HAProxy; none is refused by either.
	time.Sleep(time.Until(termAt.Add(3 * time.Second)))
	atC := refusedWhileDraining(c)
	late := cr.join(t, ctx, url, 30)
	if n := refusals(late); n > 0 {
		t.Errorf("%d refusals seen by 30 clients joining 3s into C's drain, want none", n)
	}
	lateAtC := refusedWhileDraining(c) - atC
	if healthChecked && lateAtC > 0 {
		t.Errorf("C got %d new stream requests 3s into its drain, after the health check should have taken it out", lateAtC)
	}
	t.Logf("clients joining as C began to drain saw %d refusals (C refused %d requests); joining 3s later, %d (C refused %d)",
		refusals(early), atC, refusals(late), lateAtC)
	err := <-c.done
	stopped := time.Since(termAt)
	if err != nil {
		t.Errorf("C exited with %v", err)
	}
	pwg.Wait()
	published := pub.published()
	waitFor(t, cr.clients[:proxyClients], len(published), 20*time.Second, "after the drain")
	if stopped < 5*time.Second {
		t.Errorf("C exited %v after SIGTERM, before its 5 s -drain was over", stopped)
	}
	t.Logf("C drained (%d streams): /healthz 503 after %v, process exited after %v", onC, unhealthy.Round(100*time.Microsecond), stopped.Round(time.Millisecond))

	// Exactly once: the first 500 have everything, the late ones every
	// event since they joined.
	time.Sleep(300 * time.Millisecond) // room for a doubled event to show
	lost, doubled := 0, 0
	for i, cl := range cr.clients {
		got, _, _, _ := cl.snapshot()
		want := published
		if i >= proxyClients && len(got) > 0 {
			if k := slices.Index(published, got[0]); k >= 0 {
				want = published[k:]
			}
		}
		if !slices.Equal(got, want) {
			seen := map[string]bool{}
			for _, e := range got {
				if seen[e.ID] {
					doubled++
				}
				seen[e.ID] = true
			}
			for _, e := range want {
				if !seen[e.ID] {
					lost++
				}
			}
			if lost+doubled == 0 {
				t.Errorf("client %d: events out of order", i)
			}
		}
	}
	if lost+doubled > 0 {
		t.Errorf("events lost %d, doubled %d over %d clients", lost, doubled, len(cr.clients))
	}
	t.Logf("%d events published, %d clients: lost %d, doubled %d; test took %v", len(published), len(cr.clients), lost, doubled, time.Since(began).Round(time.Millisecond))
	if t.Failed() {
		t.Logf("A's log tail:\n%s", tail(a.log.String(), 20))
	}
}

// checkForwarded sends a request through the proxy from 127.0.0.12 with
// a forged X-Forwarded-For: the instance that serves it logs the real
// client, and the proxy, never the forged address.
func checkForwarded(t *testing.T, proxyAddr string, instances []*server) {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 12)}}
	hc := &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}, Timeout: 10 * time.Second}
	req, _ := http.NewRequest("GET", "http://"+proxyAddr+"/healthz", nil)
	req.Header.Set("X-Forwarded-For", "6.6.6.6")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, srv := range instances {
			for line := range strings.Lines(srv.log.String()) {
				if strings.Contains(line, "remote=6.6.6.6") {
					t.Fatalf("an instance believed the forged address: %s", line)
				}
				if strings.Contains(line, "path=/healthz") && strings.Contains(line, "remote=127.0.0.12:0") && strings.Contains(line, "proxy=127.0.0.1:") {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no instance logged the request from 127.0.0.12 through the proxy as remote=127.0.0.12:0 with proxy=127.0.0.1:…")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// TestProxyWithoutTrustedProxy is the contrast, the issue as filed:
// behind nginx, an instance without -trusted-proxy counts every client
// as the proxy's address, and with the default -max-clients-per-ip 100
// the 101st stream is refused, although it comes from clients on ten
// addresses.
func TestProxyWithoutTrustedProxy(t *testing.T) {
	checkLeaks(t)
	srv := startInstance(t, buildApp(t))
	proxyAddr := freeAddr(t)
	startNginx(t, docConfig(t, "nginx", []*server{srv, srv, srv}, proxyAddr), proxyAddr)
	var transports []*http.Transport
	for i := range clientAddrs {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i))}}
		transports = append(transports, &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var bodies []io.Closer
	defer func() {
		for _, b := range bodies {
			b.Close()
		}
	}()
	statuses := map[int]int{}
	for i := range 101 {
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+proxyAddr+"/events?topic=t", nil)
		resp, err := (&http.Client{Transport: transports[i%clientAddrs]}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		statuses[resp.StatusCode]++
		bodies = append(bodies, resp.Body)
	}
	t.Logf("101 streams from %d client addresses through nginx, no -trusted-proxy: statuses %v", clientAddrs, statuses)
	if statuses[http.StatusOK] != 100 || statuses[http.StatusServiceUnavailable] != 1 {
		t.Errorf("statuses %v, want 100 × 200 and 1 × 503 (every client counted as the proxy)", statuses)
	}
}
