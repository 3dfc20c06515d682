package sse

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/ssewasm/ssewasm/shared/protocol"
)

func lastIDQuery(id string, topics ...string) string {
	return topicsQuery(topics...) + "&" + protocol.LastEventIDParam + "=" + url.QueryEscape(id)
}

func TestReplay(t *testing.T) { run(t, testReplay) }

func testReplay(t *testing.T, mode testMode) {
	b, srv := newTestBroker(t, mode, Options{})
	var ids []string
	for i := range 6 {
		topic := "a"
		if i%2 == 1 {
			topic = "b"
		}
		ids = append(ids, publish(t, b, topic, strconv.Itoa(i)))
	}
	// ids: 0a 1b 2a 3b 4a 5b

	t.Run("header", func(t *testing.T) {
		c := connect(t, srv, topicsQuery("a"), http.Header{"Last-Event-ID": {ids[0]}})
		if got := datas(c.events(2)); !slices.Equal(got, []string{"2", "4"}) {
			t.Errorf("replayed %q, want 2 4", got)
		}
	})
	t.Run("query parameter", func(t *testing.T) {
		c := connect(t, srv, lastIDQuery(ids[1], "a", "b"), nil)
		got := c.events(4)
		if d := datas(got); !slices.Equal(d, []string{"2", "3", "4", "5"}) {
			t.Errorf("replayed %q, want 2 3 4 5", d)
		}
		if got[0].ID != ids[2] || got[3].ID != ids[5] {
			t.Errorf("replayed IDs %s..%s, want %s..%s", got[0].ID, got[3].ID, ids[2], ids[5])
		}
	})
	t.Run("header wins", func(t *testing.T) {
		c := connect(t, srv, lastIDQuery(ids[0], "b"), http.Header{"Last-Event-ID": {ids[3]}})
		if got := datas(c.events(1)); !slices.Equal(got, []string{"5"}) {
			t.Errorf("replayed %q, want 5", got)
		}
	})
	t.Run("up to date", func(t *testing.T) {
		c := connect(t, srv, topicsQuery("a", "b"), http.Header{"Last-Event-ID": {ids[5]}})
		c.expectNothing(30 * time.Millisecond)
		publish(t, b, "a", "live")
		if e := c.nextEvent(); e.Data != "live" {
			t.Errorf("got %+v, want the live event", e)
		}
	})
	t.Run("then live", func(t *testing.T) {
		c := connect(t, srv, topicsQuery("b"), http.Header{"Last-Event-ID": {ids[2]}})
		id := publish(t, b, "b", "live b")
		got := c.events(3)
		if d := datas(got); !slices.Equal(d, []string{"3", "5", "live b"}) || got[2].ID != id {
			t.Errorf("got %+v", got)
		}
	})
}

// gap reads a stream's first event and checks it is a gap.
func expectGap(t *testing.T, c *testClient, sent string, reason protocol.GapReason, head string) {
	t.Helper()
	e := c.nextEvent()
	if e.Name != protocol.GapEvent {
		t.Fatalf("first event %+v, want %s", e, protocol.GapEvent)
	}
	var data struct {
		LastEventID string `json:"lastEventId"`
		Reason      string `json:"reason"`
	}
	if err := json.Unmarshal([]byte(e.Data), &data); err != nil {
		t.Fatalf("gap data %q: %v", e.Data, err)
	}
	if data.Reason != string(reason) || data.LastEventID != sent {
		t.Errorf("gap data %+v, want reason %s and lastEventId %q", data, reason, sent)
	}
	if e.ID != head {
		t.Errorf("gap ID %q, want %q (the newest in history)", e.ID, head)
	}
}

func TestReplayGaps(t *testing.T) { run(t, testReplayGaps) }

func testReplayGaps(t *testing.T, mode testMode) {
	clock := &fakeClock{now: time.Unix(1e9, 0)}
	eng := NewMemoryEngine(MemoryOptions{HistorySize: 5, HistoryAge: time.Minute, Now: clock.Now})
	b, srv := newTestBroker(t, mode, Options{Engine: eng})
	other, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	otherID := publish(t, other, "a", "elsewhere")
	other.Shutdown(t.Context())

	var ids []string
	for i := range 8 { // history keeps the last 5: ids[3:]
		ids = append(ids, publish(t, b, "a", strconv.Itoa(i)))
	}
	head := ids[7]
	epoch := eng.Epoch()

	for _, tt := range []struct {
		name, id string
		reason   protocol.GapReason
	}{
		{"other broker's epoch", otherID, protocol.GapUnknown},
		{"ahead of history", epoch + "-1000", protocol.GapUnknown},
		{"malformed", "not an id", protocol.GapMalformed},
		{"malformed: no seq", epoch + "-", protocol.GapMalformed},
		{"malformed: leading zero", epoch + "-03", protocol.GapMalformed},
		{"malformed: too long", epoch + "-" + string(make([]byte, 300)), protocol.GapMalformed},
		{"expired by count", ids[1], protocol.GapExpired},
		{"expired by count, just", ids[1], protocol.GapExpired},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := connect(t, srv, lastIDQuery(tt.id, "a"), nil)
			sent := tt.id
			if len(sent) > protocol.MaxIDLen {
				sent = sent[:protocol.MaxIDLen]
			}
			expectGap(t, c, sent, tt.reason, head)
			live := publish(t, b, "a", "live")
			if e := c.nextEvent(); e.ID != live {
				t.Errorf("after the gap got %+v, want the live event %s", e, live)
			}
			head = live
		})
	}

	t.Run("oldest kept replays", func(t *testing.T) {
		// The history holds the last 5 events; resuming from the one just
		// before them loses nothing.
		r, err := eng.Replay(t.Context(), []string{"a"}, protocol.FormatID(epoch, seqOf(t, head)-5))
		if err != nil || r.Gap != "" || len(r.Messages) != 5 {
			t.Fatalf("Replay = %d messages, gap %q, %v; want 5, no gap", len(r.Messages), r.Gap, err)
		}
		r, _ = eng.Replay(t.Context(), []string{"a"}, protocol.FormatID(epoch, seqOf(t, head)-6))
		if r.Gap != protocol.GapExpired {
			t.Fatalf("one further back: gap %q, want expired", r.Gap)
		}
	})

	t.Run("expired by age", func(t *testing.T) {
		c := connect(t, srv, lastIDQuery(head, "a"), nil) // up to date
		recent := publish(t, b, "a", "recent")
		if e := c.nextEvent(); e.ID != recent {
			t.Fatalf("got %+v", e)
		}
		clock.Advance(59 * time.Second)
		c2 := connect(t, srv, lastIDQuery(head, "a"), nil)
		if e := c2.nextEvent(); e.ID != recent {
			t.Fatalf("59 s later: got %+v, want a replay of %s", e, recent)
		}
		clock.Advance(2 * time.Second) // recent is now 61 s old
		c3 := connect(t, srv, lastIDQuery(head, "a"), nil)
		expectGap(t, c3, head, protocol.GapExpired, recent)
		// From the newest ID, nothing is missing, though history is empty.
		c4 := connect(t, srv, lastIDQuery(recent, "a"), nil)
		c4.expectNothing(30 * time.Millisecond)
	})

	if s := b.Stats(); s.Gaps != 9 {
		t.Errorf("BrokerStats.Gaps = %d, want 9", s.Gaps)
	}
}

// The gap event has no id line when nothing was ever published.
func TestGapEmptyHistory(t *testing.T) { run(t, testGapEmptyHistory) }

func testGapEmptyHistory(t *testing.T, mode testMode) {
	_, srv := newTestBroker(t, mode, Options{})
	c := connect(t, srv, "", http.Header{"Last-Event-ID": {"abc-1"}})
	expectGap(t, c, "abc-1", protocol.GapUnknown, "")
}
