package main

import (
	"bufio"
	"net/http"
	"strings"
	"testing"
)

// TestHeaderSizeCounted: net/http's 431 answers are counted, with and
// without a connection cap, and not other answers.
func TestHeaderSizeCounted(t *testing.T) {
	for _, maxConns := range []string{"60", "-1"} {
		t.Run("-max-conns "+maxConns, func(t *testing.T) {
			ts, svc := newHostileServer(t, defaults(t, "-max-conns", maxConns), quiet)
			addr := ts.Listener.Addr().String()
			big, _ := rawSend(t, "127.0.0.3", addr, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("a", 100<<10)+"\r\n\r\n")
			ok, _ := rawSend(t, "127.0.0.3", addr, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Small: "+strings.Repeat("a", 1<<10)+"\r\n\r\n")
			if big != 431 || ok != 200 {
				t.Fatalf("100 KB of headers: %d, 1 KB: %d; want 431, 200", big, ok)
			}
			if n := svc.refused.count(refusedHeaderSize); n != 1 {
				t.Errorf("counted %d 431s, want 1", n)
			}
			resp, err := http.Get(ts.URL + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var b strings.Builder
			bufio.NewReader(resp.Body).WriteTo(&b)
			if want := `ssewasm_refused_total{reason="header_size"} 1`; !strings.Contains(b.String(), want) {
				t.Errorf("/metrics lacks %s", want)
			}
		})
	}
}
