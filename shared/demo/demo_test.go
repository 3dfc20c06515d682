package demo_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ssewasm/ssewasm/shared/demo"
	"github.com/ssewasm/ssewasm/shared/event"
	"github.com/ssewasm/ssewasm/shared/protocol"
	"github.com/ssewasm/ssewasm/shared/topic"
)

func TestRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 26, 6, 43, 11, 0, time.UTC)
	tests := []struct {
		name     string
		v        event.Named
		wantName string
		wantData string
	}{
		{"connecttime", demo.ConnectTime{Time: at}, "connecttime", "2026-11-26T06:43:11Z"},
		{"ping", demo.Ping{Time: at}, "", "2026-11-26T06:43:11Z"},
		{"stats", demo.ServerStats{At: 1, Clients: 2, EventsPerSecond: 3.5, MemoryBytes: 4, Goroutines: 5}, "stats",
			`{"at":1,"clients":2,"eventsPerSecond":3.5,"memoryBytes":4,"goroutines":5}`},
		{"board", demo.BoardMessage{Text: "<b>hi</b>\nthere"}, "board", "<b>hi</b>\nthere"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name, data, err := event.Encode(tt.v)
			if err != nil {
				t.Fatal(err)
			}
			if name != tt.wantName || data != tt.wantData {
				t.Fatalf("Encode = %q, %q; want %q, %q", name, data, tt.wantName, tt.wantData)
			}
		})
	}
	ct, err := event.Decode[demo.ConnectTime]("2026-11-26T06:43:11Z")
	if err != nil || !ct.Time.Equal(at) {
		t.Fatalf("Decode ConnectTime = %v, %v", ct, err)
	}
	p, err := event.Decode[demo.Ping]("2026-11-26T06:43:11Z")
	if err != nil || !p.Time.Equal(at) {
		t.Fatalf("Decode Ping = %v, %v", p, err)
	}
	st, err := demo.StatsTopic.Decode(`{"at":1,"clients":2,"eventsPerSecond":3.5,"memoryBytes":4,"goroutines":5}`)
	if err != nil || st != (demo.ServerStats{At: 1, Clients: 2, EventsPerSecond: 3.5, MemoryBytes: 4, Goroutines: 5}) {
		t.Fatalf("Decode ServerStats = %+v, %v", st, err)
	}
	b, err := demo.BoardTopic.Decode("line\nline")
	if err != nil || b.Text != "line\nline" {
		t.Fatalf("Decode BoardMessage = %+v, %v", b, err)
	}
}

func TestDecodeBadPayload(t *testing.T) {
	_, err := event.Decode[demo.Ping]("not a time")
	if !errors.Is(err, event.ErrDecode) {
		t.Fatalf("err = %v, want ErrDecode", err)
	}
	_, err = demo.StatsTopic.Decode("{not json")
	if !errors.Is(err, event.ErrDecode) {
		t.Fatalf("err = %v, want ErrDecode", err)
	}
}

// TestTopicsArePublishable: every demo topic is public, and none of the
// demo's event names is reserved for the broker's own events.
func TestTopicsArePublishable(t *testing.T) {
	for _, tp := range []topic.Ref{demo.StatsTopic, demo.BoardTopic} {
		if !topic.Valid(tp.Name()) {
			t.Errorf("topic %q is not valid", tp.Name())
		}
	}
	for _, ok := range []bool{demo.StatsTopic.MayRead(""), demo.BoardTopic.MayRead("")} {
		if !ok {
			t.Error("a demo topic is not readable by an anonymous page")
		}
	}
	for _, v := range []event.Named{demo.ConnectTime{}, demo.Ping{}, demo.ServerStats{}, demo.BoardMessage{}} {
		if name := v.EventName(); strings.HasPrefix(name, protocol.ReservedPrefix) || strings.ContainsAny(name, "\r\n\x00") {
			t.Errorf("%T: the event name %q cannot be published", v, name)
		}
	}
}
