package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssewasm/ssewasm/server/sse"
)

// testServer is a small hand-written SSE server with the protocol's
// GET /events and POST /publish, and a history for Last-Event-ID replay.
type testServer struct {
	replay bool // replay history after Last-Event-ID
	kickAt int  // after this many published events, end every stream once (0: never)

	mu      sync.Mutex
	history []sse.Event
	subs    map[*testSub]struct{}
	kicked  bool
}

type testSub struct {
	events chan sse.Event // buffered: publish never blocks on a reader in this test
	kick   chan struct{}  // closed to end the stream
}

func (ts *testServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/events":
		ts.events(w, r)
	case r.Method == http.MethodPost && r.URL.Path == "/login": // a name is its own cookie
		http.SetCookie(w, &http.Cookie{Name: "ssewasm_session", Value: r.PostFormValue("name")})
		io.WriteString(w, `{"subject":"`+r.PostFormValue("name")+`"}`)
	case r.Method == http.MethodPost && r.URL.Path == "/publish":
		body, _ := io.ReadAll(r.Body)
		id := ts.publish(r.URL.Query().Get("event"), string(body))
		io.WriteString(w, `{"id":"`+id+`"}`)
	default:
		http.NotFound(w, r)
	}
}

func (ts *testServer) events(w http.ResponseWriter, r *http.Request) {
	for _, t := range r.URL.Query()["topic"] { // user/<name> is name's only
		if name, private := strings.CutPrefix(t, "user/"); private {
			if c, err := r.Cookie("ssewasm_session"); err != nil || c.Value != name {
				http.Error(w, "sign in", http.StatusUnauthorized)
				return
			}
		}
	}
	s, err := sse.NewStream(w, r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	sub := &testSub{events: make(chan sse.Event, 10_000), kick: make(chan struct{})}
	ts.mu.Lock()
	if last := r.Header.Get("Last-Event-ID"); last != "" && ts.replay {
		n, _ := strconv.Atoi(last)
		for _, e := range ts.history[n:] {
			sub.events <- e
		}
	}
	if ts.subs == nil {
		ts.subs = map[*testSub]struct{}{}
	}
	ts.subs[sub] = struct{}{}
	ts.mu.Unlock()
	defer func() {
		ts.mu.Lock()
		delete(ts.subs, sub)
		ts.mu.Unlock()
	}()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-sub.kick:
			return
		case e := <-sub.events:
			if s.Send(e) != nil {
				return
			}
		}
	}
}

func (ts *testServer) publish(event, data string) string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	e := sse.Event{ID: strconv.Itoa(len(ts.history) + 1), Name: event, Data: data}
	ts.history = append(ts.history, e)
	for sub := range ts.subs {
		sub.events <- e
	}
	if ts.kickAt > 0 && !ts.kicked && strings.HasPrefix(data, seqPrefix) {
		ts.kickAt--
		if ts.kickAt == 0 {
			ts.kicked = true
			for sub := range ts.subs {
				close(sub.kick)
				delete(ts.subs, sub)
			}
		}
	}
	return e.ID
}

func runTestBench(t *testing.T, ts *testServer, extra ...string) *result {
	t.Helper()
	srv := httptest.NewServer(ts)
	defer srv.Close()
	args := append([]string{"-url", srv.URL, "-clients", "20", "-max-events", "200", "-duration", "20s",
		"-inflight", "4", "-settle", "0", "-drain", "3s", "-reconnect-delay", "20ms", "-progress", "0",
		"-impl", "test", "-scenario", t.Name()}, extra...)
	if runtime.GOOS == "linux" {
		args = append(args, "-pid", strconv.Itoa(os.Getpid()))
	}
	cfg, err := parseFlags(args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var table strings.Builder
	res, err := run(ctx, cfg, &table, io.Discard)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, table.String())
	}
	t.Logf("\n%s", table.String())
	return res
}

func TestRunDeliversEveryEventOnce(t *testing.T) {
	res := runTestBench(t, &testServer{}, "-event", "bench", "-multiline", "-size", "120")
	want := map[string]int64{
		"connected": 20, "acked": 200, "expected": 4000, "delivered": 4000, "latency samples": 4000,
		"missing": 0, "duplicates": 0, "corrupt": 0, "unknown": 0, "disconnects": 0, "publish errors": 0,
	}
	got := map[string]int64{
		"connected": res.Connected, "acked": res.Acked, "expected": res.Expected, "delivered": res.Delivered,
		"latency samples": int64(res.Latency.Count), "missing": res.Missing, "duplicates": res.Duplicates,
		"corrupt": res.Corrupt, "unknown": res.Unknown, "disconnects": res.Disconnects, "publish errors": res.PublishErrors,
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %d, want %d", k, got[k], w)
		}
	}
	if !res.EventCapHit || res.Status != "ok" {
		t.Errorf("status %q, cap hit %v; want ok and the 200-event cap hit", res.Status, res.EventCapHit)
	}
	if res.Latency.P50 <= 0 || res.Latency.P99 < res.Latency.P50 || res.Latency.Max < res.Latency.P99 {
		t.Errorf("latency percentiles out of order: %+v", res.Latency)
	}
	if res.DeliveredPerSec <= 0 {
		t.Errorf("delivered/s = %v", res.DeliveredPerSec)
	}
	if runtime.GOOS == "linux" && (res.Server.RSSConnectedKB <= 0 || res.Server.CPUSeconds < 0) {
		t.Errorf("server figures missing with -pid: %+v", res.Server)
	}
}

func TestRunReconnectWithReplayLosesNothing(t *testing.T) {
	res := runTestBench(t, &testServer{replay: true, kickAt: 100}, "-rate", "400")
	if res.Disconnects != 20 || res.ClientsDisconnected != 20 || res.Reconnects != 20 {
		t.Errorf("disconnects %d (%d clients), reconnects %d; want 20 each", res.Disconnects, res.ClientsDisconnected, res.Reconnects)
	}
	if res.Missing != 0 || res.Duplicates != 0 || res.Delivered != 4000 {
		t.Errorf("missing %d, duplicates %d, delivered %d; want 0, 0, 4000", res.Missing, res.Duplicates, res.Delivered)
	}
}

func TestRunReconnectWithoutReplayCountsLoss(t *testing.T) {
	res := runTestBench(t, &testServer{kickAt: 100}, "-rate", "400", "-drain", "500ms")
	if res.Disconnects != 20 || res.Reconnects != 20 {
		t.Errorf("disconnects %d, reconnects %d; want 20 each", res.Disconnects, res.Reconnects)
	}
	if res.Missing == 0 || res.Missing+res.Delivered != res.Expected {
		t.Errorf("missing %d + delivered %d != expected %d, or no loss seen", res.Missing, res.Delivered, res.Expected)
	}
}

// With -no-reconnect a stream the server ends stays ended, and what it
// missed counts as lost; -pause makes the readers stop now and then
// without losing anything.
func TestRunNoReconnect(t *testing.T) {
	res := runTestBench(t, &testServer{replay: true, kickAt: 100}, "-rate", "400", "-drain", "500ms", "-no-reconnect")
	if res.Disconnects != 20 || res.Reconnects != 0 {
		t.Errorf("disconnects %d, reconnects %d; want 20 and none", res.Disconnects, res.Reconnects)
	}
	if res.Missing == 0 || res.Missing+res.Delivered != res.Expected {
		t.Errorf("missing %d + delivered %d != expected %d, or no loss seen", res.Missing, res.Delivered, res.Expected)
	}
}

func TestRunPausingReaders(t *testing.T) {
	res := runTestBench(t, &testServer{}, "-rate", "400", "-pause", "50ms", "-pause-every", "200ms")
	if res.Missing != 0 || res.Delivered != 4000 || res.Disconnects != 0 {
		t.Errorf("missing %d, delivered %d, disconnects %d; want 0, 4000, 0", res.Missing, res.Delivered, res.Disconnects)
	}
	// A pause delays the events behind it: the worst latency shows it.
	if res.Latency.Max < 40 {
		t.Errorf("max latency %.1f ms: the readers did not pause", res.Latency.Max)
	}
}

func TestRunRefusesServerWithoutPublish(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	cfg, _ := parseFlags([]string{"-url", srv.URL, "-clients", "2", "-progress", "0"}, io.Discard)
	_, err := run(context.Background(), cfg, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "does not serve POST /publish") {
		t.Errorf("run against a server without /publish: %v", err)
	}
}

func TestRunNotPossible(t *testing.T) {
	if fdHardLimit() == 0 || fdHardLimit() > maxClients {
		t.Skip("fd hard limit unknown or above the tool's client bound")
	}
	dir := t.TempDir()
	cfg, _ := parseFlags([]string{"-clients", strconv.Itoa(int(fdHardLimit())), "-idle", "-json", dir + "/r.json", "-progress", "0"}, io.Discard)
	res, err := run(context.Background(), cfg, io.Discard, io.Discard)
	if err == nil || res.Status != "not possible" || !strings.Contains(res.Reason, "not possible on this machine: fd hard limit") {
		t.Errorf("got %v, status %q", err, res.Status)
	}
	if b, _ := os.ReadFile(dir + "/r.json"); !strings.Contains(string(b), `"status": "not possible"`) {
		t.Errorf("JSON result lacks the status: %s", b)
	}
}

// With -sign-in each client signs in as its name and reads its private
// topic with its cookie (issue 21); without, the server refuses it.
func TestRunSignedIn(t *testing.T) {
	res := runTestBench(t, &testServer{}, "-sign-in", "-own-topic", "user/")
	if res.Connected != 20 || res.Missing != 0 || res.Delivered != 4000 || !res.SignIn || res.OwnTopic != "user/" {
		t.Errorf("connected %d, missing %d, delivered %d, sign-in %v %q; want 20, 0, 4000", res.Connected, res.Missing, res.Delivered, res.SignIn, res.OwnTopic)
	}
	srv := httptest.NewServer(&testServer{})
	defer srv.Close()
	cfg, err := parseFlags([]string{"-url", srv.URL, "-clients", "2", "-progress", "0", "-own-topic", "user/"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := run(context.Background(), cfg, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("private topics without -sign-in: %v, want the server's 401", err)
	}
}
