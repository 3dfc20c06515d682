package main

import (
	"math/bits"
	"strings"
	"sync/atomic"
	"time"

	hdr "github.com/ssewasm/ssewasm/server/internal/latency"
	"github.com/ssewasm/ssewasm/shared/protocol"
)

// bitset is a growable set of sequence numbers.
type bitset []uint64

// set adds n and reports whether it was already there.
func (b *bitset) set(n uint64) (had bool) {
	w := int(n / 64)
	if w >= len(*b) {
		grown := make(bitset, w+1, max(w+1, 2*len(*b)))
		copy(grown, *b)
		*b = grown
	}
	m := uint64(1) << (n % 64)
	had = (*b)[w]&m != 0
	(*b)[w] |= m
	return had
}

func (b bitset) has(n uint64) bool {
	w := int(n / 64)
	return w < len(b) && b[w]&(1<<(n%64)) != 0
}

// andNotCount returns |b \ o|, the members of b missing from o.
func (b bitset) andNotCount(o bitset) int64 {
	var n int
	for i, w := range b {
		if i < len(o) {
			w &^= o[i]
		}
		n += bits.OnesCount64(w)
	}
	return int64(n)
}

// tally is what one client received, checked against what was published.
// The client's goroutine writes it; unique is atomic so that progress and
// the drain can read it while the client runs.
type tally struct {
	seen    bitset
	unique  atomic.Int64   // distinct measured events received
	dups    int64          // measured events received more than once
	corrupt int64          // measured events whose data differs from what was published
	unknown int64          // "seq=" events never published (or beyond the table)
	warm    int64          // warm-up events and other unmeasured data
	gaps    int64          // sse.gap events (the server said it could not replay)
	lastAt  atomic.Int64   // when the last measured event arrived, on the run clock
	hist    *hdr.Histogram // latency, allocated at the first measured event
}

// reserved reports whether an event name is one of the protocol's
// reserved sse.* events, which never carry published data.
func reserved(event string) bool { return strings.HasPrefix(event, protocol.ReservedPrefix) }

// observe accounts for one received event with the given type and data,
// received at now on the run's clock.
func (t *tally) observe(event, data string, now time.Duration, table *sentTable, wantEvent string) {
	if reserved(event) {
		if event == protocol.GapEvent {
			t.gaps++
		}
		return
	}
	seq, err := parseSeq(data)
	if err == errNotMeasured {
		t.warm++
		return
	}
	if err != nil {
		t.corrupt++
		return
	}
	s := table.get(seq)
	if s == nil {
		t.unknown++
		return
	}
	if t.seen.set(seq) {
		t.dups++
		return
	}
	t.unique.Add(1)
	t.lastAt.Store(int64(now))
	if data != s.data || event != wantEvent {
		t.corrupt++
		return
	}
	if t.hist == nil {
		t.hist = new(hdr.Histogram)
	}
	t.hist.Record(now - s.mono)
}

// lossCount returns how many acknowledged events the client never got.
func (t *tally) lossCount(acked bitset) int64 { return acked.andNotCount(t.seen) }

// unackedCount returns how many events the client got whose publish
// request failed (the server published them but did not say so in time).
func (t *tally) unackedCount(acked bitset) int64 { return t.seen.andNotCount(acked) }

// ackedSet returns the acknowledged sequence numbers below n as a bitset.
func (tb *sentTable) ackedSet(n uint64) bitset {
	var b bitset
	for seq := uint64(0); seq < n && seq < uint64(tb.capacity()); seq++ {
		if tb.isAcked(seq) {
			b.set(seq)
		}
	}
	return b
}
