package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// fault is one fault injected, or another marked moment.
type fault struct {
	At     time.Duration // since the soak started
	Kind   string
	Detail string
}

// mark records a fault at the current time and logs it.
func (s *soak) mark(kind, detail string) {
	f := fault{At: time.Since(s.start), Kind: kind, Detail: detail}
	s.faultMu.Lock()
	s.faults = append(s.faults, f)
	s.faultMu.Unlock()
	s.logf("fault %s at %s: %s", kind, f.At.Round(time.Second), detail)
}

// The faults, in the order they come round.
var faultKinds = []string{"kill", "reset", "loris", "flood", "nats"}

// runFaults injects a fault every cfg.faultEvery until ctx ends.
func (s *soak) runFaults(ctx context.Context) {
	for i := 0; ; i++ {
		if !sleep(ctx, s.cfg.faultEvery) {
			return
		}
		switch faultKinds[i%len(faultKinds)] {
		case "kill":
			s.faultKill(ctx)
		case "reset":
			s.faultReset()
		case "loris":
			s.faultLoris(ctx)
		case "flood":
			s.faultFlood(ctx)
		case "nats":
			s.faultNATS(ctx)
		}
	}
}

// faultKill SIGKILLs the last instance and restarts it on its port. Its
// clients resume on the others (or on it, once back) from the shared
// history. The other instances are never killed, so their memory curves
// run unbroken.
func (s *soak) faultKill(ctx context.Context) {
	in := s.cluster.instances[len(s.cluster.instances)-1]
	m, _ := scrape(ctx, in.url, "ssewasm_clients")
	t0 := time.Now()
	in.kill()
	s.mark("kill", fmt.Sprintf("instance %s SIGKILLed with %.0f streams open; restarted after %v", in.name, m["ssewasm_clients"], s.cfg.downFor))
	sleep(ctx, s.cfg.downFor)
	if err := s.cluster.restart(ctx, in); err != nil {
		s.fatal(fmt.Errorf("restart instance %s after the kill: %w", in.name, err))
		return
	}
	s.logf("instance %s back after %v", in.name, time.Since(t0).Round(time.Millisecond))
}

// faultReset aborts a quarter of the open streams with a RST at once;
// their clients resume at once (within half a second).
func (s *soak) faultReset() {
	chains := s.pop.chains()
	rand.Shuffle(len(chains), func(i, j int) { chains[i], chains[j] = chains[j], chains[i] })
	n := 0
	for _, c := range chains[:len(chains)/4] {
		if c.abort(endReset, true) {
			n++
		}
	}
	s.mark("reset", fmt.Sprintf("%d streams reset (RST) at once", n))
}

// lorisResult is what the slow-loris wave saw.
type lorisResult struct {
	mu       sync.Mutex
	cut      []time.Duration // how long each connection lasted before the server closed it
	statuses map[string]int  // answers to the slow /publish bodies
	uncut    int             // still open at the end of the wave
}

// faultLoris opens, on every instance, connections that send their
// headers a byte a second (header slow-loris) and /publish requests whose
// bodies come a byte a second, from addresses of their own; the wave
// lasts until the server has cut them all, or cfg.lorisMax.
func (s *soak) faultLoris(ctx context.Context) {
	res := &lorisResult{statuses: map[string]int{}}
	var wg sync.WaitGroup
	wctx, cancel := context.WithTimeout(ctx, s.cfg.lorisMax)
	defer cancel()
	per := s.cfg.lorisConns / len(s.cluster.instances)
	pubs := s.cfg.lorisPublishes / len(s.cluster.instances)
	var n atomic.Int64
	for ii, in := range s.cluster.instances {
		for j := range per + pubs {
			src := netip.AddrFrom4([4]byte{127, 2, byte(ii), byte(j%250 + 1)})
			body := j >= per
			wg.Go(func() {
				n.Add(1)
				s.lorisConn(wctx, in.addr, src, body, res)
			})
		}
	}
	s.mark("loris", fmt.Sprintf("%d header slow-loris connections and %d slow /publish bodies over %d instances", per*len(s.cluster.instances), pubs*len(s.cluster.instances), len(s.cluster.instances)))
	wg.Wait()
	res.mu.Lock()
	defer res.mu.Unlock()
	sort.Slice(res.cut, func(i, j int) bool { return res.cut[i] < res.cut[j] })
	var longest time.Duration
	if len(res.cut) > 0 {
		longest = res.cut[len(res.cut)-1]
	}
	var st []string
	for k, v := range res.statuses {
		st = append(st, fmt.Sprintf("%s ×%d", k, v))
	}
	sort.Strings(st)
	detail := fmt.Sprintf("%d of %d cut by the server, the last after %v; still open after %v: %d; /publish answers: %s",
		len(res.cut), n.Load(), longest.Round(100*time.Millisecond), s.cfg.lorisMax, res.uncut, strings.Join(st, ", "))
	s.faultMu.Lock()
	s.lorisResults = append(s.lorisResults, detail)
	s.faultMu.Unlock()
	s.logf("loris wave done: %s", detail)
}

// lorisConn is one slow client of the wave.
func (s *soak) lorisConn(ctx context.Context, addr string, src netip.Addr, body bool, res *lorisResult) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: src.AsSlice()}, Timeout: 5 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return
	}
	defer conn.Close()
	t0 := time.Now()
	head := "GET /events?topic=" + s.topics[0] + " HTTP/1.1\r\nHost: " + addr + "\r\nX-Slow: "
	if body {
		head = "POST /publish?topic=" + s.topics[0] + " HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n"
	}
	if _, err := io.WriteString(conn, head); err != nil {
		return
	}
	closed := make(chan string, 1) // buffered: the reader never waits
	go func() {
		br := bufio.NewReader(conn)
		line, err := br.ReadString('\n')
		if err != nil {
			closed <- ""
			return
		}
		f := strings.Fields(line)
		if len(f) >= 2 {
			closed <- f[1]
		} else {
			closed <- "?"
		}
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case st := <-closed:
			res.mu.Lock()
			res.cut = append(res.cut, time.Since(t0))
			if body || st != "" {
				if st == "" {
					st = "closed"
				}
				res.statuses[st]++
			}
			res.mu.Unlock()
			return
		case <-ctx.Done():
			res.mu.Lock()
			res.uncut++
			res.mu.Unlock()
			return
		case <-tick.C:
			conn.SetWriteDeadline(time.Now().Add(time.Second))
			conn.Write([]byte("x")) // one byte a second; an error shows as the close
		}
	}
}

// faultFlood publishes cfg.floodEvents events of the largest size
// accepted (-max-event-size, the name counting), 4 at a time.
func (s *soak) faultFlood(ctx context.Context) {
	size := s.cfg.maxEventSize - 1 // the event name "e"
	before := s.pub.acked.Load()
	s.mark("flood", fmt.Sprintf("%d events of %d bytes published 4 at a time", s.cfg.floodEvents, size))
	t0 := time.Now()
	jobs := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range jobs {
				s.pub.publish(ctx, s.flood, size)
			}
		})
	}
	for range s.cfg.floodEvents {
		jobs <- struct{}{}
	}
	close(jobs)
	wg.Wait()
	s.logf("flood done in %v (%d acknowledged, with the steady ones meanwhile)", time.Since(t0).Round(time.Millisecond), s.pub.acked.Load()-before)
}

// faultNATS shuts the NATS server down and restarts it on its port with
// its store: the instances keep their streams open, publishing answers
// 503 meanwhile, and delivery resumes where it stopped.
func (s *soak) faultNATS(ctx context.Context) {
	s.cluster.nats.stop()
	s.mark("nats", fmt.Sprintf("the NATS JetStream server stopped (SIGTERM); restarted with its store after %v", s.cfg.downFor))
	sleep(ctx, s.cfg.downFor)
	if err := s.cluster.nats.start(ctx); err != nil {
		s.fatal(fmt.Errorf("restart NATS: %w", err))
	}
}
