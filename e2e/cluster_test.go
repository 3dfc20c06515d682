package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssewasm/ssewasm/server/sse"
	"github.com/ssewasm/ssewasm/server/sse/jetstream/jstest"
)

// The scale-out tests run a JetStream server in the test process and
// three instances of the real server binary against it, all on loopback.

// startCluster starts NATS and n instances with -nats.
func startCluster(t *testing.T, n int) (*jstest.Server, []*server) {
	t.Helper()
	dir := buildApp(t)
	ns := startNATS(t)
	var srvs []*server
	for range n {
		srvs = append(srvs, startInstance(t, dir, "-nats", ns.URL()))
	}
	return ns, srvs
}

// TestClusterFanOut: an event published to any instance reaches the
// clients of every instance, with the same ID everywhere.
func TestClusterFanOut(t *testing.T) {
	checkLeaks(t)
	_, s := startCluster(t, 3)
	topic := "room.1" // a '.' in a topic: one NATS subject token all the same
	var clients []*streamClient
	for _, srv := range s {
		clients = append(clients, openStream(t, srv, topic, ""))
	}
	var want []received
	for i, srv := range s { // published to A, then B, then C
		data := fmt.Sprintf("from instance %d", i)
		want = append(want, received{mustPost(t, srv, topic, data), "e", data})
	}
	if !(want[0].ID < want[1].ID && want[1].ID < want[2].ID) {
		t.Errorf("IDs %s %s %s do not follow the order of publication", want[0].ID, want[1].ID, want[2].ID)
	}
	for i, c := range clients {
		c.expect(t, fmt.Sprintf("client of instance %d", i), want)
	}
	for i, c := range clients {
		c.expectQuiet(t, fmt.Sprintf("client of instance %d", i), 200*time.Millisecond)
	}
}

// TestClusterResumeElsewhere: a client of B is cut off, events are
// published on A, and it reconnects to C with its Last-Event-ID: it gets
// exactly the events it missed on its topic, in order, then live ones.
func TestClusterResumeElsewhere(t *testing.T) {
	checkLeaks(t)
	_, s := startCluster(t, 3)
	a, b, c := s[0], s[1], s[2]
	onB := openStream(t, b, "news", "")
	first := received{mustPost(t, a, "news", "first"), "e", "first"}
	onB.expect(t, "client of B", []received{first})
	onB.cancel() // cut off

	var missed []received
	for i := range 6 {
		data := fmt.Sprint("missed ", i)
		id := mustPost(t, a, "news", data)
		mustPost(t, a, "other", data) // another topic: not replayed
		missed = append(missed, received{id, "e", data})
	}
	onC := openStream(t, c, "news", first.ID)
	onC.expect(t, "client resumed on C", missed)
	live := received{mustPost(t, b, "news", "live"), "e", "live"}
	onC.expect(t, "client resumed on C", []received{live})
	onC.expectQuiet(t, "client resumed on C", 200*time.Millisecond)

	// An ID from another history gets the gap event, whose ID is the
	// newest: resuming from it loses nothing later.
	onA := openStream(t, a, "news", "zz-1")
	gap := onA.next(t, 10*time.Second)
	if gap.Event != sse.GapEvent || gap.ID != live.ID {
		t.Errorf("unknown ID: got %+v, want a gap event with ID %s", gap, live.ID)
	}
}

// TestClusterKill: instance B is killed (SIGKILL) while events are
// published on A and C; its clients reconnect to A with their
// Last-Event-ID and, in the end, each has every event once, in order.
func TestClusterKill(t *testing.T) {
	checkLeaks(t)
	_, s := startCluster(t, 3)
	a, b, c := s[0], s[1], s[2]
	const topic, clients, total, killAt = "ticker", 3, 200, 60
	var onB []*streamClient
	for range clients {
		onB = append(onB, openStream(t, b, topic, ""))
	}

	var (
		mu        sync.Mutex
		published []received
	)
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(published) }
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range total {
			data := fmt.Sprint("tick ", i)
			code, id, err := tryPost([]*server{a, c}[i%2], topic, data)
			if err != nil || code != http.StatusOK {
				t.Errorf("publish %d: status %d: %v", i, code, err)
				return
			}
			mu.Lock()
			published = append(published, received{id, "e", data})
			mu.Unlock()
			time.Sleep(2 * time.Millisecond)
		}
	})
	for count() < killAt {
		time.Sleep(time.Millisecond)
	}
	b.kill(t)
	t.Logf("killed B after %d events", count())

	got := make([][]received, clients)
	var onA []*streamClient
	for i, cl := range onB {
		before, err := cl.collect(10 * time.Second) // until the stream breaks
		if err == nil || len(before) == 0 {
			t.Fatalf("client %d: stream of B ended with %v after %d events; want an error after some", i, err, len(before))
		}
		got[i] = before
		onA = append(onA, openStream(t, a, topic, before[len(before)-1].ID))
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	t.Logf("clients had %d, %d and %d events from B; the rest from A", len(got[0]), len(got[1]), len(got[2]))
	for i, cl := range onA {
		for len(got[i]) < total {
			got[i] = append(got[i], cl.next(t, 10*time.Second))
		}
		cl.expectQuiet(t, fmt.Sprint("client ", i), 200*time.Millisecond)
		if !slices.Equal(got[i], published) {
			t.Errorf("client %d: the events received differ from those published (lost, doubled or reordered)", i)
		}
	}
}

// TestClusterNATSOutage: while NATS is down, publishing answers 503 and
// streams stay open; when it is back, publishing works again and the
// clients get the new events, with nothing missing before them.
func TestClusterNATSOutage(t *testing.T) {
	checkLeaks(t)
	ns, s := startCluster(t, 2)
	a, b := s[0], s[1]
	onB := openStream(t, b, "t", "")
	before := received{mustPost(t, a, "t", "before"), "e", "before"}
	onB.expect(t, "client of B", []received{before})

	ns.Stop()
	deadline := time.Now().Add(10 * time.Second)
	code, _ := post(t, a, "t", "during")
	for code == http.StatusOK && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		code, _ = post(t, a, "t", "during")
	}
	if code != http.StatusServiceUnavailable {
		t.Fatalf("publish while NATS is down: status %d, want 503", code)
	}

	ns.Start()
	deadline = time.Now().Add(20 * time.Second)
	code, id := post(t, a, "t", "after")
	for code != http.StatusOK && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		code, id = post(t, a, "t", "after")
	}
	if code != http.StatusOK {
		t.Fatalf("publish after NATS came back: status %d", code)
	}
	onB.expect(t, "client of B across the outage", []received{{id, "e", "after"}})
	onB.expectQuiet(t, "client of B", 200*time.Millisecond)
}

// TestEmbeddedRestart: one instance with -nats-embedded is killed and
// started again on the same directory: its history and IDs are kept,
// and a client resuming with its Last-Event-ID misses nothing.
func TestEmbeddedRestart(t *testing.T) {
	checkLeaks(t)
	dir := buildApp(t)
	store := t.TempDir()
	srv := startInstance(t, dir, "-nats-embedded", store)
	cl := openStream(t, srv, "t", "")
	var want []received
	for i := range 3 {
		data := fmt.Sprint("before ", i)
		want = append(want, received{mustPost(t, srv, "t", data), "e", data})
	}
	cl.expect(t, "client", want)
	srv.kill(t)
	if _, err := cl.collect(10 * time.Second); err == nil {
		t.Fatal("the stream did not break when the server was killed")
	}

	srv = startInstance(t, dir, "-nats-embedded", store)
	var missed []received
	for i := range 3 {
		data := fmt.Sprint("after ", i)
		missed = append(missed, received{mustPost(t, srv, "t", data), "e", data})
	}
	cl = openStream(t, srv, "t", want[len(want)-1].ID)
	cl.expect(t, "client resumed after the restart", missed)
	cl.expectQuiet(t, "client", 200*time.Millisecond)
}

// TestClusterBrowser: each browser's own EventSource on instance A shows
// an event published on instance B.
func TestClusterBrowser(t *testing.T) {
	_, s := startCluster(t, 2)
	a, b := s[0], s[1]
	forEachBrowser(t, func(t *testing.T, kind browserKind) {
		tab := openBrowser(t, kind)
		if err := tab.navigate(a.URL + "live"); err != nil {
			t.Fatal(err)
		}
		if _, err := pollJS[bool](tab, 30*time.Second, `document.querySelector("#state")?.textContent === "open"`); err != nil {
			t.Fatalf("the /live page on A did not open its stream: %v", err)
		}
		text := "published on B for " + string(kind)
		resp, err := httpc.Post(b.URL+"publish?topic=board&event=board", "text/plain", strings.NewReader(text))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("publish on B: %s", resp.Status)
		}
		if _, err := pollJS[bool](tab, 10*time.Second, hasMessage(text)); err != nil {
			board, _ := evalJS[[]string](tab, boardTexts)
			t.Fatalf("the /live page on A does not show the message published on B: %v; board: %q", err, board)
		}
	})
}
