package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/ssewasm/ssewasm/server/sse"
	"github.com/ssewasm/ssewasm/server/sse/jetstream/jstest"
	"github.com/ssewasm/ssewasm/shared/protocol"
)

// postKeys publishes body on topic with the Idempotency-Key headers keys
// (none if empty) and returns the status, the decoded JSON and the headers.
func postKeys(t *testing.T, base, topic, body string, keys ...string) (int, map[string]string, http.Header) {
	t.Helper()
	return postWith(t, base, "topic="+topic, body, http.Header{"Idempotency-Key": keys})
}

// TestPublishIdempotencyKey runs POST /publish with Idempotency-Key
// through a sequence of publishes on one server (history of 3 events,
// so the order of the steps matters):
// each answer, then what a subscriber received, the counters and
// /metrics.
func TestPublishIdempotencyKey(t *testing.T) {
	ts, svc := newTestService(t, defaults(t, "-history-size", "3"))
	stream := openStream(t, ts.URL+"/events?topic=a")
	if stream.StatusCode != 200 {
		t.Fatalf("GET /events: %d", stream.StatusCode)
	}
	ids := map[string]string{} // the ID each step that stored got, by step name
	steps := []struct {
		name, topic, body string
		keys              []string
		status            int
		same              string // "": a new ID; else the step whose ID comes back
		msg               string // part of the error, for 4xx
	}{
		{name: "first", topic: "a", body: "x", keys: []string{"k1"}, status: 200},
		{name: "retry", topic: "a", body: "x", keys: []string{"k1"}, status: 200, same: "first"},
		{name: "key for another body", topic: "a", body: "y", keys: []string{"k1"}, status: 422, msg: "another name, data or retry"},
		{name: "different key", topic: "a", body: "x", keys: []string{"k2"}, status: 200},
		{name: "same key, other topic", topic: "b", body: "x", keys: []string{"k1"}, status: 200},
		{name: "no key", topic: "a", body: "x", status: 200},
		{name: "empty key is no key", topic: "a", body: "x", keys: []string{""}, status: 200},
		{name: "key over 256 bytes", topic: "a", body: "x", keys: []string{strings.Repeat("k", 257)}, status: 400, msg: "257 bytes, over the limit"},
		{name: "key with a space", topic: "a", body: "x", keys: []string{"k 1"}, status: 400, msg: "not visible ASCII (a space, a control character or non-ASCII) at byte 1"},
		{name: "key with a tab", topic: "a", body: "x", keys: []string{"k\t1"}, status: 400, msg: "at byte 1"},
		{name: "non-ASCII key", topic: "a", body: "x", keys: []string{"clé"}, status: 400, msg: "at byte 2"},
		{name: "two keys", topic: "a", body: "x", keys: []string{"k1", "k2"}, status: 400, msg: "once"},
		{name: "key at 256 bytes", topic: "a", body: "x", keys: []string{strings.Repeat("k", 256)}, status: 200},
		// Three events on a since "first": it has left the history of 3.
		{name: "retry after its event left", topic: "a", body: "x", keys: []string{"k1"}, status: 200},
		{name: "its retry", topic: "a", body: "x", keys: []string{"k1"}, status: 200, same: "retry after its event left"},
	}
	for _, s := range steps {
		status, m, h := postKeys(t, ts.URL, s.topic, s.body, s.keys...)
		replayed := h.Get("Idempotent-Replayed")
		switch {
		case status != s.status:
			t.Errorf("%s: status %d %v, want %d", s.name, status, m, s.status)
		case status != 200:
			if !strings.Contains(m["error"], s.msg) || replayed != "" {
				t.Errorf("%s: error %q (want it to mention %q), Idempotent-Replayed %q", s.name, m["error"], s.msg, replayed)
			}
		case s.same != "":
			if m["id"] != ids[s.same] || replayed != "true" || len(m) != 1 {
				t.Errorf("%s: %v, Idempotent-Replayed %q; want {id: %s} (the ID of %q) and true", s.name, m, replayed, ids[s.same], s.same)
			}
		default:
			for step, id := range ids {
				if m["id"] == id {
					t.Errorf("%s: ID %s again, as %q", s.name, id, step)
				}
			}
			if m["id"] == "" || replayed != "" || len(m) != 1 {
				t.Errorf("%s: %v, Idempotent-Replayed %q; want a new {id} and no replay header", s.name, m, replayed)
			}
			ids[s.name] = m["id"]
		}
	}

	// The subscriber of a got every stored event on a once, in order, and
	// nothing for the retries.
	_, end, _ := postKeys(t, ts.URL, "a", "end")
	var want, got []string
	for _, s := range steps {
		if id, ok := ids[s.name]; ok && s.topic == "a" {
			want = append(want, id)
		}
	}
	want = append(want, end["id"])
	d := sse.NewDecoder(stream.Body)
	for len(got) == 0 || got[len(got)-1] != end["id"] {
		e, err := d.Next()
		if err != nil {
			t.Fatalf("reading the stream after %v: %v", got, err)
		}
		got = append(got, e.ID)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("the subscriber got %v, want %v", got, want)
	}
	if s := svc.broker.Stats(); s.Published != uint64(len(ids)+1) || s.Deduplicated != 2 {
		t.Errorf("Published %d, Deduplicated %d; want %d and 2", s.Published, s.Deduplicated, len(ids)+1)
	}

	resp, err := http.Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, line := range []string{
		fmt.Sprintf(`ssewasm_refused_total{reason=%q} 5`, refusedIdempotencyKey),
		"ssewasm_publishes_deduplicated_total 2",
	} {
		if !strings.Contains(string(body), line+"\n") {
			t.Errorf("/metrics lacks %s", line)
		}
	}
}

// TestPublishIdempotencyKeyConcurrent: 32 clients post the same event
// with one key at once (a retry storm): one event is stored, every
// answer carries its ID, and all but one say Idempotent-Replayed.
func TestPublishIdempotencyKeyConcurrent(t *testing.T) {
	ts, svc := newTestService(t, defaults(t))
	const clients = 32
	type answer struct{ id, replayed string }
	answers := make(chan answer, clients) // buffered: no client waits for the reader
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			status, m, h := postKeys(t, ts.URL, "a", "order", "order-7f3a")
			if status != 200 {
				t.Errorf("status %d %v", status, m)
			}
			answers <- answer{m["id"], h.Get("Idempotent-Replayed")}
		})
	}
	wg.Wait()
	close(answers)
	ids, replayed := map[string]int{}, 0
	for a := range answers {
		ids[a.id]++
		if a.replayed == "true" {
			replayed++
		}
	}
	if len(ids) != 1 || replayed != clients-1 {
		t.Errorf("IDs %v, %d replayed; want one ID and %d replayed", ids, replayed, clients-1)
	}
	if s := svc.broker.Stats(); s.Published != 1 || s.Deduplicated != clients-1 {
		t.Errorf("Published %d, Deduplicated %d", s.Published, s.Deduplicated)
	}
}

// TestPublishIdempotencyKeyCluster: two servers on one NATS JetStream; a
// publish through A retried through B is one event, and B answers with
// A's ID and Idempotent-Replayed (Nats-Msg-Id deduplication).
func TestPublishIdempotencyKeyCluster(t *testing.T) {
	n := jstest.Start(t)
	a, _ := newTestService(t, defaults(t, "-nats", n.URL()))
	b, svcB := newTestService(t, defaults(t, "-nats", n.URL()))
	status, first, _ := postKeys(t, a.URL, "orders", "tea", "order-1")
	if status != 200 {
		t.Fatalf("publish through A: %d %v", status, first)
	}
	status, retry, h := postKeys(t, b.URL, "orders", "tea", "order-1")
	if status != 200 || retry["id"] != first["id"] || h.Get("Idempotent-Replayed") != "true" {
		t.Errorf("retry through B: %d %v, Idempotent-Replayed %q; want %s and true", status, retry, h.Get("Idempotent-Replayed"), first["id"])
	}
	status, m, _ := postKeys(t, b.URL, "orders", "cake", "order-1")
	if status != 422 {
		t.Errorf("the key for another body through B: %d %v, want 422", status, m)
	}
	_, next, _ := postKeys(t, b.URL, "orders", "next")
	epoch, seq, err := protocol.ParseID(first["id"])
	if err != nil {
		t.Fatal(err)
	}
	if want := protocol.FormatID(epoch, seq+1); next["id"] != want {
		t.Errorf("the next event got %s, want %s: the retry stored something", next["id"], want)
	}
	if s := svcB.broker.Stats(); s.Published != 1 || s.Deduplicated != 1 {
		t.Errorf("B: Published %d, Deduplicated %d; want 1 and 1", s.Published, s.Deduplicated)
	}
}

// TestPublishIdempotencyKeyCORS: a page of an allowed origin may send
// Idempotency-Key (the preflight allows it) and read Idempotent-Replayed
// (the answer exposes it).
func TestPublishIdempotencyKeyCORS(t *testing.T) {
	ts, _ := newTestService(t, defaults(t, "-allow-origin", "https://app.example"))
	req, _ := http.NewRequest("OPTIONS", ts.URL+"/publish", nil)
	req.Header.Set("Origin", "https://app.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "idempotency-key")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 || !strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Idempotency-Key") {
		t.Errorf("preflight: %d, Allow-Headers %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Headers"))
	}
	for _, origin := range []string{"https://app.example", "https://evil.example"} {
		req, _ = http.NewRequest("POST", ts.URL+"/publish", strings.NewReader("x"))
		req.Header.Set("Origin", origin)
		req.Header.Set("Idempotency-Key", "k")
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := map[string]string{"https://app.example": "Idempotent-Replayed, Retry-After"}[origin]
		if got := resp.Header.Get("Access-Control-Expose-Headers"); resp.StatusCode != 200 || got != want {
			t.Errorf("POST from %s: %d, Expose-Headers %q, want %q", origin, resp.StatusCode, got, want)
		}
	}
}
