package main

import (
	"strings"
	"testing"
	"time"
)

func TestSilences(t *testing.T) {
	// 40 events of topic 0, one a second from start.
	start := time.Now().Add(-time.Hour)
	topics := make([]int, 40)
	l := ledgerOf(topics, start)
	names := []string{"t0"}
	cases := []struct {
		name    string
		kind    kind
		stream  streamRec
		observe []uint64 // events the stream got
		silent  int
	}{
		{name: "got every event while open", stream: streamRec{head: 4, opened: 4 * time.Second, ended: 30 * time.Second}, observe: seqs(5, 30)},
		{name: "new stream that got nothing for 26 s", stream: streamRec{head: 4, opened: 4 * time.Second, ended: 30 * time.Second}, silent: 1},
		{name: "stopped getting events 15 s before it ended", stream: streamRec{head: 4, opened: 4 * time.Second, ended: 30 * time.Second}, observe: seqs(5, 15), silent: 1},
		{name: "the last events were under 10 s old", stream: streamRec{head: 4, opened: 4 * time.Second, ended: 30 * time.Second}, observe: seqs(5, 22)},
		{name: "too short to tell", stream: streamRec{head: 4, opened: 4 * time.Second, ended: 14 * time.Second}},
		{name: "a pausing client may fall behind", kind: pausing, stream: streamRec{head: 4, opened: 4 * time.Second, ended: 30 * time.Second}},
		{name: "a resumed stream that got its replay and the live events", stream: streamRec{sent: 2, head: 20, opened: 20 * time.Second, ended: 39 * time.Second}, observe: seqs(3, 39)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := &account{id: 1, kind: tc.kind, topics: 1, streams: []streamRec{tc.stream}}
			for _, s := range tc.observe {
				a.observe(s)
			}
			var ex []string
			if got := a.silences(l, start, names, &ex); got != tc.silent {
				t.Errorf("silent streams %d, want %d (%v)", got, tc.silent, ex)
			}
			if len(ex) != tc.silent {
				t.Errorf("%d examples for %d silent streams", len(ex), tc.silent)
			}
		})
	}
}

func TestExplainPlacesLosses(t *testing.T) {
	start := time.Now().Add(-time.Hour)
	l := ledgerOf(make([]int, 30), start)
	a := &account{id: 7, topics: 1, seqs: []uint32{}}
	a.streams = append(a.streams, streamRec{inst: "a", head: 1})
	for _, s := range []uint64{2, 3, 4, 6, 7} { // 5 missing inside the stream
		a.observe(s)
	}
	a.streams = append(a.streams, streamRec{inst: "b", sent: 7, head: 12})
	for _, s := range []uint64{10, 11, 12} { // 8 and 9 missing between streams
		a.observe(s)
	}
	v := a.check(l)
	if v.lost != 3 || len(v.lossy) != 1 {
		t.Fatalf("lost %d in %d segments, want 3 in 1", v.lost, len(v.lossy))
	}
	got := a.explain(l, v.lossy[0], []string{"t0"}, start)
	for _, want := range []string{"stream 1 on a", "got 2–7: 5 of 6", "stream 2 on b", "**2 due before its first**", "**2 due between streams** (8–9)", "missing: 5 (t0", "8 (t0", "9 (t0"} {
		if !strings.Contains(got, want) {
			t.Errorf("explain says %q; want it to say %q", got, want)
		}
	}
}

func seqs(from, to uint64) []uint64 {
	var out []uint64
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}
