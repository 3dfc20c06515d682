// Package ratelimit bounds how often each client address, and all of
// them together, may do something, such as publish: a token bucket per
// address and one global bucket.
//
// A bucket holds up to its burst and refills at its rate. Each
// [Limiter.Allow] takes a token from the address's bucket and from the
// global one; when either is empty it refuses with an [*ExceededError]
// that says which limit refused and how long until a token is back, the
// Retry-After of a 429 answer:
//
//	l := ratelimit.New(ratelimit.Limit{Rate: 50, Burst: 500}, ratelimit.Limit{Rate: 1000, Burst: 2000}, 10000)
//	...
//	if err := l.Allow(clientip.Of(r).Addr); err != nil {
//		ex, _ := errors.AsType[*ratelimit.ExceededError](err)
//		w.Header().Set("Retry-After", fmt.Sprint(int(math.Ceil(ex.Wait.Seconds()))))
//		http.Error(w, err.Error(), http.StatusTooManyRequests)
//		return
//	}
//
// The table of addresses is bounded, against an attacker with many
// addresses: a bucket that has refilled to its burst holds nothing a
// fresh bucket would not, so it is dropped when the table is swept, and
// the table never holds more than maxAddrs buckets. Addresses beyond
// that, while every tracked one is busy, share one bucket of the
// per-address size: memory stays bounded, the tracked addresses keep
// their buckets, and the global bucket still bounds the sum. IPv6
// addresses count by /64, the block a single host is usually given.
package ratelimit

import (
	"fmt"
	"math"
	"net/netip"
	"sync"
	"time"
)

// Limit is one limit: Rate tokens a second, Burst at most. A zero Rate
// is no limit.
type Limit struct {
	Rate  float64
	Burst int
}

func (l Limit) on() bool { return l.Rate > 0 }

// Scope says which limit refused.
type Scope int

const (
	PerAddr Scope = iota + 1 // the address's own bucket
	Global                   // the bucket of every address together
)

func (s Scope) String() string {
	switch s {
	case PerAddr:
		return "per address"
	case Global:
		return "global"
	}
	return fmt.Sprintf("Scope(%d)", int(s))
}

// ExceededError is the error of a refused Allow.
type ExceededError struct {
	Scope Scope
	Limit Limit         // the limit of Scope
	Key   netip.Prefix  // what the address counts as: itself, or its /64
	Wait  time.Duration // until a token is back: the earliest a retry can pass
}

func (e *ExceededError) Error() string {
	if e.Scope == PerAddr {
		return fmt.Sprintf("ratelimit: %s is over the limit per address (%g a second, bursts of %d): retry in %v", e.Key, e.Limit.Rate, e.Limit.Burst, e.Wait.Round(time.Millisecond))
	}
	return fmt.Sprintf("ratelimit: over the global limit (%g a second, bursts of %d): retry in %v", e.Limit.Rate, e.Limit.Burst, e.Wait.Round(time.Millisecond))
}

// Limiter holds the buckets of a per-address limit and a global one.
// Its methods are safe for concurrent use: one mutex guards
// everything, held for a map look-up and a few floating point
// operations per Allow.
type Limiter struct {
	perAddr, global Limit
	maxAddrs        int              // buckets in addrs at most
	now             func() time.Time // time.Now; tests set a clock

	mu        sync.Mutex
	addrs     map[netip.Prefix]*bucket // guarded by mu
	overflow  bucket                   // guarded by mu; the addresses that found addrs full
	all       bucket                   // guarded by mu; the global bucket
	lastSweep int64                    // guarded by mu
}

// New returns the limiter of the limits, tracking at most maxAddrs
// addresses (at least 1), or nil when both limits are off.
func New(perAddr, global Limit, maxAddrs int) *Limiter {
	if !perAddr.on() && !global.on() {
		return nil
	}
	l := &Limiter{perAddr: perAddr, global: global, maxAddrs: max(1, maxAddrs), now: time.Now,
		addrs: make(map[netip.Prefix]*bucket)}
	l.overflow.tokens = float64(perAddr.Burst)
	l.all.tokens = float64(global.Burst)
	return l
}

// Allow takes a token for addr, from its bucket and the global one. When
// either is empty it takes none and returns an [*ExceededError]. An
// invalid addr counts as the IPv6 unspecified address.
func (l *Limiter) Allow(addr netip.Addr) error {
	now := l.now().UnixNano()
	l.mu.Lock()
	defer l.mu.Unlock()
	k := key(addr)
	var b *bucket
	if l.perAddr.on() {
		b = l.bucket(k, now)
		if ok, wait := b.take(now, l.perAddr.Rate, float64(l.perAddr.Burst)); !ok {
			return &ExceededError{Scope: PerAddr, Limit: l.perAddr, Key: k, Wait: wait}
		}
	}
	if l.global.on() {
		if ok, wait := l.all.take(now, l.global.Rate, float64(l.global.Burst)); !ok {
			if b != nil {
				b.tokens++ // not spent: what it was for does not happen
			}
			return &ExceededError{Scope: Global, Limit: l.global, Key: k, Wait: wait}
		}
	}
	return nil
}

// bucket returns k's bucket, making one (full) if there is room, or
// the shared overflow bucket if there is none. l.mu is held.
func (l *Limiter) bucket(k netip.Prefix, now int64) *bucket {
	if b := l.addrs[k]; b != nil {
		return b
	}
	// Sweep when the table is full, and now and then anyway (once per
	// refill time at most, so that its cost is spread over the
	// calls), so that an attack's entries go once it ends.
	refill := int64(float64(l.perAddr.Burst) / l.perAddr.Rate * 1e9)
	if len(l.addrs) >= l.maxAddrs && now-l.lastSweep >= min(refill, int64(time.Second)) || now-l.lastSweep >= refill {
		l.sweep(now)
	}
	if len(l.addrs) >= l.maxAddrs {
		return &l.overflow
	}
	b := &bucket{tokens: float64(l.perAddr.Burst), at: now}
	l.addrs[k] = b
	return b
}

// sweep drops the buckets that have refilled: they hold nothing a new
// one would not. l.mu is held.
func (l *Limiter) sweep(now int64) {
	l.lastSweep = now
	for k, b := range l.addrs {
		if b.full(now, l.perAddr.Rate, float64(l.perAddr.Burst)) {
			delete(l.addrs, k)
		}
	}
}

// tracked returns how many addresses have a bucket of their own.
func (l *Limiter) tracked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.addrs)
}

// key is what a per-address bucket counts: the address, or for IPv6 its
// /64.
func key(a netip.Addr) netip.Prefix {
	if !a.IsValid() {
		a = netip.IPv6Unspecified()
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p
	}
	return netip.PrefixFrom(a, a.BitLen())
}

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
