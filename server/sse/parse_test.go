package sse

import (
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/ssewasm/ssewasm/shared/protocol"
	"github.com/ssewasm/ssewasm/shared/topic"
)

// The ID format is tested in shared/protocol; here, that every ID the
// protocol accepts can be sent as an event's id field.
func FuzzParseLastEventID(f *testing.F) {
	f.Add("abc-1")
	f.Add("A_9-18446744073709551615")
	f.Add("a-b-1")
	f.Fuzz(func(t *testing.T, id string) {
		if _, _, err := protocol.ParseID(id); err != nil {
			return
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
	{[]string{strings.Repeat("x", topic.MaxLen)}, []string{strings.Repeat("x", topic.MaxLen)}},
	{[]string{strings.Repeat("x", topic.MaxLen+1)}, nil},
	{slices.Repeat([]string{"a"}, maxTopicsPerStream+1), nil},
}

func TestParseTopics(t *testing.T) {
	for _, tt := range topicTests {
		got, err := parseTopics(tt.in, "def")
		if tt.want == nil {
			if err == nil {
				t.Errorf("parseTopics(%.40q) = %q, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("parseTopics(%.40q) = %q, %v; want %q", tt.in, got, err, tt.want)
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
		topics, err := parseTopics(q[protocol.TopicParam], DefaultTopic)
		if err != nil {
			return
		}
		if len(topics) == 0 || len(topics) > maxTopicsPerStream {
			t.Fatalf("%d topics", len(topics))
		}
		for i, tp := range topics {
			if !validTopic(tp) || slices.Contains(topics[:i], tp) {
				t.Fatalf("topic %q invalid or repeated in %q", tp, topics)
			}
		}
		back, _ := url.ParseQuery(topicsQuery(topics...))
		again, err := parseTopics(back[protocol.TopicParam], DefaultTopic)
		if err != nil || !slices.Equal(again, topics) {
			t.Fatalf("round trip: %q -> %q, %v", topics, again, err)
		}
	})
}
