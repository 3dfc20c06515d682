package main

import (
	"strings"
	"testing"
	"time"
)

func TestPayload(t *testing.T) {
	at := time.Unix(1700000000, 123456789)
	for _, tc := range []struct {
		seq       uint64
		size      int
		multiline bool
	}{
		{0, 100, false},
		{123, 100, false},
		{123, 10, false}, // smaller than the prefix: the prefix wins
		{99999, 1000, true},
	} {
		p := makePayload(tc.seq, at, tc.size, tc.multiline)
		if !strings.HasPrefix(p, "seq=") || !strings.Contains(p, " t=1700000000123456789 ") {
			t.Errorf("payload %q lacks the seq and time prefix", p)
		}
		if len(p) < tc.size {
			t.Errorf("payload is %d bytes, want at least %d", len(p), tc.size)
		}
		if tc.size > 40 && len(p) != tc.size {
			t.Errorf("payload is %d bytes, want %d", len(p), tc.size)
		}
		if strings.Contains(p, "\n") != tc.multiline {
			t.Errorf("multiline=%v but payload %q", tc.multiline, p)
		}
		if strings.ContainsAny(p, "\r\x00") {
			t.Errorf("payload %q holds CR or NUL", p)
		}
		seq, err := parseSeq(p)
		if err != nil || seq != tc.seq {
			t.Errorf("parseSeq(%q) = %d, %v; want %d", p, seq, err, tc.seq)
		}
		if p != makePayload(tc.seq, at, tc.size, tc.multiline) {
			t.Error("makePayload is not deterministic")
		}
	}
	if _, err := parseSeq("warm=3"); err != errNotMeasured {
		t.Errorf("parseSeq(warm) = %v, want errNotMeasured", err)
	}
	for _, bad := range []string{"seq=", "seq=12", "seq=x y", "seq=-1 t=2"} {
		if _, err := parseSeq(bad); err == nil || err == errNotMeasured {
			t.Errorf("parseSeq(%q) = %v, want a parse error", bad, err)
		}
	}
}
