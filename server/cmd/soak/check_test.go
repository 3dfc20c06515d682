package main

import (
	"testing"
	"time"
)

// ledgerOf records events 1..len(topics), event i of topics[i-1], each
// of 100 bytes, one a second from t0.
func ledgerOf(topics []int, t0 time.Time) *ledger {
	l := &ledger{}
	for i, k := range topics {
		l.record(uint64(i+1), k, 100, t0.Add(time.Duration(i)*time.Second).UnixNano())
	}
	return l
}

func TestAccountCheck(t *testing.T) {
	// Events 1..10 alternate between topics 0 and 1; topic 2 has 11 and 12.
	topics := []int{0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 2, 2}
	lim := historyLimits{size: 1000, bytes: 1 << 20, age: time.Hour}
	t0 := time.Now().Add(-time.Minute)
	cases := []struct {
		name      string
		mask      topicMask
		steps     func(a *account, l *ledger)
		lost      int64
		repeats   int64
		gapsLegit int64
		gapsBad   int64
		skipped   int64
	}{
		{name: "every event of both topics", mask: 1<<0 | 1<<1, steps: func(a *account, _ *ledger) {
			for s := uint64(1); s <= 10; s++ {
				a.observe(s)
			}
		}},
		{name: "one of its topics only, all of it", mask: 1 << 1, steps: func(a *account, _ *ledger) {
			for _, s := range []uint64{2, 4, 6, 8, 10} {
				a.observe(s)
			}
		}},
		{name: "one missing in the middle", mask: 1 << 1, lost: 1, steps: func(a *account, _ *ledger) {
			for _, s := range []uint64{2, 4, 8, 10} {
				a.observe(s)
			}
		}},
		{name: "joined late, left early: only in between counts", mask: 1 << 0, steps: func(a *account, _ *ledger) {
			for _, s := range []uint64{5, 7} {
				a.observe(s)
			}
		}},
		{name: "a repeat after a resumption", mask: 1 << 0, repeats: 1, steps: func(a *account, _ *ledger) {
			for _, s := range []uint64{1, 3, 5, 5, 7} {
				a.observe(s)
			}
		}},
		{name: "out of order: the late one is a repeat and its place a loss", mask: 1 << 0, repeats: 1, lost: 1, steps: func(a *account, _ *ledger) {
			for _, s := range []uint64{1, 5, 3, 7} {
				a.observe(s)
			}
		}},
		{name: "a gap beyond history excuses what it skipped", mask: 1 << 0, gapsLegit: 1, skipped: 2, steps: func(a *account, _ *ledger) {
			a.observe(1)
			a.gap(1, 6, false, "expired") // 3 and 5 skipped
			a.observe(7)
			a.observe(9)
		}},
		{name: "after a gap, the next event must follow its id", mask: 1 << 0, gapsLegit: 1, skipped: 1, lost: 1, steps: func(a *account, _ *ledger) {
			a.observe(1)
			a.gap(1, 4, false, "expired") // 3 skipped; 5 then missing
			a.observe(7)
		}},
		{name: "a gap within history is a failure", mask: 1 << 0, gapsBad: 1, steps: func(a *account, l *ledger) {
			a.observe(1)
			a.gap(1, 4, l.withinHistory(1, 4, lim, time.Now()), "expired")
			a.observe(5)
		}},
		{name: "stayed to the end: the tail counts", mask: 1 << 2, lost: 1, steps: func(a *account, _ *ledger) {
			a.observe(11)
			a.extend(12)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := ledgerOf(topics, t0)
			a := &account{topics: tc.mask}
			tc.steps(a, l)
			v := a.check(l)
			if v.lost != tc.lost || a.repeats != tc.repeats || a.gapsLegit != tc.gapsLegit || a.gapsBad != tc.gapsBad || v.missedInGaps != tc.skipped {
				t.Errorf("lost %d repeats %d gaps %d/%d skipped %d; want %d %d %d/%d %d",
					v.lost, a.repeats, a.gapsLegit, a.gapsBad, v.missedInGaps, tc.lost, tc.repeats, tc.gapsLegit, tc.gapsBad, tc.skipped)
			}
		})
	}
}

func TestWithinHistory(t *testing.T) {
	now := time.Now()
	l := &ledger{}
	for s := uint64(1); s <= 100; s++ { // one a second, the last now
		l.record(s, 0, 1000, now.Add(time.Duration(int(s)-100)*time.Second).UnixNano())
	}
	big := historyLimits{size: 1000, bytes: 1 << 30, age: time.Hour}
	for _, tc := range []struct {
		name         string
		last, newest uint64
		lim          historyLimits
		want         bool
	}{
		{"well within", 90, 100, big, true},
		{"no ID", 0, 100, big, false},
		{"over 80% of the count", 10, 100, historyLimits{size: 100, bytes: 1 << 30, age: time.Hour}, false},
		{"under it", 30, 100, historyLimits{size: 100, bytes: 1 << 30, age: time.Hour}, true},
		{"over 80% of the bytes", 50, 100, historyLimits{size: 1000, bytes: 50 * (1000 + frameOverhead), age: time.Hour}, false},
		{"over 80% of the age", 50, 100, historyLimits{size: 1000, bytes: 1 << 30, age: time.Minute}, false},
		{"under it", 80, 100, historyLimits{size: 1000, bytes: 1 << 30, age: time.Minute}, true},
	} {
		if got := l.withinHistory(tc.last, tc.newest, tc.lim, now); got != tc.want {
			t.Errorf("%s: withinHistory(%d, %d) = %v, want %v", tc.name, tc.last, tc.newest, got, tc.want)
		}
	}
}

func TestLedgerFirstRecordWins(t *testing.T) {
	l := &ledger{}
	l.record(3, 1, 10, 5)
	l.record(3, 2, 20, 6) // a delivery seen after the publish answer
	if n := l.count(1<<1, 1, 3); n != 1 {
		t.Errorf("count of topic 1 = %d, want 1", n)
	}
	if n := l.count(1<<2, 1, 3); n != 0 {
		t.Errorf("count of topic 2 = %d, want 0", n)
	}
	if l.newestSeq() != 3 {
		t.Errorf("newest = %d, want 3", l.newestSeq())
	}
	if got := l.newestByTopic(3); got[1] != 3 || got[0] != 0 {
		t.Errorf("newestByTopic = %v", got)
	}
}

func TestSeqOf(t *testing.T) {
	for id, want := range map[string]uint64{"abc-12": 12, "a-b-7": 7, "": 0, "nodash": 0, "x-": 0, "x-y": 0} {
		if got := seqOf(id); got != want {
			t.Errorf("seqOf(%q) = %d, want %d", id, got, want)
		}
	}
}

func TestDataRoundTrip(t *testing.T) {
	at := time.Unix(1700000000, 123)
	for _, size := range []int{0, 40, 500} {
		d := makeData(7, at, size)
		if len(d) < size {
			t.Errorf("size %d: data of %d bytes", size, len(d))
		}
		k, ns, ok := parseData(d)
		if !ok || k != 7 || ns != at.UnixNano() {
			t.Errorf("parseData(makeData(7, t, %d)) = %d, %d, %v", size, k, ns, ok)
		}
	}
	for _, bad := range []string{"", "seq=1 t=2 ", "k=x t=1 ", "k=1 t=y ", "k=99 t=1 "} {
		if _, _, ok := parseData(bad); ok {
			t.Errorf("parseData(%q): want not ok", bad)
		}
	}
}
