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

// TestWireForms: each demo event's name and data on the wire (the
// classic demo's are the Node original's plain text), and back.
func TestWireForms(t *testing.T) {
	at := time.Date(2026, 11, 26, 6, 43, 11, 0, time.UTC)
	stats := demo.ServerStats{At: 1, Clients: 2, EventsPerSecond: 3.5, MemoryBytes: 4, Goroutines: 5}
	for _, tc := range []struct {
		v          event.Named
		name, data string
		back       func(data string) (any, error) // decodes data into the type of v
	}{
		{demo.ConnectTime{Time: at}, "connecttime", "2026-11-26T06:43:11Z",
			func(d string) (any, error) { return event.Decode[demo.ConnectTime](d) }},
		{demo.Ping{Time: at}, "", "2026-11-26T06:43:11Z",
			func(d string) (any, error) { return event.Decode[demo.Ping](d) }},
		{stats, "stats", `{"at":1,"clients":2,"eventsPerSecond":3.5,"memoryBytes":4,"goroutines":5}`,
			func(d string) (any, error) { return demo.StatsTopic.Decode(d) }},
		{demo.BoardMessage{Text: "<b>hi</b>\nthere"}, "board", "<b>hi</b>\nthere",
			func(d string) (any, error) { return demo.BoardTopic.Decode(d) }},
	} {
		name, data, err := event.Encode(tc.v)
		if err != nil || name != tc.name || data != tc.data {
			t.Errorf("%T: Encode = %q, %q, %v; want %q, %q", tc.v, name, data, err, tc.name, tc.data)
			continue
		}
		if back, err := tc.back(data); err != nil || back != any(tc.v) {
			t.Errorf("%T: decoded %+v, %v; want %+v", tc.v, back, err, tc.v)
		}
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
