//go:build linux

package main

import (
	"bufio"
	"crypto/tls"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ssewasm/ssewasm/internal/testcert"
)

// TestStreamsAreHijacked: the binary's own listener chain (the connection
// cap of -max-conns, and sse.TLSListener under it with -tls-cert) must
// leave the broker the socket, over plain TCP and over TLS: an idle
// HTTP/1.1 stream holds no goroutine, and a client that hangs up is
// noticed at once by the hang-up watcher (which needs the socket), not at
// the next write. A wrapper that hid the socket once took streams off the
// writer pool and the watcher: fan-out fell from 790,000 to 240,000
// events/s and idle memory per stream doubled, with every other test
// passing.
func TestStreamsAreHijacked(t *testing.T) {
	const streams = 40
	for _, tc := range []struct {
		name string
		tls  bool
	}{{"plain", false}, {"tls", true}} {
		t.Run(tc.name, func(t *testing.T) {
			var args []string
			if tc.tls {
				cert, key := testcert.WriteFiles(t, t.TempDir())
				args = []string{"-tls-cert", cert, "-tls-key", key}
			}
			cfg := defaults(t, append(args, "-max-clients-per-ip", "-1")...)
			svc, addr := serveService(t, cfg)

			dial := func() net.Conn {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				if tc.tls {
					tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
					if err := tc.Handshake(); err != nil {
						t.Fatal(err)
					}
					c = tc
				}
				return c
			}
			open := func() net.Conn {
				c := dial()
				c.Write([]byte("GET /events?topic=hijack HTTP/1.1\r\nHost: x\r\n\r\n"))
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil || resp.StatusCode != http.StatusOK {
					t.Fatalf("opening a stream: %v %v", resp, err)
				}
				return c
			}
			// Warm up: the writer pool and the hang-up watcher start with
			// the first hijacked stream.
			first := open()
			defer first.Close()
			time.Sleep(100 * time.Millisecond)
			before := runtime.NumGoroutine()
			var conns []net.Conn
			for range streams {
				conns = append(conns, open())
			}
			time.Sleep(200 * time.Millisecond) // let handlers return after hijacking
			grew := runtime.NumGoroutine() - before
			t.Logf("%d idle streams: %d more goroutines", streams, grew)
			if grew >= streams/2 {
				t.Errorf("%d idle streams hold %d goroutines: the streams were not hijacked (the listener chain hides the socket)", streams, grew)
			}
			// Hang-ups are noticed without a write (the heartbeat is 15 s).
			for _, c := range conns {
				c.Close()
			}
			deadline := time.Now().Add(5 * time.Second)
			for svc.broker.Stats().Clients > 1 {
				if time.Now().After(deadline) {
					t.Fatalf("%d streams still open 5s after their clients hung up: the hang-up watcher does not see the sockets", svc.broker.Stats().Clients-1)
				}
				time.Sleep(20 * time.Millisecond)
			}
			// And the stream still carries events.
			resp, err := func() (*http.Response, error) {
				c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
				scheme := "http"
				if tc.tls {
					scheme = "https"
				}
				return c.Post(scheme+"://"+addr+"/publish?topic=hijack", "text/plain", strings.NewReader("hi"))
			}()
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("publish: %v %v", resp, err)
			}
			resp.Body.Close()
			first.SetReadDeadline(time.Now().Add(10 * time.Second))
			buf := make([]byte, 4096)
			var got strings.Builder
			for !strings.Contains(got.String(), "data: hi\n") {
				n, err := first.Read(buf)
				if err != nil {
					t.Fatalf("reading the event: %v (so far %q)", err, got.String())
				}
				got.Write(buf[:n])
			}
		})
	}
}

// serveService serves a service made from cfg the way run does (its
// listener with every wrapper, its http.Server), on a loopback port,
// until the test ends. It returns the service and the address.
func serveService(t *testing.T, cfg config) (*service, string) {
	t.Helper()
	svc := makeService(t, cfg, quiet)
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := svc.httpServer(cfg, quiet)
	done := make(chan error, 1)
	go func() { done <- svc.serve(srv, svc.listener(tcp, cfg), cfg, quiet) }()
	t.Cleanup(func() {
		srv.Shutdown(t.Context())
		<-done
	})
	return svc, tcp.Addr().String()
}
