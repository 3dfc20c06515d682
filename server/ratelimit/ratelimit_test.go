package ratelimit

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// fakeClock is a settable clock for Limiter.now.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestLimiter(t *testing.T) {
	a1, a2 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	v6a, v6b, v6c := netip.MustParseAddr("2001:db8:0:1::1"), netip.MustParseAddr("2001:db8:0:1::2"), netip.MustParseAddr("2001:db8:0:2::1")
	mapped := netip.MustParseAddr("::ffff:192.0.2.1")
	type step struct {
		after time.Duration // the clock moves this much first
		addr  netip.Addr
		ok    bool
		scope Scope         // when refused
		wait  time.Duration // when refused
	}
	for _, tt := range []struct {
		name            string
		perAddr, global Limit
		steps           []step
	}{
		{"per address: a burst, then the rate", Limit{2, 3}, Limit{}, []step{
			{0, a1, true, 0, 0}, {0, a1, true, 0, 0}, {0, a1, true, 0, 0},
			{0, a1, false, PerAddr, 500 * time.Millisecond},
			{0, a2, true, 0, 0}, // another address has its own bucket
			{250 * time.Millisecond, a1, false, PerAddr, 250 * time.Millisecond},
			{250 * time.Millisecond, a1, true, 0, 0},
			{10 * time.Second, a1, true, 0, 0}, {0, a1, true, 0, 0}, {0, a1, true, 0, 0}, // refilled to the burst, no more
			{0, a1, false, PerAddr, 500 * time.Millisecond},
		}},
		{"global: every address together", Limit{}, Limit{1, 2}, []step{
			{0, a1, true, 0, 0}, {0, a2, true, 0, 0},
			{0, a1, false, Global, time.Second},
			{time.Second, a2, true, 0, 0},
		}},
		{"both: a global refusal leaves the address's token", Limit{1, 2}, Limit{1, 1}, []step{
			{0, a1, true, 0, 0},
			{0, a1, false, Global, time.Second}, // a1 still has a token
			{time.Second, a1, true, 0, 0},       // so it passes once the global bucket refills
			{0, a1, false, Global, time.Second}, // a1 has a token, the server none
		}},
		{"IPv6 counts by /64", Limit{1, 1}, Limit{}, []step{
			{0, v6a, true, 0, 0},
			{0, v6b, false, PerAddr, time.Second}, // same /64
			{0, v6c, true, 0, 0},                  // another /64
		}},
		{"an IPv4-mapped address is the IPv4 address", Limit{1, 1}, Limit{}, []step{
			{0, a1, true, 0, 0},
			{0, mapped, false, PerAddr, time.Second},
		}},
		{"invalid addresses share one bucket", Limit{1, 1}, Limit{}, []step{
			{0, netip.Addr{}, true, 0, 0},
			{0, netip.Addr{}, false, PerAddr, time.Second},
			{0, a1, true, 0, 0},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clock := &fakeClock{t: time.Unix(1e9, 0)}
			l := New(tt.perAddr, tt.global, 100)
			l.now = clock.now
			for i, s := range tt.steps {
				clock.advance(s.after)
				err := l.Allow(s.addr)
				ex, refused := errors.AsType[*ExceededError](err)
				if refused != !s.ok || (err != nil) != refused {
					t.Fatalf("step %d (%v): %v; want allowed %v", i, s.addr, err, s.ok)
				}
				if !refused {
					continue
				}
				want := tt.perAddr
				if s.scope == Global {
					want = tt.global
				}
				if ex.Scope != s.scope || ex.Limit != want || ex.Wait < s.wait-time.Millisecond || ex.Wait > s.wait+time.Millisecond {
					t.Errorf("step %d (%v): %+v; want scope %v, limit %v, wait %v", i, s.addr, ex, s.scope, want, s.wait)
				}
			}
		})
	}
	if New(Limit{}, Limit{}, 10) != nil {
		t.Error("no limit on: want no limiter")
	}
}

func TestExceededError(t *testing.T) {
	for _, tt := range []struct {
		err  ExceededError
		want string
	}{
		{ExceededError{PerAddr, Limit{0.5, 3}, netip.MustParsePrefix("2001:db8::/64"), 1500 * time.Millisecond},
			"ratelimit: 2001:db8::/64 is over the limit per address (0.5 a second, bursts of 3): retry in 1.5s"},
		{ExceededError{Global, Limit{1000, 2000}, netip.MustParsePrefix("192.0.2.1/32"), time.Millisecond},
			"ratelimit: over the global limit (1000 a second, bursts of 2000): retry in 1ms"},
	} {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	if got := Scope(7).String(); !strings.Contains(got, "7") {
		t.Errorf("Scope(7) = %q", got)
	}
}

// TestLimiterBounded: an attacker with many addresses does not grow the
// table past its cap; the addresses beyond it share one bucket; the
// tracked ones keep theirs; and the table empties once they idle.
func TestLimiterBounded(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	const cap = 100
	l := New(Limit{1, 5}, Limit{}, cap) // refills in 5 s
	l.now = clock.now
	victim := netip.MustParseAddr("198.51.100.1")
	for range 3 {
		if err := l.Allow(victim); err != nil {
			t.Fatalf("victim refused in its burst: %v", err)
		}
	}
	overflowOK := 0
	for i := range 10000 {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		if err := l.Allow(a); err == nil && i >= cap {
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
		t.Errorf("%d calls of addresses beyond the cap passed: want them to share one bucket", overflowOK)
	}
	// The victim kept its bucket: 2 tokens left.
	if err1, err2 := l.Allow(victim), l.Allow(victim); err1 != nil || err2 != nil {
		t.Errorf("the victim's bucket was lost to the flood of addresses: %v, %v", err1, err2)
	}
	// Once every bucket has refilled, the next call sweeps them.
	clock.advance(10 * time.Second)
	l.Allow(netip.MustParseAddr("203.0.113.1"))
	if n := l.tracked(); n != 1 {
		t.Errorf("%d addresses tracked after they all idled, want 1 (the newest)", n)
	}
}

// BenchmarkAllow: the cost per call of a few busy addresses, the hot
// path of a publish.
func BenchmarkAllow(b *testing.B) {
	l := New(Limit{1e9, 1e9}, Limit{1e9, 1e9}, 10000)
	addrs := []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("198.51.100.7")}
	for i := 0; b.Loop(); i++ {
		if err := l.Allow(addrs[i%len(addrs)]); err != nil {
			b.Fatal(err)
		}
	}
}
