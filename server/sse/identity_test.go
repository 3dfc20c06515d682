package sse

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssewasm/ssewasm/shared/protocol"
)

// The identity tests sign streams in with headers: X-User is the
// subject, X-Session the session, X-Issued and X-Expires Unix
// milliseconds; X-Fail makes Identify fail. A topic "user/<name>" is
// name's alone; every other topic is public.

func headerIdentity(r *http.Request) (Identity, error) {
	if r.Header.Get("X-Fail") != "" {
		return Identity{}, errors.New("bad credentials")
	}
	id := Identity{Subject: r.Header.Get("X-User"), Session: r.Header.Get("X-Session")}
	ms := func(h string) time.Time {
		n, err := strconv.ParseInt(r.Header.Get(h), 10, 64)
		if err != nil {
			return time.Time{}
		}
		return time.UnixMilli(n)
	}
	id.Issued, id.Expires = ms("X-Issued"), ms("X-Expires")
	return id, nil
}

func ownTopics(id Identity, topic string) bool {
	name, private := strings.CutPrefix(topic, "user/")
	return !private || id.Subject != "" && id.Subject == name
}

// identityOptions are the options of a broker that signs streams in
// with headerIdentity.
func identityOptions() Options {
	return Options{Identify: headerIdentity, MayRead: ownTopics}
}

// as returns the headers that sign a request in as user with session,
// issued now, expiring at expires (zero: never).
func as(user, session string, expires time.Time) http.Header {
	h := http.Header{"X-User": {user}, "X-Session": {session}, "X-Issued": {strconv.FormatInt(time.Now().UnixMilli(), 10)}}
	if !expires.IsZero() {
		h.Set("X-Expires", strconv.FormatInt(expires.UnixMilli(), 10))
	}
	return h
}

// nextControl returns the next event, skipping heartbeats, and checks
// that it is the reserved event name with no ID: the stream's last event
// ID (the decoder's, as a browser keeps it) stays lastID. It returns its
// topics.
func nextControl(t *testing.T, c *testClient, name, lastID string) []string {
	t.Helper()
	e := c.nextEvent()
	if e.Name != name || e.ID != lastID {
		t.Fatalf("got %+v, want the %s event, without an ID (the last event ID stays %q)", e, name, lastID)
	}
	var d struct{ Topics []string }
	if err := json.Unmarshal([]byte(e.Data), &d); err != nil || d.Topics == nil {
		t.Fatalf("%s data %q: %v", name, e.Data, err)
	}
	return d.Topics
}

// A stream is refused before any byte when its identity may not read a
// topic it names: 401 when anonymous, 403 when signed in as someone
// else, 401 when Identify fails, the identity has expired or was
// revoked; each with a message, each counted.
func TestIdentityAtOpen(t *testing.T) { run(t, testIdentityAtOpen) }

func testIdentityAtOpen(t *testing.T, mode testMode) {
	var mu sync.Mutex
	var rejected []error
	opts := identityOptions()
	opts.Hooks.OnReject = func(_ *http.Request, err error) {
		mu.Lock()
		rejected = append(rejected, err)
		mu.Unlock()
	}
	b, srv := newTestBroker(t, mode, opts)
	ctx := context.Background()
	if err := b.Revoke(ctx, Revocation{Session: "gone", Until: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	private := srv.URL + "/events?" + topicsQuery("news", "user/alice")
	for _, tt := range []struct {
		name   string
		url    string
		header http.Header
		status int
		want   string
		is     error
	}{
		{"anonymous", private, nil, 401, "topic user/alice; sign in", ErrSignInRequired},
		{"another user", private, as("bob", "b1", time.Time{}), 403, "topic user/alice is not for the signed-in user", ErrForbidden},
		{"identify fails", private, http.Header{"X-Fail": {"1"}}, 401, "bad credentials", nil},
		{"identify fails on a public topic", srv.URL + "/events?topic=news", http.Header{"X-Fail": {"1"}}, 401, "bad credentials", nil},
		{"expired", private, as("alice", "a0", time.Now().Add(-time.Second)), 401, "expired: renew it", ErrExpired},
		{"revoked session", private, as("alice", "gone", time.Time{}), 401, "session revoked", ErrRevoked},
	} {
		resp, body := get(t, srv, tt.url, tt.header)
		if resp.StatusCode != tt.status || !strings.Contains(body, tt.want) || resp.Header.Get("Content-Type") == "text/event-stream" {
			t.Errorf("%s: %d %q, want %d with %q and no stream", tt.name, resp.StatusCode, body, tt.status, tt.want)
		}
		mu.Lock()
		last := rejected[len(rejected)-1]
		mu.Unlock()
		if tt.is != nil && !errors.Is(last, tt.is) {
			t.Errorf("%s: OnReject got %v, want %v", tt.name, last, tt.is)
		}
	}
	s := b.Stats()
	if s.RefusedSignIn != 1 || s.RefusedForbidden != 1 || s.RefusedIdentify != 2 || s.RefusedExpired != 1 || s.RefusedRevoked != 1 || s.Rejected != 6 || s.Clients != 0 {
		t.Errorf("stats %+v", s)
	}
	// Alice reads her own topic; anyone reads a public one.
	c := connect(t, srv, topicsQuery("news", "user/alice"), as("alice", "a1", time.Now().Add(time.Hour)))
	connect(t, srv, topicsQuery("news"), nil)
	publish(t, b, "user/alice", "hers")
	if e := c.nextEvent(); e.Data != "hers" {
		t.Errorf("alice got %+v", e)
	}
}

// The broker's control topic is nobody's: neither a stream nor a
// publisher can name it.
func TestControlTopicReserved(t *testing.T) {
	b, srv := newTestBroker(t, http1Mode, Options{})
	if resp, body := get(t, srv, srv.URL+"/events?topic="+controlTopic, nil); resp.StatusCode != 400 || !strings.Contains(body, "reserved") {
		t.Errorf("subscribe: %d %q, want 400", resp.StatusCode, body)
	}
	if _, err := b.Publish(context.Background(), controlTopic, Event{Name: revokeEvent, Data: `{"session":"x","until":9e18}`}); !errors.Is(err, ErrInvalidTopic) {
		t.Errorf("publish: %v, want ErrInvalidTopic", err)
	}
	if err := b.PublishLocal(controlTopic, Event{Data: "x"}); !errors.Is(err, ErrInvalidTopic) {
		t.Errorf("publish local: %v, want ErrInvalidTopic", err)
	}
	if _, err := New(Options{DefaultTopic: controlTopic}); err == nil {
		t.Error("New accepted the control topic as the default topic")
	}
}

// Revoking a session takes its private topics from every stream of it
// at once: each gets sse.revoked naming them, then only its public
// topics, on the same connection; the user's other session keeps both.
// The revoked session is refused when it reopens.
func TestRevokeKeepsPublicTopics(t *testing.T) { run(t, testRevokeKeepsPublicTopics) }

func testRevokeKeepsPublicTopics(t *testing.T, mode testMode) {
	var mu sync.Mutex
	var reasons []error
	opts := identityOptions()
	opts.Hooks.OnDisconnect = func(_ ClientInfo, err error) {
		mu.Lock()
		reasons = append(reasons, err)
		mu.Unlock()
	}
	b, srv := newTestBroker(t, mode, opts)
	q := topicsQuery("news", "user/alice")
	tab1 := connect(t, srv, q, as("alice", "s1", time.Time{}))
	tab2 := connect(t, srv, q, as("alice", "s1", time.Time{}))
	other := connect(t, srv, q, as("alice", "s2", time.Time{}))
	alone := connect(t, srv, topicsQuery("user/alice"), as("alice", "s1", time.Time{}))
	beforeID := publish(t, b, "user/alice", "before")
	for _, c := range []*testClient{tab1, tab2, other, alone} {
		if e := c.nextEvent(); e.Data != "before" {
			t.Fatalf("got %+v", e)
		}
	}
	if err := b.Revoke(context.Background(), Revocation{Session: "s1", Until: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*testClient{tab1, tab2, alone} {
		if got := nextControl(t, c, protocol.RevokedEvent, beforeID); !slices.Equal(got, []string{"user/alice"}) {
			t.Errorf("revoked topics %q", got)
		}
	}
	alone.waitEnd() // it lost every topic
	publish(t, b, "user/alice", "after")
	publish(t, b, "news", "public")
	for _, c := range []*testClient{tab1, tab2} {
		if e := c.nextEvent(); e.Data != "public" {
			t.Errorf("a revoked tab got %+v, want only the public event", e)
		}
	}
	if got := datas(other.events(2)); !slices.Equal(got, []string{"after", "public"}) {
		t.Errorf("the other session got %q", got)
	}
	if resp, body := get(t, srv, srv.URL+"/events?"+q, as("alice", "s1", time.Time{})); resp.StatusCode != 401 || !strings.Contains(body, "revoked") {
		t.Errorf("reopening a revoked session: %d %q", resp.StatusCode, body)
	}
	if !b.Revoked(Identity{Subject: "alice", Session: "s1"}) || b.Revoked(Identity{Subject: "alice", Session: "s2"}) {
		t.Error("Revoked is wrong")
	}
	s := b.Stats()
	if s.Revocations != 1 || s.RevokedStreams != 3 || s.Clients != 3 {
		t.Errorf("stats %+v, want 1 revocation, 3 streams revoked, 3 open", s)
	}
	waitFor(t, "OnDisconnect", func() bool { mu.Lock(); defer mu.Unlock(); return len(reasons) > 0 })
	mu.Lock()
	defer mu.Unlock()
	if len(reasons) != 1 || !errors.Is(reasons[0], ErrRevoked) {
		t.Errorf("disconnect reasons %v, want one ErrRevoked", reasons)
	}
}

// A revocation of a subject ends the sessions issued before it, and
// not one signed in after it.
func TestRevokeSubject(t *testing.T) {
	b, srv := newTestBroker(t, hijackMode, identityOptions())
	q := topicsQuery("user/alice")
	before := connect(t, srv, q, as("alice", "s1", time.Time{}))
	time.Sleep(2 * time.Millisecond) // Issued is in milliseconds
	if err := b.Revoke(context.Background(), Revocation{Subject: "alice", Until: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	nextControl(t, before, protocol.RevokedEvent, "")
	before.waitEnd()
	old := as("alice", "s3", time.Time{})
	old.Set("X-Issued", strconv.FormatInt(time.Now().Add(-time.Minute).UnixMilli(), 10))
	if resp, _ := get(t, srv, srv.URL+"/events?"+q, old); resp.StatusCode != 401 {
		t.Errorf("a session issued before the revocation: %d, want 401", resp.StatusCode)
	}
	time.Sleep(2 * time.Millisecond)
	after := connect(t, srv, q, as("alice", "s2", time.Time{}))
	publish(t, b, "user/alice", "x")
	if e := after.nextEvent(); e.Data != "x" {
		t.Errorf("got %+v", e)
	}
	for _, bad := range []Revocation{{Until: time.Now().Add(time.Hour)}, {Session: "s"}} {
		if err := b.Revoke(context.Background(), bad); err == nil {
			t.Errorf("Revoke(%+v) accepted", bad)
		}
	}
}

// An identity that expires on an idle stream (nothing published) gets
// sse.expired within a second of its expiry, listing its topics, and
// the stream ends.
func TestExpiryWithoutTraffic(t *testing.T) { run(t, testExpiryWithoutTraffic) }

func testExpiryWithoutTraffic(t *testing.T, mode testMode) {
	b, srv := newTestBroker(t, mode, identityOptions())
	expires := time.Now().Add(300 * time.Millisecond)
	c := connect(t, srv, topicsQuery("news", "user/alice"), as("alice", "s1", expires))
	if got := nextControl(t, c, protocol.ExpiredEvent, ""); !slices.Equal(got, []string{"news", "user/alice"}) {
		t.Errorf("expired topics %q", got)
	}
	late := time.Since(expires)
	c.waitEnd()
	if late < 0 || late > time.Second {
		t.Errorf("sse.expired came %v after the expiry, want within 1s", late)
	}
	if s := b.Stats(); s.Expired != 1 {
		t.Errorf("stats %+v, want 1 expired", s)
	}
	t.Logf("sse.expired %v after the expiry, with no traffic", late)
}

// A stream whose identity expires while events flow gets every event
// published before the expiry, then sse.expired, and none published
// after; reopened with its last event ID and a renewed identity, it gets
// every event since, exactly once: none lost, none doubled.
func TestExpiryThenReopen(t *testing.T) { run(t, testExpiryThenReopen) }

func testExpiryThenReopen(t *testing.T, mode testMode) {
	b, srv := newTestBroker(t, mode, identityOptions())
	q := topicsQuery("news", "user/alice")
	expires := time.Now().Add(200 * time.Millisecond)
	first := connect(t, srv, q, as("alice", "s1", expires))

	var mu sync.Mutex
	publishedAt := map[string]time.Time{}
	var order []string
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ctx.Err() == nil; i++ {
			topic := []string{"news", "user/alice"}[i%2]
			at := time.Now()
			id, err := b.Publish(ctx, topic, Event{Data: fmt.Sprint(i)})
			if err != nil {
				return
			}
			mu.Lock()
			publishedAt[id] = at
			order = append(order, id)
			mu.Unlock()
			time.Sleep(2 * time.Millisecond)
		}
	})
	defer func() { stop(); wg.Wait() }()

	var got []string
	for {
		e := first.nextEvent()
		if e.Name == protocol.ExpiredEvent {
			break
		}
		mu.Lock()
		at, ok := publishedAt[e.ID]
		mu.Unlock()
		if ok && !at.Before(expires) {
			t.Errorf("event %s was published %v after the expiry, and delivered", e.ID, at.Sub(expires))
		}
		got = append(got, e.ID)
	}
	first.waitEnd()
	if len(got) == 0 {
		t.Fatal("nothing before the expiry")
	}
	time.Sleep(50 * time.Millisecond) // the publisher goes on meanwhile: the renewal takes a moment
	h := as("alice", "s1", time.Now().Add(time.Hour))
	h.Set("Last-Event-ID", got[len(got)-1])
	second := connect(t, srv, q, h)
	time.Sleep(50 * time.Millisecond)
	stop()
	wg.Wait()
	mu.Lock()
	want := slices.Clone(order)
	mu.Unlock()
	for len(got) < len(want) {
		got = append(got, second.nextEvent().ID)
	}
	if !slices.Equal(got, want) {
		t.Errorf("received %d events %v…, want the %d published, in order, once each", len(got), got[:min(5, len(got))], len(want))
	}
	second.expectNothing(100 * time.Millisecond)
}

// The grants are checked per replayed event: a revocation or an expiry
// that lands while a stream replays stops what the stream lost, in the
// replay too.
func TestGrantsDuringReplay(t *testing.T) {
	run(t, testGrantsDuringReplay, hijackMode, http1Mode, h2detMode)
}

func testGrantsDuringReplay(t *testing.T, mode testMode) {
	t.Run("revoked", func(t *testing.T) {
		eng := &gatedEngine{MemoryEngine: NewMemoryEngine(MemoryOptions{}), entered: make(chan struct{}, 1), gate: make(chan struct{})}
		b, srv := newTestBroker(t, mode, Options{Engine: eng, Identify: headerIdentity, MayRead: ownTopics})
		from := publish(t, b, "news", "0")
		publish(t, b, "user/alice", "private")
		publish(t, b, "news", "public")
		h := as("alice", "s1", time.Time{})
		h.Set("Last-Event-ID", from)
		var c *testClient
		var status int
		opened := make(chan struct{})
		go func() {
			defer close(opened)
			c, status = tryConnect(t, srv, topicsQuery("news", "user/alice"), h)
		}()
		eng.waitEntered(t)
		if err := b.Revoke(context.Background(), Revocation{Session: "s1", Until: time.Now().Add(time.Hour)}); err != nil {
			t.Error(err)
		}
		close(eng.gate)
		<-opened
		if status != http.StatusOK {
			t.Fatalf("status %d", status)
		}
		e := c.nextEvent()
		if e.Data != "public" {
			t.Errorf("replayed %+v, want only the public event", e)
		}
		nextControl(t, c, protocol.RevokedEvent, e.ID)
	})
	t.Run("expired", func(t *testing.T) {
		eng := &gatedEngine{MemoryEngine: NewMemoryEngine(MemoryOptions{}), entered: make(chan struct{}, 1), gate: make(chan struct{})}
		b, srv := newTestBroker(t, mode, Options{Engine: eng, Identify: headerIdentity, MayRead: ownTopics})
		from := publish(t, b, "news", "0")
		publish(t, b, "news", "1")
		expires := time.Now().Add(100 * time.Millisecond)
		h := as("alice", "s1", expires)
		h.Set("Last-Event-ID", from)
		var c *testClient
		var status int
		opened := make(chan struct{})
		go func() {
			defer close(opened)
			c, status = tryConnect(t, srv, topicsQuery("news", "user/alice"), h)
		}()
		eng.waitEntered(t)
		time.Sleep(time.Until(expires) + 10*time.Millisecond)
		publish(t, b, "news", "live, after the expiry")
		close(eng.gate)
		<-opened
		if status != http.StatusOK {
			t.Fatalf("status %d", status)
		}
		nextControl(t, c, protocol.ExpiredEvent, "") // neither the replay nor the live event
		c.waitEnd()
	})
}

// gatedEngine's Replay waits for its gate to open, so that a test can
// change a stream's grants while it replays.
type gatedEngine struct {
	*MemoryEngine
	entered chan struct{}
	gate    chan struct{}
}

func (e *gatedEngine) Replay(ctx context.Context, topics []string, lastID string) (Replay, error) {
	e.entered <- struct{}{}
	<-e.gate
	return e.MemoryEngine.Replay(ctx, topics, lastID)
}

func (e *gatedEngine) waitEntered(t *testing.T) {
	t.Helper()
	select {
	case <-e.entered:
	case <-time.After(wait):
		t.Fatal("the replay never started")
	}
}

// Brokers that share an engine share revocations and single use: a
// revocation through one reaches the streams of the other, and a key
// consumed through one is consumed for both.
func TestSharedEngineIdentity(t *testing.T) {
	eng := NewMemoryEngine(MemoryOptions{})
	opts := identityOptions()
	opts.Engine = eng
	a, _ := newTestBroker(t, hijackMode, opts)
	b, srvB := newTestBroker(t, hijackMode, opts)
	c := connect(t, srvB, topicsQuery("news", "user/alice"), as("alice", "s1", time.Time{}))
	if err := a.Revoke(context.Background(), Revocation{Session: "s1", Until: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	nextControl(t, c, protocol.RevokedEvent, "")
	if !b.Revoked(Identity{Session: "s1"}) {
		t.Error("b does not know the revocation")
	}
	if sa, sb := a.Stats(), b.Stats(); sa.Revocations != 1 || sb.Revocations != 1 || sb.RevokedStreams != 1 {
		t.Errorf("stats: a %+v, b %+v", sa, sb)
	}

	ctx := context.Background()
	for i, tt := range []struct {
		b    *Broker
		want bool
	}{{a, true}, {b, false}, {a, false}} {
		first, err := tt.b.ConsumeOnce(ctx, "ticket-1")
		if err != nil || first != tt.want {
			t.Errorf("ConsumeOnce %d: %v, %v; want %v", i, first, err, tt.want)
		}
	}
	if first, err := b.ConsumeOnce(ctx, "ticket-2"); !first || err != nil {
		t.Errorf("another key: %v, %v", first, err)
	}
	if _, err := a.ConsumeOnce(ctx, "with space"); !errors.Is(err, ErrInvalidIdempotencyKey) {
		t.Errorf("a bad key: %v", err)
	}
	// Concurrent consumers of one key: exactly one is first.
	var firsts sync.WaitGroup
	var n sync.Mutex
	count := 0
	for i := range 8 {
		firsts.Go(func() {
			first, err := []*Broker{a, b}[i%2].ConsumeOnce(ctx, "ticket-3")
			if err == nil && first {
				n.Lock()
				count++
				n.Unlock()
			}
		})
	}
	firsts.Wait()
	if count != 1 {
		t.Errorf("%d consumers were first, want 1", count)
	}
}

// A consumed key stays consumed after its message has left a busy
// history: the brokers remember it, so a ticket cannot be used twice
// within its lifetime however much is published meanwhile.
func TestConsumeOnceOutlivesHistory(t *testing.T) {
	eng := NewMemoryEngine(MemoryOptions{HistorySize: 2})
	a, err := New(Options{Engine: eng})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Shutdown(context.Background())
	b, err := New(Options{Engine: eng})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Shutdown(context.Background())
	ctx := context.Background()
	if first, err := a.ConsumeOnce(ctx, "nonce"); !first || err != nil {
		t.Fatalf("first use: %v %v", first, err)
	}
	for range 5 { // the key's message leaves the history of 2
		publish(t, a, "news", "x")
	}
	for _, br := range []*Broker{a, b} {
		if first, err := br.ConsumeOnce(ctx, "nonce"); first || err != nil {
			t.Errorf("a second use, after the history moved on: %v %v", first, err)
		}
	}
}
