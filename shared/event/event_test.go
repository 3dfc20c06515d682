package event_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ssewasm/ssewasm/shared/event"
)

// stamp travels as text: it implements encoding.TextMarshaler.
type stamp struct{ T time.Time }

func (stamp) EventName() string               { return "stamp" }
func (s stamp) MarshalText() ([]byte, error)  { return s.T.MarshalText() }
func (s *stamp) UnmarshalText(b []byte) error { return s.T.UnmarshalText(b) }

// tick is unnamed and travels as text.
type tick struct{ N string }

func (tick) EventName() string               { return "" }
func (t tick) MarshalText() ([]byte, error)  { return []byte(t.N), nil }
func (t *tick) UnmarshalText(b []byte) error { t.N = string(b); return nil }

func TestRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 26, 6, 43, 11, 0, time.UTC)
	tests := []struct {
		name     string
		v        event.Named
		wantName string
		wantData string
	}{
		{"text", stamp{at}, "stamp", "2026-11-26T06:43:11Z"},
		{"unnamed", tick{"7"}, "", "7"},
		{"json", Score{"blue", 3}, "score", `{"team":"blue","points":3}`},
		{"text with lines", tick{"<b>hi</b>\nthere"}, "", "<b>hi</b>\nthere"},
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
	s, err := event.Decode[stamp]("2026-11-26T06:43:11Z")
	if err != nil || !s.T.Equal(at) {
		t.Fatalf("Decode stamp = %v, %v", s, err)
	}
	sc, err := event.Decode[Score](`{"team":"blue","points":3}`)
	if err != nil || sc != (Score{"blue", 3}) {
		t.Fatalf("Decode Score = %+v, %v", sc, err)
	}
	tk, err := event.Decode[tick]("line\nline")
	if err != nil || tk.N != "line\nline" {
		t.Fatalf("Decode tick = %+v, %v", tk, err)
	}
}

func TestDecodeBadPayload(t *testing.T) {
	_, err := event.Decode[stamp]("not a time")
	if !errors.Is(err, event.ErrDecode) {
		t.Fatalf("err = %v, want ErrDecode", err)
	}
	_, err = event.Decode[Score]("{not json")
	if !errors.Is(err, event.ErrDecode) {
		t.Fatalf("err = %v, want ErrDecode", err)
	}
}

func TestNameOf(t *testing.T) {
	if w, l := event.NameOf[tick](); w != "" || l != event.Unnamed {
		t.Errorf("tick: %q %q", w, l)
	}
	if w, l := event.NameOf[stamp](); w != "stamp" || l != "stamp" {
		t.Errorf("stamp: %q %q", w, l)
	}
}

// Score is a payload that travels as JSON (it has no MarshalText) under
// the event name "score".
type Score struct {
	Team   string `json:"team"`
	Points int    `json:"points"`
}

func (Score) EventName() string { return "score" }

func ExampleEncode() {
	name, data, _ := event.Encode(Score{Team: "blue", Points: 3})
	fmt.Printf("event: %s\ndata: %s\n", name, data)
	// Output:
	// event: score
	// data: {"team":"blue","points":3}
}

func ExampleDecode() {
	s, err := event.Decode[Score](`{"team":"blue","points":3}`)
	fmt.Println(s.Team, s.Points, err)
	// Output: blue 3 <nil>
}
