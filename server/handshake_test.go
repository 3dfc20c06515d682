package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ssewasm/ssewasm/internal/testcert"
)

// The listener itself is tested in package h2; these test the
// binary's use of it.

// The real server over TLS: clients that connect and never handshake do
// not hold up others, and the handshake refusals are in /metrics.
func TestTLSSilentClients(t *testing.T) {
	cert, key := testcert.WriteFiles(t, t.TempDir())
	url, stop := startRun(t, "-tls-cert", cert, "-tls-key", key)
	defer stop()
	addr := strings.TrimSuffix(strings.TrimPrefix(url, "https://"), "/")
	for range 50 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	resp, err := client.Get(url + "metrics")
	if err != nil {
		t.Fatalf("with 50 silent connections open: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Errorf("served over %s, want HTTP/2", resp.Proto)
	}
	for _, reason := range []string{refusedTLSBusy, refusedTLSTimeout} {
		if line := `ssewasm_refused_total{reason="` + reason + `"} 0`; !strings.Contains(string(body), line) {
			t.Errorf("/metrics lacks %s", line)
		}
	}
}

// -max-conns over TLS: connections still handshaking count under the
// cap (it sits under the handshake listener), a connection over it is
// closed at once and counted, and the slots free up when clients leave.
func TestTLSConnCap(t *testing.T) {
	const max = 3
	cert, key := testcert.WriteFiles(t, t.TempDir())
	cfg := defaults(t, "-tls-cert", cert, "-tls-key", key, "-max-conns", fmt.Sprint(max))
	svc, addr := serveService(t, cfg)

	var silent []net.Conn
	for range max { // handshakes that never start: they fill the cap
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		silent = append(silent, c)
	}
	over, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err == nil {
		over.Close()
		t.Fatal("a handshake over -max-conns succeeded")
	}
	if n := svc.refused.count(refusedConnCap); n != 1 {
		t.Errorf("%s counted %d, want 1", refusedConnCap, n)
	}
	for _, c := range silent {
		c.Close()
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get("https://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.ProtoMajor != 2 {
				t.Errorf("served over %s, want HTTP/2", resp.Proto)
			}
			break
		}
		if time.Now().After(deadline) { // the silent ones' slots are freed once their handshakes see EOF
			t.Fatalf("no request got through within 5s of the silent clients leaving: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
