package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ssewasm/ssewasm/internal/testlog"
)

// corpusPath is the interop corpus, read by every client's harness.
const corpusPath = "testdata/interop-corpus.json"

// interopCorpus is the file at corpusPath (its comment says what each
// field means).
type interopCorpus struct {
	Topic    string        `json:"topic"`
	RetryMS  int64         `json:"retry_ms"`
	ResumeAt int           `json:"resume_at"`
	CutAfter int64         `json:"cut_after_bytes"`
	Cases    []interopCase `json:"cases"`
}

type interopCase struct {
	Case   string  `json:"case"`
	Event  string  `json:"event"`
	Data   string  `json:"data"`
	Repeat int     `json:"repeat"`
	Status int     `json:"status"`
	Error  string  `json:"error"`
	Want   *string `json:"want"`
}

func (c interopCase) body() string {
	if c.Repeat > 0 {
		return strings.Repeat(c.Data, c.Repeat)
	}
	return c.Data
}

func (c interopCase) status() int {
	if c.Status == 0 {
		return http.StatusOK
	}
	return c.Status
}

// name is the event type a client must report: unnamed events are
// "message".
func (c interopCase) name() string {
	if c.Event == "" {
		return "message"
	}
	return c.Event
}

// wantData is what a client must see: our encoder splits data on CRLF,
// CR and LF into data: lines, and the spec joins them with LF.
func (c interopCase) wantData() string {
	if c.Want != nil {
		return *c.Want
	}
	return lfOnly(c.body())
}

func lfOnly(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}

func loadCorpus(t *testing.T) interopCorpus {
	t.Helper()
	b, err := os.ReadFile(corpusPath)
	if err != nil {
		t.Fatal(err)
	}
	var c interopCorpus
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("%s: %v", corpusPath, err)
	}
	if c.ResumeAt <= 0 || c.ResumeAt >= len(c.Cases) || c.RetryMS <= 0 {
		t.Fatalf("%s: resume_at %d must split the %d cases, retry_ms %d must be positive", corpusPath, c.ResumeAt, len(c.Cases), c.RetryMS)
	}
	if k := c.Cases[c.ResumeAt]; c.CutAfter <= 0 || c.CutAfter >= int64(len(k.body())) || k.status() != http.StatusOK {
		t.Fatalf("%s: cut_after_bytes %d must fall inside the case at resume_at, %q (%d bytes of data), which must be published", corpusPath, c.CutAfter, k.Case, len(k.body()))
	}
	return c
}

// eventNames are the types an EventSource must listen to for the corpus
// and the wire probes, each once (a second listener would double events).
func (c interopCorpus) eventNames() []string {
	names := []string{"message"}
	add := func(n string) {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	for _, k := range c.Cases {
		if k.status() == http.StatusOK && k.Event != "" {
			add(k.Event)
		}
	}
	for _, n := range wireProbeNames {
		add(n)
	}
	return names
}

// readerRecord is one JSON line from a reader process (e2e/node/reader.mjs,
// e2e/goclients): see their docs.
type readerRecord struct {
	Kind    string `json:"kind"` // open, event, retry, error
	Event   string `json:"event"`
	Data    string `json:"data"`
	ID      string `json:"id"`
	RetryMS int64  `json:"retry_ms"`
	Message string `json:"message"`
}

// collector gathers what one client reported, from whichever goroutine
// reads it, and wakes waiters on every change.
type collector struct {
	mu      sync.Mutex
	events  []received
	opens   int
	retries []int64
	errs    []string
	changed chan struct{} // closed and replaced on every change
}

func newCollector() *collector { return &collector{changed: make(chan struct{})} }

func (c *collector) record(r readerRecord) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch r.Kind {
	case "open":
		c.opens++
	case "event":
		c.events = append(c.events, received{ID: r.ID, Event: r.Event, Data: r.Data})
	case "retry":
		c.retries = append(c.retries, r.RetryMS)
	case "error":
		if len(c.errs) < 20 {
			c.errs = append(c.errs, r.Message)
		}
	}
	close(c.changed)
	c.changed = make(chan struct{})
}

// wait returns once cond (called with the lock held) is true.
func (c *collector) wait(ctx context.Context, cond func(*collector) bool) error {
	for {
		c.mu.Lock()
		ok, ch := cond(c), c.changed
		c.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// hasID is a wait condition: an event with this ID arrived.
func hasID(id string) func(*collector) bool {
	return func(c *collector) bool {
		for _, e := range c.events {
			if e.ID == id {
				return true
			}
		}
		return false
	}
}

func (c *collector) snapshot() (events []received, retries []int64, errs []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]received(nil), c.events...), append([]int64(nil), c.retries...), append([]string(nil), c.errs...)
}

// startReaderProcess runs a reader that prints readerRecords on stdout,
// until the test ends.
func startReaderProcess(t *testing.T, col *collector, dir string, argv ...string) {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &testlog.Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", argv[0], err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		dec := json.NewDecoder(stdout)
		for {
			var r readerRecord
			if err := dec.Decode(&r); err != nil {
				if err != io.EOF {
					col.record(readerRecord{Kind: "error", Message: "reading the reader's output: " + err.Error()})
				}
				return
			}
			col.record(r)
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		cmd.Wait()
		if s := stderr.String(); s != "" {
			t.Logf("%s stderr:\n%s", argv[0], s)
		}
	})
}

// openBrowserReader opens a page of origin in browser b; the function
// it returns reads a stream with the page's own EventSource (one more per
// call, each polled into its collector) until the test ends.
func openBrowserReader(t *testing.T, b browserKind, origin string, names []string) func(col *collector, streamURL string) {
	t.Helper()
	p := openBrowser(t, b)
	if err := p.navigate(origin + "healthz"); err != nil {
		t.Fatal(err)
	}
	n, _ := json.Marshal(names)
	if _, err := evalJS[bool](p, fmt.Sprintf(`
		window.streams = [];
		window.readStream = (url) => {
			const s = {got: [], opens: 0};
			window.streams.push(s);
			const es = new EventSource(url);
			es.onopen = () => { s.opens++; };
			for (const name of %s) {
				es.addEventListener(name, e => s.got.push({kind: "event", event: e.type, data: e.data, id: e.lastEventId}));
			}
			return window.streams.length - 1;
		};
		true`, n)); err != nil {
		t.Fatal(err)
	}
	return func(col *collector, streamURL string) {
		u, _ := json.Marshal(streamURL)
		k, err := evalJS[int](p, fmt.Sprintf(`window.readStream(%s)`, u))
		if err != nil {
			t.Fatal(err)
		}
		stop, done := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(done)
			opens, got := 0, 0
			for {
				now, err := evalJS[pageState](p, fmt.Sprintf(`(s => ({opens: s.opens, got: s.got.slice(%d)}))(window.streams[%d])`, got, k))
				if err != nil {
					col.record(readerRecord{Kind: "error", Message: "polling the page: " + err.Error()})
					return
				}
				for ; opens < now.Opens; opens++ {
					col.record(readerRecord{Kind: "open"})
				}
				for _, r := range now.Got {
					col.record(r)
				}
				got += len(now.Got)
				select {
				case <-time.After(50 * time.Millisecond):
				case <-stop:
					return
				}
			}
		}()
		t.Cleanup(func() { close(stop); <-done })
	}
}

// pageState is what the page's EventSource got since the last poll.
type pageState struct {
	Opens int
	Got   []readerRecord
}

// interopClient is one independent SSE client of the matrix.
type interopClient struct {
	name  string // the matrix's column
	topic string // its own topic, so clients run side by side
	// open prepares the client (a browser opens a page of origin); the
	// function it returns reads streamURL into col until the test ends,
	// and can be called again for another stream.
	open func(t *testing.T, origin string) func(col *collector, streamURL string)
	// retry checks the reconnection delays the client reported against
	// the stream's retry (both in ms); nil: the client does not expose it.
	retry func(want int64, got []int64) (cell string, ok bool)
}

// interopClients lists the clients; goReader is the built e2e/goclients
// binary.
func interopClients(t *testing.T, c interopCorpus, goReader string) []interopClient {
	root := repoRoot(t)
	nodeDir := filepath.Join(root, "e2e", "node")
	names := c.eventNames()
	return []interopClient{
		{
			name: "Chromium", topic: "chromium",
			open: func(t *testing.T, origin string) func(*collector, string) {
				return openBrowserReader(t, chromium, origin, names)
			},
		},
		{
			name: "Firefox ESR", topic: "firefox",
			open: func(t *testing.T, origin string) func(*collector, string) {
				return openBrowserReader(t, firefox, origin, names)
			},
		},
		{
			name: "npm eventsource@4.1.1", topic: "node",
			open: func(t *testing.T, origin string) func(*collector, string) {
				node := nodeReady(t, nodeDir)
				return func(col *collector, streamURL string) {
					startReaderProcess(t, col, nodeDir, append([]string{node, "reader.mjs", streamURL}, names...)...)
				}
			},
		},
		{
			name: "tmaxmax/go-sse v0.12.0", topic: "gosse",
			open: func(t *testing.T, origin string) func(*collector, string) {
				return func(col *collector, streamURL string) {
					startReaderProcess(t, col, "", goReader, "-client", "gosse", "-url", streamURL)
				}
			},
			// OnRetry gives the delay it picked: the stream's retry with
			// go-sse's ±50% jitter.
			retry: func(want int64, got []int64) (string, bool) {
				if len(got) == 0 {
					return "no delay reported", false
				}
				for _, g := range got {
					if g < want/2 || g > want*3/2+1 {
						return fmt.Sprintf("OnRetry %d ms, not within ±50%% of retry %d ms", g, want), false
					}
				}
				return fmt.Sprintf("ok (OnRetry %v ms: retry ±50%% jitter)", got), true
			},
		},
		{
			name: "launchdarkly/eventsource v1.11.0", topic: "launchdarkly",
			open: func(t *testing.T, origin string) func(*collector, string) {
				return func(col *collector, streamURL string) {
					startReaderProcess(t, col, "", goReader, "-client", "launchdarkly", "-url", streamURL)
				}
			},
			// Retry() of the first event of each connection.
			retry: func(want int64, got []int64) (string, bool) {
				if len(got) < 2 {
					return fmt.Sprintf("Retry() seen %d times, want once per connection (2)", len(got)), false
				}
				for _, g := range got {
					if g != want {
						return fmt.Sprintf("Retry() %d, want %d", g, want), false
					}
				}
				return fmt.Sprintf("ok (Retry() %d on each connection)", want), true
			},
		},
	}
}

// nodeReady returns the node binary, or fails saying how to get the
// reader's dependencies.
func nodeReady(t *testing.T, dir string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("the npm eventsource reader needs Node.js 20 or later: `apt-get install -y nodejs npm`, then `make deps`")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "eventsource", "package.json")); err != nil {
		t.Fatalf("the npm eventsource reader's packages are missing: run `make deps` (it runs `npm ci` in %s)", dir)
	}
	return node
}

// buildGoReader builds e2e/goclients, a separate module, into dir.
func buildGoReader(t *testing.T, dir string) string {
	t.Helper()
	out := filepath.Join(dir, "ssereader")
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = filepath.Join(repoRoot(t), "e2e", "goclients")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building e2e/goclients: %v\n%s", err, b)
	}
	return out
}

// interopResult is one client's column of the matrix.
type interopResult struct {
	cells map[string]string // case, "resume", "retry" → "ok…" or what differed
}

const (
	rowResume = "resume after a cut (Last-Event-ID)"
	rowRetry  = "retry (the stream's reconnection delay)"
)

// TestInterop publishes the corpus through POST /publish of the real
// server binary to independent SSE clients and checks that each sees
// exactly the published names, data and IDs, and resumes with
// Last-Event-ID after its connection is cut. It prints the matrix kept in
// docs/interop.md.
func TestInterop(t *testing.T) {
	// The shared browsers outlive the test: start them before the leak
	// check takes note of the goroutines already running.
	sharedBrowsers.chromium(t, chromiumFlags{})
	sharedBrowsers.firefox(t)
	checkLeaks(t)
	corpus := loadCorpus(t)
	dir := buildApp(t)
	goReader := buildGoReader(t, t.TempDir())
	retry := time.Duration(corpus.RetryMS) * time.Millisecond
	// The clients' reported retry is checked exactly; the 1 MiB event has
	// a name, which counts with its data under -max-event-size (1 MiB + 1 KiB here).
	srv := startServer(t, dir, "127.0.0.1:0", "-retry", retry.String(), "-retry-jitter", "0", "-max-event-size", "1049600")
	wireURL := startWireServer(t)
	clients := interopClients(t, corpus, goReader)

	results := make([]interopResult, len(clients))
	t.Run("clients", func(t *testing.T) {
		for i, c := range clients {
			t.Run(c.topic, func(t *testing.T) {
				t.Parallel()
				results[i] = runInterop(t, srv, corpus, c, wireURL)
			})
		}
	})

	rows := []string{}
	for _, k := range corpus.Cases {
		rows = append(rows, k.Case)
	}
	rows = append(rows, rowResume, rowRetry)
	t.Log("interop matrix, our server's streams (docs/interop.md):" + matrix("case", rows, clients, results))
	rows = rows[:0]
	for _, p := range wireProbes {
		rows = append(rows, p.name)
	}
	t.Log("raw wire input no ssewasm server sends, against the spec (docs/interop.md):" + matrix("wire input", rows, clients, results))
}

// matrix formats results as a Markdown table: a row per case, a column
// per client.
func matrix(title string, rows []string, clients []interopClient, results []interopResult) string {
	var b strings.Builder
	b.WriteString("\n| " + title + " |")
	for _, c := range clients {
		b.WriteString(" " + c.name + " |")
	}
	b.WriteString("\n|---|" + strings.Repeat("---|", len(clients)) + "\n")
	for _, row := range rows {
		b.WriteString("| " + row + " |")
		for _, r := range results {
			cell := r.cells[row]
			if cell == "" {
				cell = "not run"
			}
			b.WriteString(" " + strings.ReplaceAll(cell, "|", `\|`) + " |")
		}
		b.WriteString("\n")
	}
	return b.String()
}

// runInterop runs the corpus through one client: the first resume_at
// cases live, then the next one cut in the middle by the forwarder, then
// the rest published while the client is away, so that they reach it only
// by replay after Last-Event-ID.
func runInterop(t *testing.T, srv *server, corpus interopCorpus, c interopClient, wireURL string) interopResult {
	res := interopResult{cells: map[string]string{}}
	fwd := newForwarder(t, srv.Addr)
	topic := corpus.Topic + "-" + c.topic
	streamPath := "/events?topic=" + url.QueryEscape(topic)
	col := newCollector()
	start := time.Now()
	read := c.open(t, fwd.URL)
	read(col, strings.TrimSuffix(fwd.URL, "/")+streamPath)

	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	if err := col.wait(ctx, func(c *collector) bool { return c.opens > 0 }); err != nil {
		_, _, errs := col.snapshot()
		t.Fatalf("%s did not open the stream: %v; it reported %q", c.name, err, errs)
	}

	ids := make([]string, len(corpus.Cases)) // "" for a refused case
	publish := func(from, to int) (last string) {
		for i := from; i < to; i++ {
			k := corpus.Cases[i]
			status, id, msg := publishInterop(t, srv, topic, k)
			switch {
			case status != k.status():
				res.cells[k.Case] = fmt.Sprintf("POST /publish answered %d (%s), want %d", status, msg, k.status())
				t.Errorf("%s, %s: %s", c.name, k.Case, res.cells[k.Case])
			case status != http.StatusOK && !strings.Contains(msg, k.Error):
				res.cells[k.Case] = fmt.Sprintf("refused with %d but the error %q does not say %q", status, msg, k.Error)
				t.Errorf("%s, %s: %s", c.name, k.Case, res.cells[k.Case])
			case status != http.StatusOK:
				res.cells[k.Case] = fmt.Sprintf("ok (refused: %d)", status)
			default:
				ids[i], last = id, id
			}
		}
		return last
	}
	lastLive := publish(0, corpus.ResumeAt)
	if err := col.wait(ctx, hasID(lastLive)); err != nil {
		got, _, errs := col.snapshot()
		t.Errorf("%s did not receive the live events: %v; got %d events, errors %q", c.name, err, len(got), errs)
	}
	cutDone := fwd.cutAfter(corpus.CutAfter)
	publish(corpus.ResumeAt, corpus.ResumeAt+1)
	select {
	case <-cutDone:
	case <-ctx.Done():
		t.Fatalf("%s: the forwarder did not pass %d bytes of %q", c.name, corpus.CutAfter, corpus.Cases[corpus.ResumeAt].Case)
	}
	lastAll := publish(corpus.ResumeAt+1, len(corpus.Cases))
	fwd.release()
	if err := col.wait(ctx, hasID(lastAll)); err != nil {
		got, _, errs := col.snapshot()
		t.Errorf("%s did not receive the events published while it was away: %v; got %d events, errors %q", c.name, err, len(got), errs)
	}
	time.Sleep(300 * time.Millisecond) // let a doubled event show
	got, retries, errs := col.snapshot()
	t.Logf("%s: %d events in %v; errors it reported: %q", c.name, len(got), time.Since(start).Round(time.Millisecond), errs)

	// Each accepted case exactly once, as published.
	index := map[string]int{} // id → case
	for i, id := range ids {
		if id != "" {
			index[id] = i
		}
	}
	seen := make([][]received, len(corpus.Cases))
	var extra []string
	order := -1
	outOfOrder := ""
	for _, e := range got {
		i, ok := index[e.ID]
		if !ok {
			extra = append(extra, fmt.Sprintf("%q (%s, %d bytes)", e.ID, e.Event, len(e.Data)))
			continue
		}
		seen[i] = append(seen[i], e)
		if i <= order && outOfOrder == "" {
			outOfOrder = fmt.Sprintf("%q after %q", corpus.Cases[i].Case, corpus.Cases[order].Case)
		}
		order = max(order, i)
	}
	for i, k := range corpus.Cases {
		if ids[i] == "" {
			continue
		}
		cell := "ok"
		switch s := seen[i]; {
		case len(s) == 0:
			cell = "missing"
		case len(s) > 1:
			cell = fmt.Sprintf("received %d times", len(s))
		case s[0].Event != k.name():
			cell = fmt.Sprintf("event %q, want %q", s[0].Event, k.name())
		case s[0].Data != k.wantData():
			cell = "data " + dataDiff(s[0].Data, k.wantData())
		}
		res.cells[k.Case] = cell
		if cell != "ok" {
			t.Errorf("%s, %s: %s", c.name, k.Case, cell)
		}
	}
	if len(extra) > 0 {
		t.Errorf("%s received events nobody published: %s", c.name, strings.Join(extra, ", "))
	}

	// The resume: one reconnect carrying the last live ID, the rest
	// exactly once and in order (checked per case above).
	reconnects, cutAt := fwd.reconnects("/events")
	resume := "ok"
	switch {
	case len(reconnects) == 0:
		resume = "did not reconnect"
	case reconnects[0].LastEventID != lastLive:
		resume = fmt.Sprintf("reconnected with Last-Event-ID %q, want %q", reconnects[0].LastEventID, lastLive)
	case outOfOrder != "":
		resume = "out of order: " + outOfOrder
	default:
		for i := corpus.ResumeAt; i < len(corpus.Cases); i++ {
			if ids[i] != "" && len(seen[i]) != 1 {
				resume = "replay incomplete or doubled (see the cases after the cut)"
			}
		}
	}
	if resume != "ok" {
		t.Errorf("%s: %s", c.name, resume)
	} else {
		resume = fmt.Sprintf("ok (cut inside an event; reconnected after %v)", reconnects[0].At.Sub(cutAt).Round(10*time.Millisecond))
	}
	res.cells[rowResume] = resume
	if len(reconnects) > 0 {
		t.Logf("%s reconnected %v after the cut (the stream's retry is %d ms); %d stream requests after it",
			c.name, reconnects[0].At.Sub(cutAt).Round(time.Millisecond), corpus.RetryMS, len(reconnects))
	}

	if c.retry == nil {
		res.cells[rowRetry] = "not exposed by the API"
	} else {
		cell, ok := c.retry(corpus.RetryMS, retries)
		res.cells[rowRetry] = cell
		if !ok {
			t.Errorf("%s, retry: %s", c.name, cell)
		}
	}

	for k, v := range runWireProbes(t, c.topic, c.name, read, wireURL) {
		res.cells[k] = v
	}
	return res
}

// publishInterop publishes one case and returns the status, the ID (on
// 200) and the error message (otherwise).
func publishInterop(t *testing.T, srv *server, topic string, k interopCase) (status int, id, msg string) {
	t.Helper()
	q := url.Values{"topic": {topic}}
	if k.Event != "" {
		q.Set("event", k.Event)
	}
	r, err := http.Post(srv.URL+"publish?"+q.Encode(), "text/plain", strings.NewReader(k.body()))
	if err != nil {
		t.Fatalf("publish %s: %v", k.Case, err)
	}
	defer r.Body.Close()
	var answer struct{ ID, Error string }
	if err := json.NewDecoder(r.Body).Decode(&answer); err != nil {
		t.Fatalf("publish %s: answer %d is not JSON: %v", k.Case, r.StatusCode, err)
	}
	return r.StatusCode, answer.ID, answer.Error
}

// dataDiff says briefly how got differs from want (data can be 1 MiB).
func dataDiff(got, want string) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	clip := func(s string) string {
		s = s[i:]
		if len(s) > 16 {
			s = s[:16]
		}
		return fmt.Sprintf("%q", s)
	}
	if len(got) < 64 && len(want) < 64 {
		return fmt.Sprintf("%q, want %q", got, want)
	}
	return fmt.Sprintf("differs at byte %d (%d bytes, want %d): %s, want %s", i, len(got), len(want), clip(got), clip(want))
}
