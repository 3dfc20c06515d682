package h2_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ssewasm/ssewasm/server/h2"
	"github.com/ssewasm/ssewasm/server/sse"
)

// newServer serves h over TLS with an h2.Server; its Client speaks
// HTTP/2 (Go's transport).
func newServer(t testing.TB, h http.Handler, srv *h2.Server) *httptest.Server {
	t.Helper()
	return newServerWith(t, h, srv, nil) // behaviour_test.go
}

// newParkedServer serves h as the ssewasm server does (serveListener):
// handshakes on goroutines of their own, then srv.Start, whose idle
// connections park their read loops (Linux). Its Client speaks HTTP/2;
// its Close closes srv's connections too.
func newParkedServer(t testing.TB, h http.Handler, srv *h2.Server) *httptest.Server {
	t.Helper()
	if srv == nil {
		srv = new(h2.Server)
	}
	ts := httptest.NewUnstartedServer(http.NotFoundHandler()) // for its certificate and client
	ts.EnableHTTP2 = true
	ts.StartTLS()
	addr, stop := serveListener(t, srv, ts.TLS, &http.Server{Handler: h})
	ts.URL = "https://" + addr
	t.Cleanup(func() {
		ts.Client().CloseIdleConnections()
		stop()
		ts.Close()
	})
	return ts
}

// serveListener serves hs's handler with srv over TLS as the ssewasm
// server does: an h2.Listener on 127.0.0.1 does the handshakes, offering
// h2 only (cfg gives the certificate), and hands each connection to
// srv.Start; hs.Serve serves whatever else Accept returns. It returns the
// address, and stop, which closes the listener and hs, waits for
// hs.Serve and closes srv's connections.
func serveListener(t testing.TB, srv *h2.Server, cfg *tls.Config, hs *http.Server) (addr string, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.Clone()
	cfg.NextProtos = []string{"h2"}
	l := h2.NewListener(ln, h2.ListenerConfig{TLSConfig: cfg, Server: srv, HTTPServer: hs})
	served := make(chan struct{})
	go func() {
		defer close(served)
		hs.Serve(l)
	}()
	return ln.Addr().String(), func() {
		hs.Close()
		<-served
		srv.Close()
	}
}

func TestGetAndPost(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/small", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<p>hello</p>")
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(bytes.Repeat([]byte("x"), 3<<20))
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		w.Header().Set("X-Len", "n")
		w.Write(b)
	})
	for _, start := range []func(testing.TB, http.Handler, *h2.Server) *httptest.Server{newServer, newParkedServer} {
		testGetAndPost(t, start(t, mux, nil))
	}
}

func testGetAndPost(t *testing.T, ts *httptest.Server) {
	c := ts.Client()

	tests := []struct {
		name, method, path string
		body               []byte
		wantLen            int
		wantType           string
	}{
		{"small, sniffed", "GET", "/small", nil, 12, "text/html; charset=utf-8"},
		{"3 MB, windows and frames", "GET", "/big", nil, 3 << 20, "application/octet-stream"},
		{"echo 2 MB body", "POST", "/echo", bytes.Repeat([]byte("y"), 2<<20), 2 << 20, "text/plain; charset=utf-8"},
		{"head", "HEAD", "/small", nil, 0, "text/html; charset=utf-8"},
		{"not found", "GET", "/nope", nil, 19, "text/plain; charset=utf-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, ts.URL+tt.path, bytes.NewReader(tt.body))
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.ProtoMajor != 2 {
				t.Fatalf("proto %s", resp.Proto)
			}
			if len(b) != tt.wantLen {
				t.Errorf("body %d bytes, want %d", len(b), tt.wantLen)
			}
			if got := resp.Header.Get("Content-Type"); got != tt.wantType {
				t.Errorf("Content-Type %q, want %q", got, tt.wantType)
			}
		})
	}
}

// TestBrokerStreams runs a broker's event stream over h2: detached, it
// gets events and ends with the broker.
func TestBrokerStreams(t *testing.T) {
	b, err := sse.New(sse.Options{Heartbeat: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ts := newParkedServer(t, b, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/?topic=a", nil)
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.Header.Get("Content-Type") != "text/event-stream; charset=utf-8" {
		t.Fatalf("proto %s, type %q", resp.Proto, resp.Header.Get("Content-Type"))
	}
	r := bufio.NewReader(resp.Body)
	for b.Stats().Clients == 0 {
		time.Sleep(time.Millisecond)
	}
	for i := range 3 {
		if _, err := b.Publish(ctx, "a", sse.Event{Event: "n", Data: strings.Repeat("d", i*10000)}); err != nil {
			t.Fatal(err)
		}
	}
	var got []int
	for len(got) < 3 {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(line, "data:") {
			got = append(got, len(strings.TrimSpace(strings.TrimPrefix(line, "data:"))))
		}
	}
	if got[0] != 0 || got[1] != 10000 || got[2] != 20000 {
		t.Fatalf("data lengths %v", got)
	}
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	if err := b.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, r); err != nil {
		t.Fatalf("stream ended with %v, want its end", err)
	}
}

// A handler that does not read its request's body must not cost the
// connection its flow-control window: after 40 requests of 60 KB on one
// connection whose window is 1 MB, each unread, a handler that reads its
// body still gets all of it.
func TestUnreadBodiesReturnWindow(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/unread", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(2 * time.Millisecond) // the body arrives meanwhile, unread
		io.WriteString(w, "ignored")
	})
	mux.HandleFunc("/read", func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprint(w, n)
	})
	for _, start := range []func(testing.TB, http.Handler, *h2.Server) *httptest.Server{newServer, newParkedServer} {
		ts := start(t, mux, nil)
		c := ts.Client()
		c.Timeout = 5 * time.Second
		post := func(path string, n int) string {
			resp, err := c.Post(ts.URL+path, "application/octet-stream", bytes.NewReader(make([]byte, n)))
			if err != nil {
				t.Fatalf("POST %s: %v", path, err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return string(b)
		}
		for range 40 {
			post("/unread", 60<<10)
		}
		if got := post("/read", 300<<10); got != strconv.Itoa(300<<10) {
			t.Fatalf("read %s bytes, want %d", got, 300<<10)
		}
	}
}
