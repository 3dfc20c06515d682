package main

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Requests refused by the guards of this file and of /publish, by
// reason: each is counted in /metrics as
// ssewasm_refused_total{reason="..."}.
const (
	refusedMethod         = "method"          // an unknown method: 501
	refusedWebName        = "web_name"        // a /web/ name over 255 bytes: 404
	refusedConnCap        = "conn_cap"        // a connection over -max-conns: closed at once
	refusedPublishBusy    = "publish_busy"    // over -max-publishing: 503
	refusedPublishTimeout = "publish_timeout" // a body slower than -publish-read-timeout: 408
	refusedIdempotencyKey = "idempotency_key" // a /publish Idempotency-Key too long, not visible ASCII, or repeated: 400
	// over -publish-rate (per client address) or -publish-rate-global: 429
	refusedPublishRate       = "publish_rate"
	refusedPublishRateGlobal = "publish_rate_global"
	refusedHeaderSize        = "header_size" // request line and headers over -max-header-bytes: 431, from net/http
)

var refusedReasons = []string{
	refusedMethod,
	refusedWebName,
	refusedConnCap,
	refusedPublishBusy,
	refusedPublishTimeout,
	refusedIdempotencyKey,
	refusedPublishRate,
	refusedPublishRateGlobal,
	refusedHeaderSize,
	refusedTLSBusy,    // handshake.go
	refusedTLSTimeout, // handshake.go
}

// refusals counts refused requests and connections by reason.
type refusals struct{ n map[string]*atomic.Uint64 }

func newRefusals() *refusals {
	r := &refusals{n: make(map[string]*atomic.Uint64, len(refusedReasons))}
	for _, reason := range refusedReasons {
		r.n[reason] = new(atomic.Uint64)
	}
	return r
}

func (r *refusals) add(reason string)          { r.n[reason].Add(1) }
func (r *refusals) count(reason string) uint64 { return r.n[reason].Load() }

// knownMethods are the methods some route answers; any other gets 501
// before routing, so that no handler sees a made-up method (which
// go-app's handler would answer with a page).
var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodOptions: true,
	http.MethodPut: true, http.MethodPatch: true, http.MethodDelete: true, // 405 from their routes
}

// refuseUnknownMethods answers 501 Not Implemented to a method no route
// knows, with the method clipped in the message.
func refuseUnknownMethods(next http.Handler, ref *refusals) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !knownMethods[r.Method] {
			ref.add(refusedMethod)
			http.Error(w, fmt.Sprintf("method %s is not implemented: use GET, or POST for /publish", clipText(r.Method, 16)), http.StatusNotImplemented)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// clipText cuts s to max bytes, marking the cut, for logs and messages:
// a client controls the length of a path or a method.
func clipText(s string, max int) string {
	if len(s) <= max {
		return s
	}
	return fmt.Sprintf("%s…(%d bytes)", s[:max], len(s))
}

// capListener accepts at most max connections open at once, so that the
// process never runs out of file descriptors (an accept failing with
// EMFILE stalls the whole accept loop, /healthz included, and the open
// streams cannot open files or dial the engine). A connection over the
// cap is accepted and closed at once, and counted: its client sees the
// connection reset, and retries later. max is kept below the process's
// descriptor limit by maxConnsFor; 0 is no cap (the connections are
// still wrapped, for counting 431 answers: see cappedConn.Write).
type capListener struct {
	net.Listener
	max  int64
	open atomic.Int64
	ref  *refusals
}

func (l *capListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) > l.max && l.max > 0 {
			l.open.Add(-1)
			l.ref.add(refusedConnCap)
			c.Close()
			continue
		}
		return &cappedConn{Conn: c, l: l}, nil
	}
}

// cappedConn frees its slot once, on the first Close.
type cappedConn struct {
	net.Conn
	l    *capListener
	once sync.Once
}

// NetConn returns the connection under the cap, so that the broker can
// reach the socket of a hijacked stream (its writers and hang-up watcher
// need the file descriptor, which a wrapper hides).
func (c *cappedConn) NetConn() net.Conn { return c.Conn }

// answer431 is what net/http writes to the connection, in one Write and
// before any handler runs, when a request's line and headers are over
// MaxHeaderBytes (net/http's server.go; TestHostile's 431 cases fail if
// it changes). No handler sees such a request, so it is counted here.
// Over TLS the connection under the cap sees ciphertext, and HTTP/2
// answers oversized headers on a stream of its own: neither is counted.
const answer431 = "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n431 Request Header Fields Too Large"

// Write counts net/http's 431 answers (answer431): a comparison of
// lengths for every other write.
func (c *cappedConn) Write(p []byte) (int, error) {
	if len(p) == len(answer431) && string(p) == answer431 {
		c.l.ref.add(refusedHeaderSize)
	}
	return c.Conn.Write(p)
}

func (c *cappedConn) Close() error {
	c.once.Do(func() { c.l.open.Add(-1) })
	return c.Conn.Close()
}

// connHeadroom is how many file descriptors -max-conns leaves for the
// rest of the process: files served from /web/, the engine's
// connections, the log: at least 64, or a tenth of the limit.
func connHeadroom(limit int) int { return max(64, limit/10) }

// maxConnsFor turns -max-conns into the cap: 0 means the descriptor
// limit less the headroom; -1 no cap.
func maxConnsFor(flag, fdLimit int) int {
	if flag != 0 || fdLimit <= 0 {
		return flag
	}
	return max(1, fdLimit-connHeadroom(fdLimit))
}

// publishGate bounds the publishes in progress: each holds up to
// -max-event-size of body, so the gate bounds their memory.
type publishGate chan struct{}

func (g publishGate) enter() bool {
	select {
	case g <- struct{}{}:
		return true
	default:
		return false
	}
}

func (g publishGate) leave() { <-g }

// validWebName reports whether every segment of a /web/ path fits a file
// name (255 bytes on every common file system): a longer one cannot
// exist, so it is a 404, not the 500 that ENAMETOOLONG gives.
func validWebName(path string) bool {
	for seg := range strings.SplitSeq(path, "/") {
		if len(seg) > 255 {
			return false
		}
	}
	return true
}

// setPublishReadDeadline sets the read deadline of a /publish request,
// when set is true: a server-wide ReadTimeout would end the streams too.
func setPublishReadDeadline(w http.ResponseWriter, at time.Time, set bool) {
	if set {
		// An error means the writer cannot set deadlines (a test
		// double): the body is then only bounded in size.
		http.NewResponseController(w).SetReadDeadline(at) //nolint:errcheck
	}
}
