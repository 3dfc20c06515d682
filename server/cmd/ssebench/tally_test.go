package main

import (
	"testing"
	"time"
)

func TestTally(t *testing.T) {
	table := newSentTable(10)
	at := time.Unix(1, 0)
	for seq := range uint64(6) {
		table.put(seq, &sent{data: makePayload(seq, at, 50, false), mono: time.Duration(seq) * time.Millisecond})
		if seq != 4 { // 4 was published, but its request failed
			table.ack(seq)
		}
	}
	data := func(seq uint64) string { return table.get(seq).data }
	var tl tally
	now := 100 * time.Millisecond
	tl.observe("", "warm=1", now, table, "")
	tl.observe("sse.heartbeat", "2026-01-01T00:00:00Z", now, table, "")
	tl.observe("sse.gap", `{"reason":"expired"}`, now, table, "")
	tl.observe("", data(0), now, table, "")
	tl.observe("", data(1), now, table, "")
	tl.observe("", data(1), now, table, "")          // duplicate
	tl.observe("", data(2)+"x", now, table, "")      // corrupt
	tl.observe("other", data(3), now, table, "")     // wrong event name: corrupt
	tl.observe("", data(4), now, table, "")          // delivered, but not acked
	tl.observe("", "seq=7 t=1 pad", now, table, "")  // never published
	tl.observe("", "seq=99 t=1 pad", now, table, "") // beyond the table
	tl.observe("", "seq=zz", now, table, "")         // malformed

	acked := table.ackedSet(6)
	for _, c := range []struct {
		name      string
		got, want int64
	}{
		{"unique", tl.unique.Load(), 5},
		{"dups", tl.dups, 1},
		{"corrupt", tl.corrupt, 3},
		{"unknown", tl.unknown, 2},
		{"warm", tl.warm, 1},
		{"gaps", tl.gaps, 1},
		{"missing", tl.lossCount(acked), 1}, // seq 5
		{"unacked", tl.unackedCount(acked), 1},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	if n := tl.hist.Count(); n != 3 { // 0, 1 and 4 verified
		t.Errorf("latency samples = %d, want 3", n)
	}
	if got := tl.hist.Quantile(0.01); got < 95*time.Millisecond || got > 101*time.Millisecond {
		t.Errorf("latency of seq 0 = %v, want ~100ms", got)
	}
}

func TestBitset(t *testing.T) {
	var a, b bitset
	for _, n := range []uint64{0, 63, 64, 1000} {
		if a.set(n) {
			t.Errorf("set(%d) on empty: had = true", n)
		}
	}
	if !a.set(63) || !a.has(1000) || a.has(999) || a.has(1<<40) {
		t.Error("bitset membership wrong")
	}
	b.set(63)
	if got := a.andNotCount(b); got != 3 {
		t.Errorf("a \\ b = %d, want 3", got)
	}
	if got := b.andNotCount(a); got != 0 {
		t.Errorf("b \\ a = %d, want 0", got)
	}
}
