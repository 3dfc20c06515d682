package protocol

import (
	"errors"
	"strings"
	"testing"
)

var idTests = []struct {
	id    string
	epoch string
	seq   uint64
	ok    bool
}{
	{"abc-1", "abc", 1, true},
	{"abc-0", "abc", 0, true},
	{"A_9-18446744073709551615", "A_9", 18446744073709551615, true},
	{"abc-18446744073709551616", "", 0, false},
	{"abc-01", "", 0, false},
	{"abc-+1", "", 0, false},
	{"abc--1", "", 0, false},
	{"a-b-1", "", 0, false},
	{"abc-", "", 0, false},
	{"-1", "", 0, false},
	{"abc", "", 0, false},
	{"", "", 0, false},
	{"abc-1 ", "", 0, false},
	{"ab c-1", "", 0, false},
	{strings.Repeat("a", MaxEpochLen+1) + "-1", "", 0, false},
	{strings.Repeat("a", MaxEpochLen) + "-1", strings.Repeat("a", MaxEpochLen), 1, true},
	{"a-" + strings.Repeat("1", MaxIDLen), "", 0, false},
	{"é-1", "", 0, false},
}

func TestParseID(t *testing.T) {
	for _, tt := range idTests {
		epoch, seq, err := ParseID(tt.id)
		if (err == nil) != tt.ok || epoch != tt.epoch || seq != tt.seq {
			t.Errorf("ParseID(%q) = %q, %d, %v; want %q, %d, ok %v", tt.id, epoch, seq, err, tt.epoch, tt.seq, tt.ok)
		}
		if err != nil && (!errors.Is(err, ErrMalformedID) || !strings.HasPrefix(err.Error(), "protocol: ")) {
			t.Errorf("error %q does not wrap ErrMalformedID", err)
		}
		if tt.ok && FormatID(epoch, seq) != tt.id {
			t.Errorf("FormatID(ParseID(%q)) = %q", tt.id, FormatID(epoch, seq))
		}
	}
}

func FuzzParseID(f *testing.F) {
	for _, tt := range idTests {
		f.Add(tt.id)
	}
	f.Fuzz(func(t *testing.T, id string) {
		epoch, seq, err := ParseID(id)
		if err != nil {
			return
		}
		if !ValidEpoch(epoch) {
			t.Fatalf("ParseID(%q) accepted epoch %q", id, epoch)
		}
		if got := FormatID(epoch, seq); got != id {
			t.Fatalf("FormatID(ParseID(%q)) = %q", id, got)
		}
		if strings.ContainsAny(id, "\r\n\x00") {
			t.Fatalf("a parsed ID %q cannot be sent in an id: field", id)
		}
	})
}

func TestClassify(t *testing.T) {
	for _, tt := range []struct {
		name        string
		id          string
		first, last uint64
		after       uint64
		gap         GapReason
	}{
		{"in history", "e-5", 3, 9, 5, ""},
		{"the newest", "e-9", 3, 9, 9, ""},
		{"just before the oldest", "e-2", 3, 9, 2, ""},
		{"expired", "e-1", 3, 9, 0, GapExpired},
		{"ahead", "e-10", 3, 9, 0, GapUnknown},
		{"another epoch", "f-5", 3, 9, 0, GapUnknown},
		{"malformed", "e5", 3, 9, 0, GapMalformed},
		{"empty history, from the start", "e-0", 1, 0, 0, ""},
		{"emptied history", "e-4", 10, 9, 0, GapExpired},
		{"emptied history, at the end", "e-9", 10, 9, 9, ""},
	} {
		after, gap := Classify(tt.id, "e", tt.first, tt.last)
		if after != tt.after || gap != tt.gap {
			t.Errorf("%s: Classify(%q, first %d, last %d) = %d, %q; want %d, %q", tt.name, tt.id, tt.first, tt.last, after, gap, tt.after, tt.gap)
		}
	}
}
