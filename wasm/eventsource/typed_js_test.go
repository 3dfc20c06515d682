//go:build js && wasm

package eventsource_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ssewasm/ssewasm/shared/demo"
	"github.com/ssewasm/ssewasm/shared/event"
	"github.com/ssewasm/ssewasm/shared/protocol"
	"github.com/ssewasm/ssewasm/wasm/eventsource"
	"github.com/ssewasm/ssewasm/wasm/eventsource/internal/ssetest"
)

// quote is a test-only event type that travels as JSON (it has no
// UnmarshalText), to cover Decode's other path.
type quote struct {
	Sym string  `json:"sym"`
	Px  float64 `json:"px"`
}

func (quote) EventName() string { return "quote" }

// panicky is a test-only event type whose decoder panics.
type panicky struct{}

func (panicky) EventName() string             { return "panicky" }
func (*panicky) UnmarshalText(b []byte) error { panic("decoder bug") }

// eventsURL returns the /events URL for this test (see ssetest.Server),
// with its stats key and the given query parameters, which may repeat.
func eventsURL(t *testing.T, params ...string) (u, key string) {
	t.Helper()
	return ssetest.URL(t, "/events", params...)
}

// decodeFailure is what OnEvent's onErr receives.
type decodeFailure struct {
	raw string
	err error
}

// subscribe subscribes recorders to the events of type T and their decode
// failures.
func subscribe[T any, PT interface {
	*T
	event.Named
}](src *eventsource.Source) (*eventsource.Subscription, *recorder[T], *recorder[decodeFailure]) {
	vals, errs := newRecorder[T](), newRecorder[decodeFailure]()
	sub := eventsource.OnEvent[T, PT](src, func(v T, _ string) { vals.add(v) }, func(err *eventsource.DecodeError) {
		errs.add(decodeFailure{err.Data, err})
	})
	return sub, vals, errs
}

// TestSubscribeDecodes decodes each type of shared/demo from a real
// stream, and a test-only JSON type. TestBrowserTestsCoverSharedEvents
// (native) fails when shared/demo gains a type this test does not name.
func TestSubscribeDecodes(t *testing.T) {
	at := time.Date(2026, 11, 26, 6, 43, 11, 0, time.UTC)
	u, _ := eventsURL(t,
		"e", "connecttime:"+at.Format(demo.TimeLayout),
		"e", ":"+at.Add(time.Second).Format(demo.TimeLayout), // a ping: unnamed
		"e", `quote:{"sym":"GO","px":1.25}`,
		"e", `stats:{"at":1764139391000,"clients":2,"eventsPerSecond":3.5,"memoryBytes":4096,"goroutines":9}`,
		"e", "board:hello <b>\nworld", // two data lines
		"e", `chat:{"from":"alice","text":"hi all","at":1764139391000}`,
		"e", `private:{"from":"alice","to":"bob","text":"hi <bob>","at":1764139392000}`,
	)
	src := open(t, u, eventsource.Options{})
	_, cts, ctErrs := subscribe[demo.ConnectTime](src)
	_, pings, pingErrs := subscribe[demo.Ping](src)
	_, quotes, quoteErrs := subscribe[quote](src)
	_, stats, statsErrs := subscribe[demo.ServerStats](src)
	_, boards, boardErrs := subscribe[demo.BoardMessage](src)
	_, chats, chatErrs := subscribe[demo.ChatMessage](src)
	_, privs, privErrs := subscribe[demo.PrivateMessage](src)
	ids := newRecorder[string]() // typed handlers get the event's ID
	eventsource.OnEvent(src, func(_ demo.ServerStats, id string) { ids.add(id) }, nil)

	if got := cts.next(t, "demo.ConnectTime"); !got.Time.Equal(at) {
		t.Errorf("demo.ConnectTime = %v, want %v", got.Time, at)
	}
	if got := pings.next(t, "demo.Ping"); !got.Time.Equal(at.Add(time.Second)) {
		t.Errorf("demo.Ping = %v, want %v", got.Time, at.Add(time.Second))
	}
	if got, want := quotes.next(t, "quote"), (quote{"GO", 1.25}); got != want {
		t.Errorf("quote = %+v, want %+v", got, want)
	}
	if got, want := stats.next(t, "demo.ServerStats"), (demo.ServerStats{At: 1764139391000, Clients: 2, EventsPerSecond: 3.5, MemoryBytes: 4096, Goroutines: 9}); got != want {
		t.Errorf("demo.ServerStats = %+v, want %+v", got, want)
	}
	if got, want := boards.next(t, "demo.BoardMessage"), (demo.BoardMessage{Text: "hello <b>\nworld"}); got != want {
		t.Errorf("demo.BoardMessage = %+v, want %+v", got, want)
	}
	if got, want := chats.next(t, "demo.ChatMessage"), (demo.ChatMessage{From: "alice", Text: "hi all", At: 1764139391000}); got != want {
		t.Errorf("demo.ChatMessage = %+v, want %+v", got, want)
	}
	if got, want := privs.next(t, "demo.PrivateMessage"), (demo.PrivateMessage{From: "alice", To: "bob", Text: "hi <bob>", At: 1764139392000}); got != want {
		t.Errorf("demo.PrivateMessage = %+v, want %+v", got, want)
	}
	if got := ids.next(t, "the stats event's ID"); got != "ep-4" {
		t.Errorf("the typed handler got ID %q, want ep-4", got)
	}
	for _, errs := range []*recorder[decodeFailure]{ctErrs, pingErrs, quoteErrs, statsErrs, boardErrs, chatErrs, privErrs} {
		errs.none(t, 0, "decode error")
	}
	cts.none(t, 0, "second connecttime")
	pings.none(t, 0, "second ping")
	if st := src.Stats(); st.Received != 7 || st.LastEventID != "ep-7" {
		t.Errorf("Stats() = %+v, want 7 events received, last ID ep-7", st)
	}
}

func TestSubscribeBadPayload(t *testing.T) {
	good := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	u, _ := eventsURL(t,
		"e", ":not a time",
		"e", "panicky:anything",
		"e", ":"+good.Format(demo.TimeLayout),
	)
	src := open(t, u, eventsource.Options{})
	_, pings, pingErrs := subscribe[demo.Ping](src)
	_, _, panicErrs := subscribe[panicky](src)
	nilErr := newRecorder[demo.Ping]()
	eventsource.OnEvent(src, func(p demo.Ping, _ string) { nilErr.add(p) }, nil) // a nil onErr drops bad events

	f := pingErrs.next(t, "decode error of the bad ping")
	if f.raw != "not a time" {
		t.Errorf("raw data = %q, want \"not a time\"", f.raw)
	}
	var de *eventsource.DecodeError
	if !errors.As(f.err, &de) {
		t.Fatalf("err = %T %v, want a *eventsource.DecodeError", f.err, f.err)
	}
	if de.Name != "message" || de.ID != "ep-1" || de.Data != "not a time" {
		t.Errorf("DecodeError = %+v, want event message, last ID ep-1, data \"not a time\"", de)
	}
	if !errors.Is(f.err, event.ErrDecode) || !strings.HasPrefix(f.err.Error(), "eventsource: ") {
		t.Errorf("err = %q, want an \"eventsource: \" error wrapping event.ErrDecode", f.err)
	}

	f = panicErrs.next(t, "decode error of the panicking decoder")
	if f.raw != "anything" || !errors.Is(f.err, event.ErrDecode) || !strings.Contains(f.err.Error(), "decoder bug") {
		t.Errorf("panicking decoder: raw %q, err %v; want the raw data and the recovered panic", f.raw, f.err)
	}

	// The stream goes on: the next good event decodes.
	for _, r := range []*recorder[demo.Ping]{pings, nilErr} {
		if got := r.next(t, "good ping after the bad one"); !got.Time.Equal(good) {
			t.Errorf("ping = %v, want %v", got.Time, good)
		}
		r.none(t, 0, "a value for a bad payload")
	}
	pingErrs.none(t, 0, "second decode error")
}

// TestSubscriptionCloseRemovesItsListener closes one of two subscriptions to
// the same type: exactly its listener goes, its function is released, and
// the other subscriptions keep working, on the next EventSource too.
func TestSubscriptionCloseRemovesItsListener(t *testing.T) {
	tr := trackListeners(t)
	at := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	var params []string
	for i := range 4 {
		params = append(params, "e", ":"+at.Add(time.Duration(i)*time.Second).Format(demo.TimeLayout))
	}
	// The first connection sends two pings and ends; the browser's
	// reconnection gets a 500 and it gives up; the Source's probe finds the
	// stream back (a 200, whose body it drops); the reopen sends the rest.
	u, key := eventsURL(t, append(params, "drop", "2", "fail", "2-2")...)
	src := open(t, u, eventsource.Options{Reopen: eventsource.ReopenPolicy{Initial: 50 * time.Millisecond, Jitter: -1}})
	first := tr.Call("last")

	p1, pings1, _ := subscribe[demo.Ping](src)
	_, pings2, _ := subscribe[demo.Ping](src)
	_, cts, _ := subscribe[demo.ConnectTime](src)
	src.OnGap(func(protocol.Gap, string) {})
	const all = "connecttime,error,message,message,open,sse.expired,sse.gap,sse.gap"
	if got := tr.Call("live", first).String(); got != all {
		t.Fatalf("listeners = %s, want %s", got, all)
	}
	for i := range 2 {
		pings1.next(t, "ping on the first subscription")
		if got := pings2.next(t, "ping on the second subscription"); !got.Time.Equal(at.Add(time.Duration(i) * time.Second)) {
			t.Errorf("ping %d = %v", i, got.Time)
		}
	}

	p1.Close()
	p1.Close()
	const left = "connecttime,error,message,open,sse.expired,sse.gap,sse.gap"
	if got := tr.Call("live", first).String(); got != left {
		t.Fatalf("listeners after closing one ping subscription = %s, want %s", got, left)
	}

	// The reopen moves the listeners still live to the new EventSource.
	for i := 2; i < 4; i++ {
		if got := pings2.next(t, "ping after the reopen"); !got.Time.Equal(at.Add(time.Duration(i) * time.Second)) {
			t.Errorf("ping %d = %v", i, got.Time)
		}
	}
	pings1.none(t, 0, "ping on the closed subscription")
	cts.none(t, 0, "connecttime")
	if n := tr.Call("count").Int(); n != 2 {
		t.Fatalf("%d EventSources, want 2 (one reopen)", n)
	}
	if got := tr.Call("live", first).String(); got != "" {
		t.Errorf("listeners left on the first EventSource after the reopen: %s", got)
	}
	if got := tr.Call("live", tr.Call("last")).String(); got != left {
		t.Errorf("listeners on the reopened EventSource = %s, want %s", got, left)
	}
	// Two subscriptions got each ping: counted once.
	if st := src.Stats(); st.Received != 4 || st.Reopens != 1 {
		t.Errorf("Stats() = %+v, want 4 events received, 1 reopen", st)
	}
	if st := fetchStats(t, key); len(st.Conns) != 4 || st.Conns[2].Query != "ep-2" || st.Conns[3].Query != "ep-2" {
		t.Errorf("connections %+v, want 4, the probe and the reopen resuming with lastEventId=ep-2", st.Conns)
	}
}

// TestOnTopic: handlers subscribed by topic declaration get the topic's
// payload type, decoded, with the event's ID; a payload that does not
// decode goes to the error handler. The stream's URL comes from the same
// declarations.
func TestOnTopic(t *testing.T) {
	inbox, err := demo.Inbox.For("bob")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := eventsURL(t,
		"e", `chat:{"from":"alice","text":"hi all","at":1}`,
		"e", `private:{"from":"alice","to":"bob","text":"psst","at":2}`,
		"e", `chat:{"from":7}`,
	)
	u = eventsource.TopicsURL(u, demo.Room, inbox)
	if !strings.HasSuffix(u, "&topic=room&topic=user/bob") {
		t.Fatalf("TopicsURL = %q", u)
	}
	src := open(t, u, eventsource.Options{})
	type got struct {
		v  any
		id string
	}
	seen := newRecorder[got]()
	eventsource.OnTopic(src, demo.Room, func(m demo.ChatMessage, id string) { seen.add(got{m, id}) },
		func(err *eventsource.DecodeError) { seen.add(got{"bad " + err.Data, err.ID}) })
	eventsource.OnTopic(src, inbox, func(m demo.PrivateMessage, id string) { seen.add(got{m, id}) }, nil)
	want := []got{
		{demo.ChatMessage{From: "alice", Text: "hi all", At: 1}, "ep-1"},
		{demo.PrivateMessage{From: "alice", To: "bob", Text: "psst", At: 2}, "ep-2"},
		{`bad {"from":7}`, "ep-3"},
	}
	for i, w := range want {
		if g := seen.next(t, "event"); g != w {
			t.Errorf("event %d = %+v, want %+v", i+1, g, w)
		}
	}
}
