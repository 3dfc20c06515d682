package sse

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ssewasm/ssewasm/shared/event"
	"github.com/ssewasm/ssewasm/shared/topic"
)

// score travels as JSON; note as text; broken's encoder fails.
type score struct {
	Team   string `json:"team"`
	Points int    `json:"points"`
}

func (score) EventName() string { return "score" }

type note struct{ Text string }

func (note) EventName() string               { return "" }
func (n note) MarshalText() ([]byte, error)  { return []byte(n.Text), nil }
func (n *note) UnmarshalText(b []byte) error { n.Text = string(b); return nil }

type broken struct{}

func (broken) EventName() string            { return "broken" }
func (broken) MarshalText() ([]byte, error) { return nil, errors.New("no text") }

var (
	scores = topic.New[score]("scores", topic.Public)
	notes  = topic.New[note]("notes", topic.Public)
)

// PublishTo sends what event.Encode makes of the value, under the topic's
// name, and returns the stored event's ID; PublishLocalTo sends it
// without an ID.
func TestPublishTo(t *testing.T) {
	b, srv := newTestBroker(t, hijackMode, Options{Retry: -1}) // events without a retry field
	c := connect(t, srv, topicsQuery("scores", "notes"), nil)
	id, err := PublishTo(context.Background(), b, scores, score{"blue", 3})
	if err != nil {
		t.Fatal(err)
	}
	if err := PublishLocalTo(b, notes, note{"line 1\nline 2"}); err != nil {
		t.Fatal(err)
	}
	got := c.events(2)
	want := []Event{
		{ID: id, Name: "score", Data: `{"team":"blue","points":3}`},
		{ID: id, Name: "", Data: "line 1\nline 2"}, // no id of its own: the decoder keeps the last
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if s, err := event.Decode[score](got[0].Data); err != nil || s != (score{"blue", 3}) {
		t.Errorf("the client decodes %+v, %v", s, err)
	}
	if s := b.Stats(); s.Published != 1 || s.Local != 1 {
		t.Errorf("stats %+v, want 1 published and 1 local", s)
	}
}

// A zero Topic, or a value that does not encode, publishes nothing.
func TestPublishToRefuses(t *testing.T) {
	b, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Shutdown(context.Background())
	for _, tc := range []struct {
		name string
		pub  func() error
		is   error
	}{
		{"zero topic", func() error { _, err := PublishTo(context.Background(), b, topic.Topic[score]{}, score{}); return err }, ErrInvalidTopic},
		{"zero topic, local", func() error { return PublishLocalTo(b, topic.Topic[score]{}, score{}) }, ErrInvalidTopic},
		{"encoder fails", func() error {
			_, err := PublishTo(context.Background(), b, topic.New[broken]("b", topic.Public), broken{})
			return err
		}, nil},
	} {
		err := tc.pub()
		if err == nil || (tc.is != nil && !errors.Is(err, tc.is)) {
			t.Errorf("%s: err = %v, want an error wrapping %v", tc.name, err, tc.is)
		}
	}
	if s := b.Stats(); s.Published != 0 || s.Local != 0 {
		t.Errorf("stats %+v: a refused publish was sent", s)
	}
}

// Stream.SendValue writes the value's name and encoded data.
func TestStreamSendValue(t *testing.T) {
	sent := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := NewStream(w, r)
		if err != nil {
			sent <- err
			return
		}
		if err := s.SendValue(score{"red", 1}); err != nil {
			sent <- err
			return
		}
		if err := s.SendValue(broken{}); err == nil {
			sent <- errors.New("SendValue(broken{}) = nil, want the encoder's error")
			return
		}
		sent <- s.SendValue(note{"bye"})
	}))
	defer srv.Close()
	c := connect(t, srv, "", nil)
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	for _, want := range []Event{{Name: "score", Data: `{"team":"red","points":1}`}, {Data: "bye"}} {
		if got := c.nextEvent(); got != want {
			t.Fatalf("got %+v, want %+v", got, want)
		}
	}
}
