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
}

func TestDecodeBadPayload(t *testing.T) {
	_, err := event.Decode[event.Ping]("not a time")
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
