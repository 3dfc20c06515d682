package main

import (
	"context"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ssewasm/ssewasm/server/sse"
)

// TestChainReads runs a chain's stream reader against a real broker: it
// accounts for the events of its topics, resumes with Last-Event-ID, and
// takes an sse.gap for an ID of another history as a failure.
func TestChainReads(t *testing.T) {
	b, err := sse.New(sse.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b)
	defer srv.Close()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		b.Shutdown(ctx)
	}()
	s := &soak{
		topics: []string{"t0", "t1"}, endCh: make(chan struct{}),
		limits: historyLimits{size: 1000, bytes: 1 << 20, age: time.Hour},
	}
	p := newPopulation(s)
	in := &instance{name: "a", addr: strings.TrimPrefix(srv.URL, "http://")}
	c := &chain{soak: s, src: netip.MustParseAddr("127.1.0.1"), topics: []int{0}}
	c.acct.topics = 1 << 0

	publish := func(k int) {
		t.Helper()
		id, err := b.Publish(context.Background(), s.topics[k], sse.Event{Data: makeData(k, time.Now(), 50)})
		if err != nil {
			t.Fatal(err)
		}
		s.ledger.record(seqOf(id), k, 50, time.Now().UnixNano())
	}
	// stream opens a stream, publishes n events on each topic, waits for
	// them, and closes it.
	stream := func(n int) {
		t.Helper()
		conn, body, err := c.dial(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { c.read(p, body, 0); close(done) }()
		for range n {
			publish(0)
			publish(1)
		}
		want := s.ledger.newestByTopic(2)[0]
		for deadline := time.Now().Add(5 * time.Second); c.lastSeq.Load() < want && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
		conn.Close()
		<-done
	}
	stream(3)
	publish(0) // missed while away: the resumption replays it
	stream(2)
	if v := c.acct.check(&s.ledger); v.received != 6 || v.lost != 0 || c.acct.repeats != 0 {
		t.Errorf("after a resumption: received %d, lost %d, repeats %d; want 6, 0, 0", v.received, v.lost, c.acct.repeats)
	}
	if p.misrouted.Load() != 0 {
		t.Errorf("%d events of t1 taken for t0's", p.misrouted.Load())
	}
	c.lastID = "otherepoch-5" // unknown to this history: a gap, within history by definition
	stream(1)
	if c.acct.gapsBad != 1 || c.acct.gapsLegit != 0 {
		t.Errorf("gaps %d bad, %d legitimate; want 1, 0", c.acct.gapsBad, c.acct.gapsLegit)
	}
}
