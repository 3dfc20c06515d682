package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssewasm/ssewasm/server/sse/jetstream/jstest"
	"github.com/ssewasm/ssewasm/shared/protocol"
)

// The scale-out tests run instances of the real server binary against a
// JetStream server, all on loopback: each test twice (jstest.Run), with
// the nats-server linked into the test process (2.15, the newest we
// support) and with the nats-server program installed (Debian's 2.9, the
// oldest).

// startCluster starts n instances with -nats on ns, and extra flags.
func startCluster(t *testing.T, ns *jstest.Server, n int, extra ...string) []*server {
	t.Helper()
	dir := buildApp(t)
	var srvs []*server
	for range n {
		srvs = append(srvs, startInstance(t, dir, append([]string{"-nats", ns.URL()}, extra...)...))
	}
	return srvs
}

// TestClusterFanOut: an event published to any instance reaches the
// clients of every instance, with the same ID everywhere.
func TestClusterFanOut(t *testing.T) {
	checkLeaks(t) // here: after every subtest's NATS has stopped
	jstest.Run(t, testClusterFanOut)
}

func testClusterFanOut(t *testing.T, ns *jstest.Server) {
	s := startCluster(t, ns, 3)
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
	jstest.Run(t, testClusterResumeElsewhere)
}

func testClusterResumeElsewhere(t *testing.T, ns *jstest.Server) {
	s := startCluster(t, ns, 3)
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
	if gap.Event != protocol.GapEvent || gap.ID != live.ID {
		t.Errorf("unknown ID: got %+v, want a gap event with ID %s", gap, live.ID)
	}
}

// TestClusterKill: instance B is killed (SIGKILL) while events are
// published on A and C; its clients reconnect to A with their
// Last-Event-ID and, in the end, each has every event once, in order.
func TestClusterKill(t *testing.T) {
	checkLeaks(t)
	jstest.Run(t, testClusterKill)
}

func testClusterKill(t *testing.T, ns *jstest.Server) {
	s := startCluster(t, ns, 3)
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
// streams stay open, and a client that resumes meanwhile gets the gap
// event (the history cannot be read), not a stream that ends; when NATS
// is back, with its file storage, publishing works again, every client
// gets the new events on the stream it has, and the history from before
// the outage replays.
func TestClusterNATSOutage(t *testing.T) {
	checkLeaks(t)
	jstest.Run(t, testClusterNATSOutage)
}

func testClusterNATSOutage(t *testing.T, ns *jstest.Server) {
	s := startCluster(t, ns, 2)
	a, b := s[0], s[1]
	onB := openStream(t, b, "t", "")
	first := received{mustPost(t, a, "t", "first"), "e", "first"}
	before := received{mustPost(t, a, "t", "before"), "e", "before"}
	onB.expect(t, "client of B", []received{first, before})

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
	// The replay fails once NATS's request times out: the gap, whose
	// ID is the newest event A delivered, and the stream stays open.
	resumed := openStream(t, a, "t", first.ID)
	gap := resumed.next(t, 30*time.Second)
	var data protocol.Gap
	if err := json.Unmarshal([]byte(gap.Data), &data); err != nil || gap.Event != protocol.GapEvent ||
		data != (protocol.Gap{LastEventID: first.ID, Reason: protocol.GapUnavailable}) || gap.ID != before.ID {
		t.Errorf("resuming while NATS is down: %+v, want the gap event (unavailable) for %s with ID %s", gap, first.ID, before.ID)
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
	after := received{id, "e", "after"}
	onB.expect(t, "client of B across the outage", []received{after})
	onB.expectQuiet(t, "client of B", 200*time.Millisecond)
	resumed.expect(t, "client that resumed during the outage, on the same stream", []received{after})

	again := openStream(t, b, "t", first.ID)
	again.expect(t, "client resuming from before the outage", []received{before, after})
	again.expectQuiet(t, "client resuming from before the outage", 200*time.Millisecond)
}

// TestClusterReplayInParts: a client of A cut off while events pile up
// on its two topics and a third, more than one fetch holds (over 1,000
// events on one topic; megabytes of large ones on the other), resumes on
// B: it gets every event of its topics once, in order, then live ones.
// On NATS 2.9 the replay reads a consumer per topic and merges them.
func TestClusterReplayInParts(t *testing.T) {
	checkLeaks(t)
	jstest.Run(t, testClusterReplayInParts)
}

func testClusterReplayInParts(t *testing.T, ns *jstest.Server) {
	s := startCluster(t, ns, 2, "-publish-rate", "0", "-publish-rate-global", "0", "-log-level", "INFO")
	a, b := s[0], s[1]
	const topics = "news&topic=sport" // two topics
	onA := openStream(t, a, topics, "")
	first := received{mustPost(t, b, "news", "first"), "e", "first"}
	onA.expect(t, "client of A", []received{first})
	onA.cancel()

	var missed []received
	big := strings.Repeat("s", 300<<10)
	for i := range 1200 {
		topic, data := "news", fmt.Sprint("news ", i)
		switch {
		case i%100 == 50: // 12 of 300 KiB: 3.5 MiB, parts of 1 MiB
			topic, data = "sport", fmt.Sprint(i, big)
		case i%4 == 1:
			topic = "other" // not replayed
		}
		id := mustPost(t, []*server{a, b}[i%2], topic, data)
		if topic != "other" {
			missed = append(missed, received{id, "e", data})
		}
	}
	onB := openStream(t, b, topics, first.ID)
	for i, w := range missed {
		if got := onB.next(t, 30*time.Second); got != w {
			t.Fatalf("replayed event %d of %d: %.60q (ID %s), want %.60q (ID %s)", i, len(missed), got.Data, got.ID, w.Data, w.ID)
		}
	}
	live := received{mustPost(t, a, "sport", "live"), "e", "live"}
	onB.expect(t, "client resumed on B", []received{live})
	onB.expectQuiet(t, "client resumed on B", 200*time.Millisecond)
	// On a NATS before 2.10 the instances say they read a consumer per
	// topic: the fallback, not a failure.
	if strings.HasPrefix(ns.Version(), "2.9.") && !strings.Contains(b.log.String(), "reads them with a consumer each") {
		t.Errorf("B on NATS %s does not log that it reads a consumer per topic:\n%s", ns.Version(), b.log)
	}
}

// TestClusterRefusesOldNATS: -nats on a NATS older than 2.9.0 stops the
// server at start, with a message naming the version it needs and why.
func TestClusterRefusesOldNATS(t *testing.T) {
	dir := buildApp(t)
	url := jstest.StartFake(t, "2.8.4")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(dir, "server"), "-addr", "127.0.0.1:0", "-web", filepath.Join(dir, "web"), "-nats", url)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Fatalf("server on NATS 2.8.4: %v, want a non-zero exit\n%s", err, out)
	}
	for _, want := range []string{"is nats-server 2.8.4", "needs nats-server 2.9.0 or later", "upgrade nats-server"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("server on NATS 2.8.4 says %q, want it to say %q", out, want)
		}
	}
}

// TestClusterRestartBrowser: two instances on the nats-server program
// (Debian's 2.9), the /live page open on A in each browser. A is killed;
// events are published on B while it is down; A starts again on its
// address. The page reconnects to A with its Last-Event-ID and its board
// holds every event once, in order, with no gap.
func TestClusterRestartBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the test against the nats-server program")
	}
	dir := buildApp(t)
	forEachBrowser(t, func(t *testing.T, kind browserKind) {
		ns := jstest.StartBinary(t)
		s := startCluster(t, ns, 2)
		a, b := s[0], s[1]
		tab := openBrowser(t, kind)
		if err := tab.navigate(a.URL + "live"); err != nil {
			t.Fatal(err)
		}
		if _, err := pollJS[bool](tab, 30*time.Second, `document.querySelector("#state")?.textContent === "open"`); err != nil {
			t.Fatalf("the /live page on A did not open its stream: %v", err)
		}
		var want []string
		postBoard := func(srv *server, text string) {
			t.Helper()
			publish(t, srv.URL, text)
			want = append(want, text)
		}
		for i := range 3 {
			postBoard(b, fmt.Sprintf("%s before %d", kind, i))
		}
		if _, err := pollJS[bool](tab, 10*time.Second, hasMessage(want[len(want)-1])); err != nil {
			t.Fatalf("the page on A did not show the events published on B: %v", err)
		}

		a.kill(t)
		for i := range 5 {
			postBoard(b, fmt.Sprintf("%s while A is down %d", kind, i))
		}
		a = startServer(t, dir, a.Addr, "-retry", "200ms", "-nats", ns.URL())
		for i := range 2 {
			postBoard(b, fmt.Sprintf("%s after A restarted %d", kind, i))
		}
		if _, err := pollJS[bool](tab, 30*time.Second, hasMessage(want[len(want)-1])); err != nil {
			t.Fatalf("the page did not resume on A: %v", err)
		}
		board, err := evalJS[[]string](tab, boardTexts)
		if err != nil {
			t.Fatal(err)
		}
		slices.Reverse(board) // the newest is shown first
		if !slices.Equal(board, want) {
			t.Errorf("the board on A after its restart, oldest first: %q, want %q", board, want)
		}
		if notice, err := tab.text("#notice"); err != nil || notice != "" {
			t.Errorf("the page's notice: %q (%v), want none (no gap)", notice, err)
		}
	})
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
	s := startCluster(t, startNATS(t), 2)
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
