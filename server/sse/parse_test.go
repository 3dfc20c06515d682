package sse

import (
	"net/url"
	"slices"
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
	{strings.Repeat("a", 65) + "-1", "", 0, false},
	{"é-1", "", 0, false},
}

func TestParseID(t *testing.T) {
	for _, tt := range idTests {
		epoch, seq, err := ParseID(tt.id)
		if (err == nil) != tt.ok || epoch != tt.epoch || seq != tt.seq {
			t.Errorf("ParseID(%q) = %q, %d, %v; want %q, %d, ok %v", tt.id, epoch, seq, err, tt.epoch, tt.seq, tt.ok)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "sse: ") {
			t.Errorf("error %q lacks the prefix", err)
		}
		if tt.ok && FormatID(epoch, seq) != tt.id {
			t.Errorf("FormatID(ParseID(%q)) = %q", tt.id, FormatID(epoch, seq))
		}
	}
}

func FuzzParseLastEventID(f *testing.F) {
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
		if err := (Event{ID: id}).Validate(); err != nil {
			t.Fatalf("a parsed ID cannot be sent: %v", err)
		}
	})
}

var topicTests = []struct {
	in   []string
	want []string // nil: error
}{
	{nil, []string{"def"}},
	{[]string{"a"}, []string{"a"}},
	{[]string{"a", "b", "a"}, []string{"a", "b"}},
	{[]string{"chat/room-1", "user:42@x.y~z_"}, []string{"chat/room-1", "user:42@x.y~z_"}},
	{[]string{""}, nil},
	{[]string{"a,b"}, nil},
	{[]string{"a b"}, nil},
	{[]string{"a\nb"}, nil},
	{[]string{"é"}, nil},
	{[]string{strings.Repeat("x", MaxTopicLen)}, []string{strings.Repeat("x", MaxTopicLen)}},
	{[]string{strings.Repeat("x", MaxTopicLen+1)}, nil},
	{slices.Repeat([]string{"a"}, MaxTopicsPerStream+1), nil},
}

func TestParseTopics(t *testing.T) {
	for _, tt := range topicTests {
		got, err := ParseTopics(tt.in, "def")
		if tt.want == nil {
			if err == nil {
				t.Errorf("ParseTopics(%.40q) = %q, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("ParseTopics(%.40q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

// FuzzParseTopics parses a raw query string as the handler does; what it
// accepts must survive encoding into a URL and parsing back.
func FuzzParseTopics(f *testing.F) {
	for _, tt := range topicTests {
		if len(tt.in) < 10 {
			f.Add(topicsQuery(tt.in...))
		}
	}
	f.Add("topic=a&topic=b&lastEventId=x")
	f.Add("topic=%zz")
	f.Fuzz(func(t *testing.T, rawQuery string) {
		q, _ := url.ParseQuery(rawQuery)
		topics, err := ParseTopics(q[TopicParam], DefaultTopic)
		if err != nil {
			return
		}
		if len(topics) == 0 || len(topics) > MaxTopicsPerStream {
			t.Fatalf("%d topics", len(topics))
		}
		for i, tp := range topics {
			if !ValidTopic(tp) || slices.Contains(topics[:i], tp) {
				t.Fatalf("topic %q invalid or repeated in %q", tp, topics)
			}
		}
		back, _ := url.ParseQuery(topicsQuery(topics...))
		again, err := ParseTopics(back[TopicParam], DefaultTopic)
		if err != nil || !slices.Equal(again, topics) {
			t.Fatalf("round trip: %q -> %q, %v", topics, again, err)
		}
	})
}
