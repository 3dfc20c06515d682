package jetstream

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssewasm/ssewasm/server/sse"
	"github.com/ssewasm/ssewasm/server/sse/jetstream/jstest"
	"github.com/ssewasm/ssewasm/shared/protocol"
)

// instance is one server of a cluster: a broker on an engine of its own,
// served over HTTP, whose streams are signed in by the X-User and
// X-Session headers; a topic "user/<name>" is name's alone.
type instance struct {
	b   *sse.Broker
	url string
}

func newInstance(t *testing.T, n *jstest.Server) *instance {
	t.Helper()
	b, err := sse.New(sse.Options{
		Engine:    newEngine(t, n, Options{}),
		Heartbeat: -1,
		Identify: func(r *http.Request) (sse.Identity, error) {
			return sse.Identity{Subject: r.Header.Get("X-User"), Session: r.Header.Get("X-Session")}, nil
		},
		MayRead: func(id sse.Identity, topic string) bool {
			name, private := strings.CutPrefix(topic, "user/")
			return !private || id.Subject == name
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b)
	t.Cleanup(func() {
		b.Shutdown(context.Background())
		srv.Close()
	})
	return &instance{b: b, url: srv.URL}
}

// open opens a stream on in as user's session and returns its events, in
// a channel closed when the stream ends.
func (in *instance) open(t *testing.T, user, session string, topics ...string) <-chan sse.Event {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", in.url+"/events?topic="+strings.Join(topics, "&topic="), nil)
	req.Header.Set("X-User", user)
	req.Header.Set("X-Session", session)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		cancel()
		t.Fatalf("open: %v %v", resp, err)
	}
	events := make(chan sse.Event, 100)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(events)
		defer resp.Body.Close()
		d := sse.NewDecoder(resp.Body)
		for {
			e, err := d.Next()
			if err != nil {
				return
			}
			events <- e
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
	return events
}

func next(t *testing.T, events <-chan sse.Event) sse.Event {
	t.Helper()
	select {
	case e, ok := <-events:
		if !ok {
			t.Fatal("the stream ended")
		}
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
	}
	return sse.Event{}
}

// TestRevokeAcrossInstances: a session revoked through instance A loses
// its private topic on instance B, whose stream keeps its public topic;
// B then refuses the session; and a key consumed through one instance
// is consumed for the other (single-use tickets).
func TestRevokeAcrossInstances(t *testing.T) { jstest.Run(t, testRevokeAcrossInstances) }

func testRevokeAcrossInstances(t *testing.T, n *jstest.Server) {
	a, b := newInstance(t, n), newInstance(t, n)
	onB := b.open(t, "alice", "s1", "news", "user/alice")
	ctx := context.Background()
	if _, err := a.b.Publish(ctx, "user/alice", sse.Event{Data: "before"}); err != nil {
		t.Fatal(err)
	}
	if e := next(t, onB); e.Data != "before" {
		t.Fatalf("got %+v", e)
	}
	start := time.Now()
	if err := a.b.Revoke(ctx, sse.Revocation{Session: "s1", Until: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	e := next(t, onB)
	took := time.Since(start)
	var d protocol.Revoked
	if e.Name != protocol.RevokedEvent || json.Unmarshal([]byte(e.Data), &d) != nil || !slices.Equal(d.Topics, []string{"user/alice"}) {
		t.Fatalf("got %+v, want sse.revoked for user/alice", e)
	}
	t.Logf("NATS %s: sse.revoked on B %v after Revoke on A", n.Version(), took)
	if took > time.Second {
		t.Errorf("the revocation took %v to reach B, over 1s", took)
	}
	a.b.Publish(ctx, "user/alice", sse.Event{Data: "after"})
	a.b.Publish(ctx, "news", sse.Event{Data: "public"})
	if e := next(t, onB); e.Data != "public" {
		t.Errorf("B's revoked stream got %+v, want the public event only", e)
	}
	if !b.b.Revoked(sse.Identity{Subject: "alice", Session: "s1"}) {
		t.Error("B does not refuse the revoked session")
	}
	if s := b.b.Stats(); s.Revocations != 1 || s.RevokedStreams != 1 {
		t.Errorf("B's stats: %+v", s)
	}

	for i, tt := range []struct {
		in   *instance
		want bool
	}{{a, true}, {b, false}, {a, false}} {
		first, err := tt.in.b.ConsumeOnce(ctx, "nonce-1")
		if err != nil || first != tt.want {
			t.Errorf("ConsumeOnce %d: %v, %v; want %v", i, first, err, tt.want)
		}
	}
}
