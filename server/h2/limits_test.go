//go:build linux

package h2_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/ssewasm/ssewasm/server/h2"
)

// The limits on what a client can make a connection hold or do (issue
// 22), each seen from a client that goes past it. The servers run as
// the binary runs them (listenH2), with small socket send buffers where
// what piles up matters.

// serveLimits serves a few paths with srv, under an http.Server with the
// binary's header limit that configure (if not nil) changes; it returns
// the address.
func serveLimits(t testing.TB, srv *h2.Server, configure func(*http.Server)) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("/kilobyte", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.(http.Flusher).Flush()
		io.WriteString(w, strings.Repeat("k", 1000))
	})
	hs := &http.Server{Handler: mux, MaxHeaderBytes: 16 << 10}
	if configure != nil {
		configure(hs)
	}
	addr, stop, err := listenH2(srv, hs, 16<<10)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stop()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Wait(ctx); err != nil {
			t.Errorf("h2.Server.Wait after Close: %v", err)
		}
	})
	return addr
}

// dialLimits connects to addr as an attacker would (attackConn); the
// connection closes with the test.
func dialLimits(t testing.TB, addr string) *attackConn {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	a, err := dialAttack(ctx, addr, new(atomic.Int64))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		a.close()
	})
	return a
}

// readUntil reads frames until want returns true, within d; it fails
// the test if the connection ends first.
func readUntil(t testing.TB, a *attackConn, d time.Duration, what string, want func(http2.Frame) bool) http2.Frame {
	t.Helper()
	a.tc.SetReadDeadline(time.Now().Add(d)) //nolint:errcheck // a bound, for a test
	var seen []string
	for {
		f, err := a.fr.ReadFrame()
		if err != nil {
			t.Fatalf("waiting for %s: %v; saw %v", what, err, seen)
		}
		if want(f) {
			return f
		}
		seen = append(seen, fmt.Sprintf("%v stream %d", f.Header().Type, f.Header().StreamID))
	}
}

func goAwayWith(code http2.ErrCode) func(http2.Frame) bool {
	return func(f http2.Frame) bool {
		g, ok := f.(*http2.GoAwayFrame)
		return ok && g.ErrCode == code
	}
}

// readEnd reads until the connection ends, within d.
func readEnd(t testing.TB, a *attackConn, d time.Duration) {
	t.Helper()
	a.tc.SetReadDeadline(time.Now().Add(d)) //nolint:errcheck // a bound, for a test
	for {
		if _, err := a.fr.ReadFrame(); err != nil {
			if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
				t.Fatalf("the connection was still open after %v", d)
			}
			return
		}
	}
}

// TestAnswersBounded: a client that makes the server answer, and never
// reads, loses the connection, and what the server held for its socket
// stayed within its bound meanwhile (10,000 small frames and 64 KB, and
// as much being written). Before, RST_STREAM replies were queued without
// limit: 625 MB in 20 s over four connections.
func TestAnswersBounded(t *testing.T) {
	tests := []struct {
		name  string
		setup func(a *attackConn) error // before the flood, if set
		frame func(a *attackConn, i uint32) error
	}{
		{"PRIORITY on itself", nil, func(a *attackConn, i uint32) error {
			return a.fr.WritePriority(2*i+1, http2.PriorityParam{StreamDep: 2*i + 1})
		}},
		{"WINDOW_UPDATE of 0", nil, func(a *attackConn, i uint32) error { return a.fr.WriteWindowUpdate(2*i+1, 0) }},
		{"DATA on an ended stream", func(a *attackConn) error { return a.request(1, "GET", "/healthz", true) },
			func(a *attackConn, i uint32) error { return a.fr.WriteData(1, false, nil) }},
		{"empty HEADERS", nil, func(a *attackConn, i uint32) error {
			return a.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 2*i + 1, EndHeaders: true, EndStream: true})
		}},
		{"PING", nil, func(a *attackConn, i uint32) error { return a.fr.WritePing(false, [8]byte{byte(i)}) }},
		{"SETTINGS", nil, func(a *attackConn, i uint32) error { return a.fr.WriteSettings() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // each waits a second for its connection to close
			srv := new(h2.Server)
			a := dialLimits(t, serveLimits(t, srv, nil))
			if err := a.start(); err != nil {
				t.Fatal(err)
			}
			if tt.setup != nil {
				if err := tt.setup(a); err != nil {
					t.Fatal(err)
				}
			}
			var peak atomic.Int64
			stop := make(chan struct{})
			sampled := make(chan struct{})
			go func() {
				defer close(sampled)
				for {
					peak.Store(max(peak.Load(), int64(h2.Queued(srv))))
					select {
					case <-stop:
						return
					case <-time.After(time.Millisecond):
					}
				}
			}()
			a.tc.SetWriteDeadline(time.Now().Add(10 * time.Second)) //nolint:errcheck // a bound, for a test
			var err error
			sent := uint32(0)
			for ; err == nil; sent++ {
				if err = tt.frame(a, sent); err == nil && sent%64 == 63 {
					err = a.flush()
				}
			}
			close(stop)
			<-sampled
			if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
				t.Fatalf("after %d frames in 10 s never read, the connection is still open", sent)
			}
			t.Logf("the server ended the connection after %d frames (%v); at most %d bytes queued", sent, err, peak.Load())
			if p := peak.Load(); p > maxQueuedPerConn {
				t.Errorf("the server held %d bytes for the socket, want at most %d", p, maxQueuedPerConn)
			}
		})
	}
}

// TestSettingsRate: SETTINGS frames beyond the allowance (100 at once,
// then 10 a second) end the connection with ENHANCE_YOUR_CALM, after
// the allowance was answered.
func TestSettingsRate(t *testing.T) {
	t.Parallel()
	a := dialLimits(t, serveLimits(t, new(h2.Server), nil))
	if err := a.start(); err != nil { // its SETTINGS counts
		t.Fatal(err)
	}
	for range 150 {
		if err := a.fr.WriteSettings(); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.flush(); err != nil {
		t.Fatal(err)
	}
	acks := 0
	readUntil(t, a, 5*time.Second, "GOAWAY ENHANCE_YOUR_CALM", func(f http2.Frame) bool {
		if s, ok := f.(*http2.SettingsFrame); ok && s.IsAck() {
			acks++
		}
		return goAwayWith(http2.ErrCodeEnhanceYourCalm)(f)
	})
	if acks < 100 || acks > 110 {
		t.Errorf("%d SETTINGS acknowledged before GOAWAY, want the allowance of 100 (and what 10 a second added)", acks)
	}
}

// TestSettingsLastValue: a SETTINGS frame of 2,730 INITIAL_WINDOW_SIZE
// entries sets the window to its last value (RFC 9113 section 6.5.3):
// the response's first DATA frame fills exactly that window.
func TestSettingsLastValue(t *testing.T) {
	t.Parallel()
	a := dialLimits(t, serveLimits(t, new(h2.Server), nil))
	entries := make([]http2.Setting, 16<<10/6)
	for i := range entries {
		entries[i] = http2.Setting{ID: http2.SettingInitialWindowSize, Val: uint32(65535 * (i % 2))}
	}
	entries[len(entries)-1].Val = 10
	if err := a.start(entries...); err != nil {
		t.Fatal(err)
	}
	if err := a.request(1, "GET", "/kilobyte", true); err != nil || a.flush() != nil {
		t.Fatal("request not sent")
	}
	f := readUntil(t, a, 5*time.Second, "DATA on stream 1", func(f http2.Frame) bool {
		_, ok := f.(*http2.DataFrame)
		return ok && f.Header().StreamID == 1
	})
	if n := len(f.(*http2.DataFrame).Data()); n != 10 {
		t.Errorf("the first DATA frame has %d bytes, want the window of 10", n)
	}
}

// TestHeaderBlockDeadline: a header block begun must end within the
// http.Server's ReadHeaderTimeout (10 s if neither it nor ReadTimeout is
// set): else GOAWAY ENHANCE_YOUR_CALM, and the connection ends. One that
// ends in time is served.
func TestHeaderBlockDeadline(t *testing.T) {
	t.Parallel()
	begin := func(t *testing.T, timeout time.Duration) *attackConn {
		a := dialLimits(t, serveLimits(t, new(h2.Server), func(hs *http.Server) { hs.ReadHeaderTimeout = timeout }))
		if err := a.open(false); err != nil {
			t.Fatal(err)
		}
		if err := a.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: a.block(a.requestFields("GET", "/healthz")), EndStream: true}); err != nil || a.flush() != nil {
			t.Fatal("HEADERS not sent")
		}
		return a
	}
	t.Run("never ends", func(t *testing.T) {
		const timeout = 300 * time.Millisecond
		a := begin(t, timeout)
		start := time.Now()
		readUntil(t, a, 5*time.Second, "GOAWAY ENHANCE_YOUR_CALM", goAwayWith(http2.ErrCodeEnhanceYourCalm))
		if d := time.Since(start); d < timeout {
			t.Errorf("GOAWAY %v after the block began, before ReadHeaderTimeout %v", d, timeout)
		}
		readEnd(t, a, 5*time.Second)
	})
	t.Run("ends in time", func(t *testing.T) {
		a := begin(t, 5*time.Second)
		time.Sleep(50 * time.Millisecond)
		frag := a.block([]hpack.HeaderField{{Name: "x-late", Value: "yes"}})
		if err := a.fr.WriteContinuation(1, true, frag); err != nil || a.flush() != nil {
			t.Fatal("CONTINUATION not sent")
		}
		f := readUntil(t, a, 5*time.Second, "the response", func(f http2.Frame) bool {
			_, ok := f.(*http2.MetaHeadersFrame)
			return ok || goAwayWith(http2.ErrCodeEnhanceYourCalm)(f)
		})
		if h, ok := f.(*http2.MetaHeadersFrame); !ok || h.PseudoValue("status") != "200" {
			t.Errorf("got %v, want a 200 response", f)
		}
	})
}

// TestPrefaceWithoutSettings: a client that sends the preface and no
// SETTINGS frame loses the connection after 2 s (as with Go's server),
// long before the idle timeout; one whose SETTINGS comes late but within
// them is served.
func TestPrefaceWithoutSettings(t *testing.T) {
	t.Parallel() // it waits 2 s
	idle := func(hs *http.Server) { hs.IdleTimeout = time.Hour }
	t.Run("never", func(t *testing.T) {
		a := dialLimits(t, serveLimits(t, new(h2.Server), idle))
		if _, err := a.tc.Write([]byte(http2.ClientPreface)); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		readUntil(t, a, 10*time.Second, "GOAWAY PROTOCOL_ERROR", goAwayWith(http2.ErrCodeProtocol))
		if d := time.Since(start); d < 2*time.Second {
			t.Errorf("GOAWAY %v after the preface, want 2 s", d)
		}
		readEnd(t, a, 5*time.Second)
	})
	t.Run("late", func(t *testing.T) {
		a := dialLimits(t, serveLimits(t, new(h2.Server), idle))
		if _, err := a.tc.Write([]byte(http2.ClientPreface)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		if err := a.fr.WriteSettings(); err != nil {
			t.Fatal(err)
		}
		if err := a.request(1, "GET", "/healthz", true); err != nil || a.flush() != nil {
			t.Fatal("request not sent")
		}
		f := readUntil(t, a, 5*time.Second, "the response", func(f http2.Frame) bool {
			_, ok := f.(*http2.MetaHeadersFrame)
			return ok || f.Header().Type == http2.FrameGoAway
		})
		if h, ok := f.(*http2.MetaHeadersFrame); !ok || h.PseudoValue("status") != "200" {
			t.Errorf("got %v, want a 200 response", f)
		}
	})
}

// BenchmarkHeaderBlockTrickle sends header blocks in TLS records of 1
// to 8 bytes, 50 µs apart (so that the server has read each before the
// next comes, and waits in between), in CONTINUATION frames of 100
// bytes, and waits for the answer. It reports the process's CPU time
// per byte of block (the client's share is the same for both servers),
// which must not grow with the block's size: each read of ours once
// rescanned and copied all of the block so far. Go's server is beside.
//
//	go test ./server/h2 -run '^$' -bench HeaderBlockTrickle -benchtime 3x
func BenchmarkHeaderBlockTrickle(b *testing.B) {
	for _, target := range targets {
		for _, size := range []int{4 << 10, 16 << 10, 32 << 10} {
			b.Run(fmt.Sprintf("%s/%dKB", target, size>>10), func(b *testing.B) {
				var srv *h2.Server
				if target == "ours" {
					srv = new(h2.Server)
				}
				hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), MaxHeaderBytes: 64 << 10}
				addr, stop, err := listenH2(srv, hs, 0)
				if err != nil {
					b.Fatal(err)
				}
				defer stop()
				a := dialLimits(b, addr)
				if err := a.open(false); err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(size))
				cpu := processCPU()
				b.ResetTimer()
				for i := range b.N {
					id := uint32(2*i + 1)
					frames := headerBlock(a.requestFields("GET", "/"), size, 100, id, true)
					for k := 0; len(frames) > 0; k++ {
						n := min(len(frames), 1+k%8)
						if _, err := a.tc.Write(frames[:n]); err != nil {
							b.Fatal(err)
						}
						frames = frames[n:]
						time.Sleep(50 * time.Microsecond)
					}
					readUntil(b, a, 10*time.Second, "the response", func(f http2.Frame) bool {
						return f.Header().StreamID == id && f.Header().Flags.Has(http2.FlagHeadersEndStream)
					})
				}
				b.ReportMetric(float64(processCPU()-cpu)/float64(b.N*size), "cpu-ns/B")
			})
		}
	}
}

// processCPU is the CPU time this process has used, in ns.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
