package main

import (
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// Publish rate limits (-publish-rate, -publish-rate-global).
//
// Every POST /publish takes a token from two token buckets: its client
// address's (the address resolveClient yields, so behind -trusted-proxy
// the forwarded client counts, not the proxy) and the server's. A bucket
// holds up to its burst and refills at its rate; an empty one answers
// 429 Too Many Requests with Retry-After, the whole seconds until a
// token is back, and a message naming the limit.
//
// The table of addresses is bounded: a bucket that has refilled to its
// burst holds nothing a fresh bucket would not, so it is dropped when
// the table is swept, and the table never holds more than maxAddrs
// buckets. Addresses beyond that, while every tracked one is busy (an
// attacker with many addresses), share one bucket of the per-address
// size: memory stays bounded, the tracked publishers keep their
// buckets, and the global bucket still bounds the sum. IPv6 addresses
// count by /64, the block a single host is usually given.

// bucket is a token bucket: tokens at the time at (Unix nanoseconds).
type bucket struct {
	tokens float64
	at     int64
}

// take takes a token at now, refilling at rate up to burst first. When
// none is left it returns how long until one is.
func (b *bucket) take(now int64, rate, burst float64) (ok bool, wait time.Duration) {
	b.fill(now, rate, burst)
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration(math.Ceil((1 - b.tokens) / rate * 1e9))
}

func (b *bucket) fill(now int64, rate, burst float64) {
	if now > b.at {
		b.tokens = min(burst, b.tokens+float64(now-b.at)/1e9*rate)
		b.at = now
	}
}

// full reports whether b has refilled to its burst by now.
func (b *bucket) full(now int64, rate, burst float64) bool {
	return b.tokens+float64(now-b.at)/1e9*rate >= burst
}

// rateLimit is one limit: rate tokens a second, burst at most. A zero
// rate is no limit.
type rateLimit struct {
	rate  float64
	burst int
}

func (l rateLimit) on() bool { return l.rate > 0 }

// publishLimiter holds the buckets of -publish-rate and
// -publish-rate-global. Its methods are safe for concurrent use: one
// mutex guards everything, held for a map look-up and a few floating
// point operations per publish.
type publishLimiter struct {
	perAddr, global rateLimit
	maxAddrs        int              // buckets in addrs at most
	now             func() time.Time // time.Now; tests set a clock

	mu        sync.Mutex
	addrs     map[netip.Prefix]*bucket // guarded by mu
	overflow  bucket                   // guarded by mu; the addresses that found addrs full
	all       bucket                   // guarded by mu; the global bucket
	lastSweep int64                    // guarded by mu
}

// newPublishLimiter returns the limiter of the limits, or nil when both
// are off.
func newPublishLimiter(perAddr, global rateLimit, maxAddrs int) *publishLimiter {
	if !perAddr.on() && !global.on() {
		return nil
	}
	l := &publishLimiter{perAddr: perAddr, global: global, maxAddrs: max(1, maxAddrs), now: time.Now,
		addrs: make(map[netip.Prefix]*bucket)}
	l.overflow.tokens = float64(perAddr.burst)
	l.all.tokens = float64(global.burst)
	return l
}

// Which limit refused a publish.
const (
	limitAddr   = "per address"
	limitGlobal = "global"
)

// allow takes a token for a publish from addr. When refused it returns
// the limit that refused and how long until a retry can pass it.
func (l *publishLimiter) allow(addr netip.Addr) (ok bool, limit string, wait time.Duration) {
	now := l.now().UnixNano()
	l.mu.Lock()
	defer l.mu.Unlock()
	var b *bucket
	if l.perAddr.on() {
		b = l.bucket(addrKey(addr), now)
		if ok, wait := b.take(now, l.perAddr.rate, float64(l.perAddr.burst)); !ok {
			return false, limitAddr, wait
		}
	}
	if l.global.on() {
		if ok, wait := l.all.take(now, l.global.rate, float64(l.global.burst)); !ok {
			if b != nil {
				b.tokens++ // not spent: the publish does not happen
			}
			return false, limitGlobal, wait
		}
	}
	return true, "", 0
}

// bucket returns key's bucket, making one (full) if there is room, or
// the shared overflow bucket if there is none. l.mu is held.
func (l *publishLimiter) bucket(key netip.Prefix, now int64) *bucket {
	if b := l.addrs[key]; b != nil {
		return b
	}
	// Sweep when the table is full, and now and then anyway (once per
	// refill time at most, so that its cost is spread over the
	// publishes), so that an attack's entries go once it ends.
	refill := int64(float64(l.perAddr.burst) / l.perAddr.rate * 1e9)
	if len(l.addrs) >= l.maxAddrs && now-l.lastSweep >= min(refill, int64(time.Second)) || now-l.lastSweep >= refill {
		l.sweep(now)
	}
	if len(l.addrs) >= l.maxAddrs {
		return &l.overflow
	}
	b := &bucket{tokens: float64(l.perAddr.burst), at: now}
	l.addrs[key] = b
	return b
}

// sweep drops the buckets that have refilled: they hold nothing a new
// one would not. l.mu is held.
func (l *publishLimiter) sweep(now int64) {
	l.lastSweep = now
	for k, b := range l.addrs {
		if b.full(now, l.perAddr.rate, float64(l.perAddr.burst)) {
			delete(l.addrs, k)
		}
	}
}

// tracked returns how many addresses have a bucket of their own.
func (l *publishLimiter) tracked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.addrs)
}

// addrKey is what a per-address bucket counts: the address, or for IPv6
// its /64.
func addrKey(a netip.Addr) netip.Prefix {
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p
	}
	return netip.PrefixFrom(a, a.BitLen())
}

// limitPublishes answers 429 with Retry-After to a POST that l refuses,
// before the publish handler reads its body, and counts it
// (refusedPublishRate, refusedPublishRateGlobal). Other methods pass, for
// the handler's 405. A nil l passes everything.
func limitPublishes(next http.Handler, l *publishLimiter, ref *refusals) http.Handler {
	if l == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			next.ServeHTTP(w, r)
			return
		}
		addr := requestAddr(r)
		ok, limit, wait := l.allow(addr)
		if ok {
			next.ServeHTTP(w, r)
			return
		}
		secs := int64(math.Ceil(wait.Seconds()))
		secs = max(secs, 1)
		var msg string
		if limit == limitAddr {
			ref.add(refusedPublishRate)
			msg = fmt.Sprintf("%s publishes over the limit per address (-publish-rate %g a second, bursts of -publish-burst %d): retry in %d s", addrKey(addr), l.perAddr.rate, l.perAddr.burst, secs)
		} else {
			ref.add(refusedPublishRateGlobal)
			msg = fmt.Sprintf("the server's publishes are over their global limit (-publish-rate-global %g a second, bursts of -publish-burst-global %d): retry in %d s", l.global.rate, l.global.burst, secs)
		}
		// Not a byte of the body: answer at once, and close after it.
		setPublishReadDeadline(w, time.Now(), true)
		w.Header().Set("Connection", "close")
		w.Header().Set("Retry-After", fmt.Sprint(secs))
		writeError(w, http.StatusTooManyRequests, msg)
	})
}

// requestAddr is the client address of r, as resolveClient left it in
// RemoteAddr; the unspecified address if it is not one (a test double).
func requestAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.IPv6Unspecified()
	}
	return a
}
