package event_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ssewasm/ssewasm/shared/event"
)

func TestRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 26, 6, 43, 11, 0, time.UTC)
	tests := []struct {
		name     string
		v        event.Named
		wantName string
		wantData string
	}{
		{"connecttime", event.ConnectTime{Time: at}, "connecttime", "2026-11-26T06:43:11Z"},
		{"ping", event.Ping{Time: at}, "", "2026-11-26T06:43:11Z"},
		{"stats", event.Stats{At: 1, Clients: 2, EventsPerSecond: 3.5, MemoryBytes: 4, Goroutines: 5}, "stats",
			`{"at":1,"clients":2,"eventsPerSecond":3.5,"memoryBytes":4,"goroutines":5}`},
		{"board", event.BoardMessage{Text: "<b>hi</b>\nthere"}, "board", "<b>hi</b>\nthere"},
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
	ct, err := event.Decode[event.ConnectTime]("2026-11-26T06:43:11Z")
	if err != nil || !ct.Time.Equal(at) {
		t.Fatalf("Decode ConnectTime = %v, %v", ct, err)
	}
	p, err := event.Decode[event.Ping]("2026-11-26T06:43:11Z")
	if err != nil || !p.Time.Equal(at) {
		t.Fatalf("Decode Ping = %v, %v", p, err)
	}
	st, err := event.Decode[event.Stats](`{"at":1,"clients":2,"eventsPerSecond":3.5,"memoryBytes":4,"goroutines":5}`)
	if err != nil || st != (event.Stats{At: 1, Clients: 2, EventsPerSecond: 3.5, MemoryBytes: 4, Goroutines: 5}) {
		t.Fatalf("Decode Stats = %+v, %v", st, err)
	}
	b, err := event.Decode[event.BoardMessage]("line\nline")
	if err != nil || b.Text != "line\nline" {
		t.Fatalf("Decode BoardMessage = %+v, %v", b, err)
	}
}

func TestDecodeBadPayload(t *testing.T) {
	_, err := event.Decode[event.Ping]("not a time")
	if !errors.Is(err, event.ErrDecode) {
		t.Fatalf("err = %v, want ErrDecode", err)
	}
	_, err = event.Decode[event.Stats]("{not json")
	if !errors.Is(err, event.ErrDecode) {
		t.Fatalf("err = %v, want ErrDecode", err)
	}
}

func TestNameOf(t *testing.T) {
	if w, l := event.NameOf[event.Ping](); w != "" || l != "message" {
		t.Errorf("Ping: %q %q", w, l)
	}
	if w, l := event.NameOf[event.ConnectTime](); w != "connecttime" || l != "connecttime" {
		t.Errorf("ConnectTime: %q %q", w, l)
	}
}

func ExampleEncode() {
	name, data, _ := event.Encode(event.ConnectTime{Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)})
	fmt.Printf("event: %s\ndata: %s\n", name, data)
	// Output:
	// event: connecttime
	// data: 2026-01-02T03:04:05Z
}
