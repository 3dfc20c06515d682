package sse

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
)

// newRequest is an /events request with query, for ServeHTTP called
// directly.
func newRequest(ctx context.Context, query string) *http.Request {
	r := httptest.NewRequestWithContext(ctx, http.MethodGet, "/events?"+query, nil)
	r.RemoteAddr = "192.0.2.1:1234"
	return r
}

// nullWriter is a flushing ResponseWriter that discards the body: a fast
// client, for tests and benchmarks that need no socket.
type nullWriter struct{ h http.Header }

func (w *nullWriter) Header() http.Header {
	if w.h == nil {
		w.h = http.Header{}
	}
	return w.h
}
func (*nullWriter) WriteHeader(int)             {}
func (*nullWriter) Write(p []byte) (int, error) { return len(p), nil }
func (*nullWriter) Flush()                      {}

var errBroken = errors.New("broken pipe")

// brokenWriter accepts the headers, then fails every write after the
// first flush: a client that went away unnoticed.
type brokenWriter struct {
	nullWriter
	mu      sync.Mutex
	flushed bool
}

func (w *brokenWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.flushed {
		return 0, errBroken
	}
	return len(p), nil
}

func (w *brokenWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.flushed = true
}
