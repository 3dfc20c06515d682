package sse

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
)

// TestAdmit: streams served by another handler count under the same
// limits as the broker's own, and free their slot when released.
func TestAdmit(t *testing.T) {
	var rejected []error
	b, srv := newTestBroker(t, http1Mode, Options{
		MaxClients:      3,
		MaxClientsPerIP: 2,
		ClientIP:        func(r *http.Request) string { return r.Header.Get("X-Test-IP") },
		Hooks:           Hooks{OnReject: func(_ *http.Request, err error) { rejected = append(rejected, err) }},
	})
	admit := func(ip string) (func(), int) {
		r := httptest.NewRequest(http.MethodGet, "/stream", nil)
		r.Header.Set("X-Test-IP", ip)
		w := httptest.NewRecorder()
		release := b.Admit(w, r)
		if release == nil {
			return nil, w.Code
		}
		return release, http.StatusOK
	}
	r1, _ := admit("1")
	admit("1")
	if _, code := admit("1"); code != http.StatusServiceUnavailable || !errors.Is(rejected[len(rejected)-1], ErrTooManyClientsPerIP) {
		t.Errorf("third stream from one address: %d %v, want 503 per-IP", code, rejected)
	}
	// A broker stream and an admitted one share MaxClients.
	connect(t, srv, "", http.Header{"X-Test-IP": {"2"}})
	if _, code := admit("3"); code != http.StatusServiceUnavailable || !errors.Is(rejected[len(rejected)-1], ErrTooManyClients) {
		t.Errorf("fourth stream: %d, want 503 over MaxClients", code)
	}
	if _, status := tryConnect(t, srv, "", http.Header{"X-Test-IP": {"4"}}); status != http.StatusServiceUnavailable {
		t.Errorf("broker stream over MaxClients with admitted ones: %d, want 503", status)
	}
	if s := b.Stats(); s.Clients != 3 || s.Rejected != 3 {
		t.Errorf("stats %+v, want 3 clients and 3 rejected", s)
	}
	r1()
	r1() // idempotent
	if s := b.Stats(); s.Clients != 2 {
		t.Errorf("after release: %d clients, want 2", s.Clients)
	}
	if _, code := admit("1"); code != http.StatusOK {
		t.Errorf("after release: %d, want a free slot", code)
	}
}

// TestStreamKeepsNoRequestFields: a hijacked stream keeps copies of
// what it needs, never the request's big header or query: 20 streams
// each sent with 256 KiB of Last-Event-ID and of query hold far less
// than the 10 MiB they were sent, after GC.
func TestStreamKeepsNoRequestFields(t *testing.T) {
	b, srv := newTestBroker(t, hijackMode, Options{})
	long := strings.Repeat("x", 256<<10)
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	const streams = 20
	before := heap()
	var conns []net.Conn
	for range streams {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, conn)
		t.Cleanup(func() { conn.Close() })
		fmt.Fprintf(conn, "GET /events?topic=a&pad=%s HTTP/1.1\r\nHost: x\r\nLast-Event-ID: %s\r\n\r\n", long, long)
		br := bufio.NewReader(conn)
		for { // up to the gap event: the stream is open and replayed
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(line, "event: "+GapEvent) {
				break
			}
		}
	}
	waitFor(t, "the streams to open", func() bool { return b.Stats().Clients == streams })
	grown := int64(heap()) - int64(before)
	t.Logf("%d streams sent with %d KiB each: heap +%d KiB", streams, 2*len(long)>>10, grown>>10)
	if sent := int64(streams * 2 * len(long)); grown > sent/10 {
		t.Errorf("heap grew by %d bytes for %d streams: they keep their requests (%d bytes sent)", grown, streams, sent)
	}
	for _, c := range conns {
		c.Close()
	}
}
