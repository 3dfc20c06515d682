package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestAppendFrame(t *testing.T) {
	for _, tc := range []struct {
		name, id, event, data, want string
	}{
		{"plain", "1", "", "seq=0 t=1 pad", "id: 1\ndata: seq=0 t=1 pad\n\n"},
		{"named", "7", "ping", "x", "id: 7\nevent: ping\ndata: x\n\n"},
		{"empty data", "2", "", "", "id: 2\ndata: \n\n"},
		{"lines", "3", "", "a\nb\r\nc\rd", "id: 3\ndata: a\ndata: b\ndata: c\ndata: d\n\n"},
		{"trailing LF", "4", "", "a\n", "id: 4\ndata: a\ndata: \n\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(appendFrame(nil, tc.id, tc.event, tc.data)); got != tc.want {
				t.Errorf("appendFrame(%q, %q, %q) = %q, want %q", tc.id, tc.event, tc.data, got, tc.want)
			}
		})
	}
}

// decodeFrame reads one frame as an EventSource does: the id, the name
// and the data lines joined with LF.
func decodeFrame(t testing.TB, frame string) (id, event, data string) {
	t.Helper()
	body, ok := strings.CutSuffix(frame, "\n\n")
	if !ok {
		t.Fatalf("frame %q does not end with a blank line", frame)
	}
	var lines []string
	for _, l := range strings.Split(body, "\n") {
		name, value, _ := strings.Cut(l, ": ")
		switch name {
		case "id":
			id = value
		case "event":
			event = value
		case "data":
			lines = append(lines, value)
		default:
			t.Fatalf("frame %q has a line %q of no field", frame, l)
		}
	}
	return id, event, strings.Join(lines, "\n")
}

// FuzzAppendFrame checks that any data comes back as a reader sees it:
// line ends become LF, nothing else changes, and the frame stays one event.
func FuzzAppendFrame(f *testing.F) {
	for _, s := range []string{"", "a", "a\nb", "a\r\nb\rc\n", "\n\n", "data: x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		frame := string(appendFrame(nil, "9", "e", data))
		id, event, got := decodeFrame(t, frame)
		want := strings.ReplaceAll(strings.ReplaceAll(data, "\r\n", "\n"), "\r", "\n")
		if id != "9" || event != "e" || got != want {
			t.Errorf("appendFrame(%q) = %q: decoded id %q event %q data %q, want 9, e, %q", data, frame, id, event, got, want)
		}
	})
}

// TestFanOut opens three streams, two on one topic, publishes twice, and
// checks that each stream of the topic gets both frames in order with
// rising IDs, the other stream none; then that shutdown ends every handler.
func TestFanOut(t *testing.T) {
	h := newHub()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.serve(w, r, r.URL.Query().Get("topic"))
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	open := func(topic string) *bufio.Reader {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/events?topic="+topic, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || ct != "text/event-stream" {
			t.Fatalf("GET /events: %s, Content-Type %q", resp.Status, ct)
		}
		return bufio.NewReader(resp.Body)
	}
	a, b, other := open("t"), open("t"), open("u")
	// The response headers came with the first flush, before the stream
	// joined the set: wait until all three have joined.
	waitStreams(ctx, t, h, 3)
	if id := h.publish("t", "", "one"); id != "1" {
		t.Errorf("first publish: id %q, want 1", id)
	}
	if id := h.publish("t", "named", "two\nlines"); id != "2" {
		t.Errorf("second publish: id %q, want 2", id)
	}
	want := "id: 1\ndata: one\n\nid: 2\nevent: named\ndata: two\ndata: lines\n\n"
	for i, r := range []*bufio.Reader{a, b} {
		got := make([]byte, len(want))
		if _, err := io.ReadFull(r, got); err != nil {
			t.Fatalf("stream %d: %v", i, err)
		}
		if string(got) != want {
			t.Errorf("stream %d read %q, want %q", i, got, want)
		}
	}
	h.publish("u", "", "for u")
	if line, err := other.ReadString('\n'); err != nil || line != "id: 3\n" {
		t.Errorf("stream of topic u: first line %q (%v), want the third event's id: it got another topic's events", line, err)
	}
	h.shutdown()
	waitStreams(ctx, t, h, 0)
}

// waitStreams waits until h holds want streams, or fails at ctx's end.
func waitStreams(ctx context.Context, t *testing.T, h *hub, want int) {
	t.Helper()
	for {
		h.mu.Lock()
		n := 0
		for _, set := range h.topics {
			n += len(set)
		}
		h.mu.Unlock()
		if n == want {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("the hub holds %d streams, want %d", n, want)
		}
		time.Sleep(time.Millisecond)
	}
}
