package main

import (
	"bufio"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// fakeClock is a settable clock for publishLimiter.now.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestPublishLimiter(t *testing.T) {
	a1, a2 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	v6a, v6b, v6c := netip.MustParseAddr("2001:db8:0:1::1"), netip.MustParseAddr("2001:db8:0:1::2"), netip.MustParseAddr("2001:db8:0:2::1")
	type step struct {
		after time.Duration // the clock moves this much first
		addr  netip.Addr
		ok    bool
		limit string        // when refused
		wait  time.Duration // when refused
	}
	for _, tt := range []struct {
		name            string
		perAddr, global rateLimit
		steps           []step
	}{
		{"per address: a burst, then the rate", rateLimit{2, 3}, rateLimit{}, []step{
			{0, a1, true, "", 0}, {0, a1, true, "", 0}, {0, a1, true, "", 0},
			{0, a1, false, limitAddr, 500 * time.Millisecond},
			{0, a2, true, "", 0}, // another address has its own bucket
			{250 * time.Millisecond, a1, false, limitAddr, 250 * time.Millisecond},
			{250 * time.Millisecond, a1, true, "", 0},
			{10 * time.Second, a1, true, "", 0}, {0, a1, true, "", 0}, {0, a1, true, "", 0}, // refilled to the burst, no more
			{0, a1, false, limitAddr, 500 * time.Millisecond},
		}},
		{"global: every address together", rateLimit{}, rateLimit{1, 2}, []step{
			{0, a1, true, "", 0}, {0, a2, true, "", 0},
			{0, a1, false, limitGlobal, time.Second},
			{time.Second, a2, true, "", 0},
		}},
		{"both: a global refusal leaves the address's token", rateLimit{1, 2}, rateLimit{1, 1}, []step{
			{0, a1, true, "", 0},
			{0, a1, false, limitGlobal, time.Second}, // a1 still has a token
			{time.Second, a1, true, "", 0},           // so it passes once the global bucket refills
			{0, a1, false, limitGlobal, time.Second}, // a1 has a token, the server none
		}},
		{"IPv6 counts by /64", rateLimit{1, 1}, rateLimit{}, []step{
			{0, v6a, true, "", 0},
			{0, v6b, false, limitAddr, time.Second}, // same /64
			{0, v6c, true, "", 0},                   // another /64
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clock := &fakeClock{t: time.Unix(1e9, 0)}
			l := newPublishLimiter(tt.perAddr, tt.global, 100)
			l.now = clock.now
			for i, s := range tt.steps {
				clock.advance(s.after)
				ok, limit, wait := l.allow(s.addr)
				if ok != s.ok || limit != s.limit || (s.wait != 0 && (wait < s.wait-time.Millisecond || wait > s.wait+time.Millisecond)) {
					t.Errorf("step %d (%v): allowed %v, limit %q, wait %v; want %v, %q, %v", i, s.addr, ok, limit, wait, s.ok, s.limit, s.wait)
				}
			}
		})
	}
	if newPublishLimiter(rateLimit{}, rateLimit{}, 10) != nil {
		t.Error("no limit on: want no limiter")
	}
}

// TestPublishLimiterBounded: an attacker with many addresses does not
// grow the table past its cap; the addresses beyond it share one bucket;
// the tracked ones keep theirs; and the table empties once they idle.
func TestPublishLimiterBounded(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	const cap = 100
	l := newPublishLimiter(rateLimit{1, 5}, rateLimit{}, cap) // refills in 5 s
	l.now = clock.now
	victim := netip.MustParseAddr("198.51.100.1")
	for range 3 {
		if ok, _, _ := l.allow(victim); !ok {
			t.Fatal("victim refused in its burst")
		}
	}
	overflowOK := 0
	for i := range 10000 {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		if ok, _, _ := l.allow(a); ok && i >= cap {
			overflowOK++
		}
		if i%1000 == 0 {
			clock.advance(10 * time.Millisecond) // no bucket refills meanwhile
		}
	}
	if n := l.tracked(); n > cap {
		t.Errorf("%d addresses tracked, cap %d", n, cap)
	}
	// The overflow bucket (burst 5, 1 a second, 0.1 s passed) let
	// only a handful of the 9,900 untracked addresses through.
	if overflowOK > 10 {
		t.Errorf("%d publishes of addresses beyond the cap passed: want them to share one bucket", overflowOK)
	}
	// The victim kept its bucket: 2 tokens left.
	ok1, _, _ := l.allow(victim)
	ok2, _, _ := l.allow(victim)
	if !ok1 || !ok2 {
		t.Error("the victim's bucket was lost to the flood of addresses")
	}
	// Once every bucket has refilled, the next publish sweeps them.
	clock.advance(10 * time.Second)
	l.allow(netip.MustParseAddr("203.0.113.1"))
	if n := l.tracked(); n != 1 {
		t.Errorf("%d addresses tracked after they all idled, want 1 (the newest)", n)
	}
}

// rawPublish sends one POST /publish from ip with extra header lines and
// returns the status, Retry-After and body.
func rawPublish(t *testing.T, ip, addr, headers string) (int, string, string) {
	t.Helper()
	c := dialFrom(t, ip, addr)
	fmt.Fprintf(c, "POST /publish?topic=rl HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n%s\r\nx", headers)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("publish from %s: %v", ip, err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	bufio.NewReader(resp.Body).WriteTo(&b)
	return resp.StatusCode, resp.Header.Get("Retry-After"), b.String()
}

// TestPublishRateLimits runs the limits through the whole server, from
// several client addresses (127.0.0.x), and behind a trusted proxy.
func TestPublishRateLimits(t *testing.T) {
	type pub struct {
		ip, headers string
		status      int
		retryAfter  string // for a 429
		msg         string // in the body of a 429
	}
	for _, tt := range []struct {
		name  string
		flags []string
		pubs  []pub
		count map[string]uint64
	}{
		{"per address, a burst of 3, Retry-After rounded up", []string{"-publish-rate", "0.3", "-publish-burst", "3", "-publish-rate-global", "0"}, []pub{
			{"127.0.4.1", "", 200, "", ""}, {"127.0.4.1", "", 200, "", ""}, {"127.0.4.1", "", 200, "", ""},
			{"127.0.4.1", "", 429, "4", "127.0.4.1/32 publishes over the limit per address (-publish-rate 0.3"}, // 1/0.3 = 3.3 s
			{"127.0.4.2", "", 200, "", ""}, // its own bucket
			{"127.0.4.1", "", 429, "4", "per address"},
		}, map[string]uint64{refusedPublishRate: 2}},
		{"global, over every address", []string{"-publish-rate", "0", "-publish-rate-global", "0.5", "-publish-burst-global", "2"}, []pub{
			{"127.0.4.1", "", 200, "", ""}, {"127.0.4.2", "", 200, "", ""},
			{"127.0.4.3", "", 429, "2", "global limit (-publish-rate-global 0.5"},
		}, map[string]uint64{refusedPublishRateGlobal: 1}},
		{"behind -trusted-proxy the forwarded client counts", []string{"-trusted-proxy", "127.0.5.1", "-publish-rate", "1", "-publish-burst", "1", "-publish-rate-global", "0"}, []pub{
			{"127.0.5.1", "X-Forwarded-For: 192.0.2.7", 200, "", ""},
			{"127.0.5.1", "X-Forwarded-For: 192.0.2.8", 200, "", ""}, // another client, same proxy
			{"127.0.5.1", "X-Forwarded-For: 192.0.2.7", 429, "1", "192.0.2.7/32 publishes over the limit"},
			{"127.0.5.2", "X-Forwarded-For: 192.0.2.9", 200, "", ""}, // not a trusted proxy: its own address counts
			{"127.0.5.2", "X-Forwarded-For: 192.0.2.10", 429, "1", "127.0.5.2/32"},
		}, map[string]uint64{refusedPublishRate: 2}},
		{"with a token, no limit by default", []string{"-publish-token", "s3cret"}, []pub{
			{"127.0.4.1", "Authorization: Bearer s3cret", 200, "", ""},
		}, map[string]uint64{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ts, svc := newHostileServer(t, defaults(t, tt.flags...), quiet)
			addr := ts.Listener.Addr().String()
			for i, p := range tt.pubs {
				status, ra, body := rawPublish(t, p.ip, addr, p.headers+"\r\n")
				if status != p.status || status == 429 && (ra != p.retryAfter || !strings.Contains(body, p.msg)) {
					t.Errorf("publish %d from %s %s: %d, Retry-After %q, %s; want %d, %q, %q", i, p.ip, p.headers, status, ra, body, p.status, p.retryAfter, p.msg)
				}
			}
			for _, reason := range []string{refusedPublishRate, refusedPublishRateGlobal} {
				if got := svc.refused.count(reason); got != tt.count[reason] {
					t.Errorf("counted %d %s, want %d", got, reason, tt.count[reason])
				}
			}
		})
	}
}

func TestPublishRateDefaults(t *testing.T) {
	for _, tt := range []struct {
		args                []string
		perAddr, global     float64
		limiterOn           bool
		perAddrBurst, burst int
	}{
		{nil, defaultPublishRate, defaultPublishRateGlobal, true, 500, 2000},
		{[]string{"-publish-token", "t"}, 0, 0, false, 500, 2000},
		{[]string{"-publish-token", "t", "-publish-rate", "5"}, 5, 0, true, 500, 2000},
		{[]string{"-publish-rate", "0", "-publish-rate-global", "0"}, 0, 0, false, 500, 2000},
	} {
		c := defaults(t, tt.args...)
		if c.publishRate != tt.perAddr || c.publishRateGlobal != tt.global || c.publishBurst != tt.perAddrBurst || c.publishBurstGlobal != tt.burst {
			t.Errorf("%v: rates %g/%g bursts %d/%d, want %g/%g %d/%d", tt.args, c.publishRate, c.publishRateGlobal, c.publishBurst, c.publishBurstGlobal, tt.perAddr, tt.global, tt.perAddrBurst, tt.burst)
		}
		l := newPublishLimiter(rateLimit{c.publishRate, c.publishBurst}, rateLimit{c.publishRateGlobal, c.publishBurstGlobal}, c.publishRateAddrs)
		if (l != nil) != tt.limiterOn {
			t.Errorf("%v: limiter %v, want on=%v", tt.args, l, tt.limiterOn)
		}
	}
	if _, err := parseFlags([]string{"-publish-burst", "0"}, new(strings.Builder)); err == nil {
		t.Error("-publish-burst 0 accepted")
	}
}

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
