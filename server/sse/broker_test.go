package sse

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"
)

func TestBrokerTopicsIsolate(t *testing.T) { run(t, testBrokerTopicsIsolate) }

func testBrokerTopicsIsolate(t *testing.T, mode testMode) {
	b, srv := newTestBroker(t, mode, Options{})
	a := connect(t, srv, topicsQuery("a"), nil)
	ab := connect(t, srv, topicsQuery("a", "b"), nil)
	def := connect(t, srv, "", nil)
	waitFor(t, "3 clients", func() bool { return b.Stats().Clients == 3 })

	ids := []string{
		publish(t, b, "a", "a1"),
		publish(t, b, "b", "b1"),
		publish(t, b, "a", "a2"),
		publish(t, b, "", "d1"),
		publish(t, b, "b", "b2"),
	}
	if got := datas(a.events(2)); !slices.Equal(got, []string{"a1", "a2"}) {
		t.Errorf("client on a got %q", got)
	}
	got := ab.events(4)
	if d := datas(got); !slices.Equal(d, []string{"a1", "b1", "a2", "b2"}) {
		t.Errorf("client on a+b got %q", d)
	}
	if want := []string{ids[0], ids[1], ids[2], ids[4]}; got[0].ID != want[0] || got[3].ID != want[3] {
		t.Errorf("IDs %v, want %v", got, want)
	}
	for i := 1; i < len(got); i++ {
		if seqOf(t, got[i].ID) <= seqOf(t, got[i-1].ID) {
			t.Errorf("not in seq order: %s after %s", got[i].ID, got[i-1].ID)
		}
	}
	if e := def.nextEvent(); e.Data != "d1" || e.Name != "msg" {
		t.Errorf("client on the default topic got %+v", e)
	}
	a.expectNothing(50 * 1e6)
	_ = http.StatusOK
}

// With a flush window, events published within it reach the client
// together and in order, on every path; a heartbeat still comes alone.
func TestFlushWindow(t *testing.T) { run(t, testFlushWindow) }

func testFlushWindow(t *testing.T, mode testMode) {
	b, srv := newTestBroker(t, mode, Options{FlushWindow: 20 * time.Millisecond, Heartbeat: 100 * time.Millisecond})
	c := connect(t, srv, topicsQuery("t"), nil)
	waitFor(t, "the client", func() bool { return b.Stats().Clients == 1 })
	var want []string
	for i := range 10 {
		want = append(want, fmt.Sprint(i))
		publish(t, b, "t", want[i])
	}
	if got := datas(c.events(10)); !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if it := c.next(); !it.IsComm {
		t.Errorf("got %+v, want a heartbeat", it)
	}
}
