package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	ld "github.com/launchdarkly/eventsource"
	gosse "github.com/tmaxmax/go-sse"
)

// event is what a client dispatched: type ("" when unnamed), data, and
// the last event ID.
type event struct{ Type, Data, LastID string }

// decodeGoSSE and decodeLD read a whole stream with each library's own
// parser, as its client does (go-sse with the limit ssereader sets: its
// default refuses events over 64 KiB).
func decodeGoSSE(in string) ([]event, error) {
	var out []event
	for e, err := range gosse.Read(strings.NewReader(in), &gosse.ReadConfig{MaxEventSize: maxEvent}) {
		if err != nil {
			return out, err
		}
		out = append(out, event{e.Type, e.Data, e.LastEventID})
	}
	return out, nil
}

func decodeLD(in string) ([]event, error) {
	var out []event
	d := ld.NewDecoder(strings.NewReader(in))
	for {
		e, err := d.Decode()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, event{e.Event(), e.Data(), e.(ld.EventWithLastID).LastEventID()})
	}
}

// TestSpecDeviations pins how the two Go clients read wire input where
// the WHATWG spec (html.spec.whatwg.org, "Interpreting an event stream")
// is exact. Where a client differs, the row says so and why it does not
// matter for ssewasm's streams (docs/interop.md): our encoder never
// writes a block without a data line, nor a BOM, nor an unknown field.
// A row that starts failing means the library changed: update the row
// and docs/interop.md.
func TestSpecDeviations(t *testing.T) {
	a := []event{{"", "a", ""}}
	tests := []struct {
		name, in string
		spec     []event
		gosse    []event // when it differs from spec
		ld       []event // when it differs from spec
	}{
		{"LF", "data: a\n\n", a, nil, nil},
		{"CRLF", "data: a\r\ndata: b\r\n\r\n", []event{{"", "a\nb", ""}}, nil, nil},
		{"CR", "data: a\rdata: b\r\r", []event{{"", "a\nb", ""}}, nil, nil},
		{"no space after the colon", "data:a\n\n", a, nil, nil},
		{"only the first space is taken off", "data:  two\n\n", []event{{"", " two", ""}}, nil, nil},
		{"field without a colon", "data\n\n", []event{{"", "", ""}}, nil, nil},
		{"comment between data lines", "data: a\n:c\ndata: b\n\n", []event{{"", "a\nb", ""}}, nil, nil},
		{"incomplete event at the end is dropped", "data: a\n\ndata: b", a, nil, nil},
		{"id with NUL is ignored", "id: 1\x00\ndata: a\n\n", a, nil, nil},
		{"empty id resets the last ID", "id: 1\ndata: a\n\nid\ndata: b\n\n", []event{{"", "a", "1"}, {"", "b", ""}}, nil, nil},
		{"empty event name is unnamed", "data: a\nevent: \n\n", a, nil, nil},
		// The spec: a block whose data buffer is empty is not dispatched.
		{"event without data", "event: x\n\n", nil, []event{{"x", "", ""}}, []event{{"x", "", ""}}},
		{"id without data", "id: 7\n\ndata: a\n\n", []event{{"", "a", "7"}}, []event{{"", "", "7"}, {"", "a", "7"}}, []event{{"", "", "7"}, {"", "a", "7"}}},
		{"retry alone", "retry: 5\n\n", nil, nil, []event{{"", "", ""}}},
		{"unknown field", "Data: a\n\n", nil, nil, []event{{"", "", ""}}},
		// The spec: one leading U+FEFF of the stream is skipped.
		{"leading BOM of the stream", "\ufeffdata: a\n\n", a, nil, []event{{"", "", ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, c := range []struct {
				client string
				decode func(string) ([]event, error)
				want   []event
			}{
				{"go-sse", decodeGoSSE, tt.gosse},
				{"launchdarkly", decodeLD, tt.ld},
			} {
				want, deviates := c.want, c.want != nil
				if !deviates {
					want = tt.spec
				}
				got, err := c.decode(tt.in)
				if err != nil {
					t.Errorf("%s: %v", c.client, err)
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("%s read %q as %v, want %v (spec: %v)", c.client, tt.in, got, want, tt.spec)
				}
			}
		})
	}
}

// BenchmarkDataLines reads one event of n data lines of 16 bytes with
// each client's parser. LaunchDarkly's decoder appends each line to a
// string (pub.data += value + "\n"), so an event of n lines costs O(n²):
//
//	cd e2e/goclients && go test -run NONE -bench DataLines -benchtime 3x
func BenchmarkDataLines(b *testing.B) {
	for _, n := range []int{1024, 4096, 16384} {
		in := strings.Repeat("data: 0123456789abcde\n", n) + "\n"
		for _, c := range []struct {
			client string
			decode func(string) ([]event, error)
		}{{"go-sse", decodeGoSSE}, {"launchdarkly", decodeLD}} {
			b.Run(fmt.Sprintf("%s/lines=%d", c.client, n), func(b *testing.B) {
				b.SetBytes(int64(len(in)))
				for b.Loop() {
					got, err := c.decode(in)
					if err != nil || len(got) != 1 || len(got[0].Data) != 16*n-1 {
						b.Fatalf("got %d events, %v", len(got), err)
					}
				}
			})
		}
	}
}

// TestGoSSEDefaultLimit pins go-sse's default limit of 64 KiB per event:
// a larger event ends the connection, and the client reconnects to be
// sent the same event again, for ever (ssereader raises the limit).
func TestGoSSEDefaultLimit(t *testing.T) {
	var conns atomic.Int32
	big := strings.Repeat("x", 100<<10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conns.Add(1)
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprintf(w, "retry: 1\nid: 1\ndata: %s\n\n", big)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	var events atomic.Int32
	var lastErr atomic.Value
	c := &gosse.Client{OnRetry: func(err error, _ time.Duration) {
		lastErr.Store(err.Error())
		if conns.Load() >= 3 {
			cancel()
		}
	}}
	conn := c.NewConnection(req)
	conn.SubscribeToAll(func(gosse.Event) { events.Add(1) })
	conn.Connect()
	if n := conns.Load(); n < 3 || events.Load() != 0 {
		t.Fatalf("%d connections, %d events; want at least 3 connections and no event", n, events.Load())
	}
	if e, _ := lastErr.Load().(string); !strings.Contains(e, "token too long") {
		t.Errorf("last error %q, want the scanner's token too long", e)
	}
}
