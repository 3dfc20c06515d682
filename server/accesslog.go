package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/ssewasm/ssewasm/server/clientip"
)

// maxLoggedPath is the longest path logged whole: a client chooses the
// length, and must not choose the size of the log.
const maxLoggedPath = 256

// logRequests logs each request when it ends, with its status and
// duration (for a stream: how long the client stayed), and its client
// (remote), with the proxy that forwarded it (see clientip). It logs the
// path and never the query, which may carry a single-use ticket
// (/events?...&ticket=…), nor any header (the session cookie), nor who
// the request is for: an access log holds no credential and no
// identity (TestHostileIdentity).
func logRequests(next http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		remote := r.RemoteAddr
		c := clientip.Of(r)
		if c.Proxy != "" {
			// remote is the client the proxy named, whose port is not
			// known: 0, so that remote stays host:port.
			remote = netip.AddrPortFrom(c.Addr, 0).String()
		}
		attrs := []any{"method", clipText(r.Method, 16), "path", clipText(r.URL.Path, maxLoggedPath), "status", sw.status,
			"bytes", sw.bytes, "duration", time.Since(start).Round(time.Millisecond), "remote", remote}
		if c.Proxy != "" {
			attrs = append(attrs, "proxy", c.Proxy)
		}
		log.Info("request", attrs...)
	})
}

// statusWriter records the status and size of a response. It implements
// Unwrap so that http.ResponseController reaches the real writer: without
// it, streams could not flush through this middleware.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// clipText cuts s to max bytes, marking the cut, for logs and messages:
// a client controls the length of a path or a method.
func clipText(s string, max int) string {
	if len(s) <= max {
		return s
	}
	return fmt.Sprintf("%s…(%d bytes)", s[:max], len(s))
}
