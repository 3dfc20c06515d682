//go:build linux

package h2_test

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/ssewasm/ssewasm/server/h2"
	"github.com/ssewasm/ssewasm/server/sse"
)

// TestHeadsIndexed: the fields of responses go into HPACK's dynamic
// table, so a second /healthz head on a connection is a few bytes where
// the first spelled its fields out. Once only an event stream (detached)
// has been left on the connection for a while (50 ms here), the table is
// dropped: a later head is spelled out again, after a size update that
// empties the client's table, and every head decodes to what the handler
// set.
func TestHeadsIndexed(t *testing.T) {
	defer h2.SetEncoderIdle(50 * time.Millisecond)()
	b, err := sse.New(sse.Options{Heartbeat: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		b.Shutdown(ctx) //nolint:errcheck // the test is over
	}()
	mux := http.NewServeMux()
	mux.Handle("/events", b)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Check", "the same each time")
		io.WriteString(w, "ok\n")
	})
	addr, stop, err := listenH2(new(h2.Server), &http.Server{Handler: mux}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	a := dialLimits(t, addr)
	if err := a.open(false); err != nil {
		t.Fatal(err)
	}
	id := uint32(1)
	head := func(path string) int {
		t.Helper()
		if err := a.request(id, "GET", path, true); err != nil || a.flush() != nil {
			t.Fatal("request not sent")
		}
		f := readUntil(t, a, 5*time.Second, "the head of "+path, func(f http2.Frame) bool {
			_, ok := f.(*http2.MetaHeadersFrame)
			return ok && f.Header().StreamID == id
		}).(*http2.MetaHeadersFrame)
		id += 2
		if s := f.PseudoValue("status"); s != "200" {
			t.Fatalf("%s: status %s", path, s)
		}
		if path == "/healthz" {
			var got []string
			for _, hf := range f.RegularFields() {
				if hf.Name == "x-check" {
					got = append(got, hf.Value)
				}
			}
			if len(got) != 1 || got[0] != "the same each time" {
				t.Fatalf("x-check %q, want the handler's", got)
			}
		}
		return int(f.Header().Length)
	}
	first, second := head("/healthz"), head("/healthz")
	t.Logf("/healthz heads: %d bytes, then %d", first, second)
	if second > first/3 {
		t.Errorf("the second head has %d bytes, the first %d: its fields were not indexed", second, first)
	}
	head("/events?topic=t")
	// The table goes once no handler has run for 50 ms, the event stream
	// open: a request after that gets a head spelled out.
	dropped := false
	for range 50 {
		time.Sleep(100 * time.Millisecond)
		if n := head("/healthz"); n > second {
			dropped = true
			break
		}
	}
	if !dropped {
		t.Fatal("with only the event stream left, the heads stayed indexed: the table was kept")
	}
	if n := head("/healthz"); n > second {
		t.Errorf("the head after the table was made again has %d bytes, want it indexed again (%d)", n, second)
	}
}
