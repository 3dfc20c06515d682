package jetstream

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/ssewasm/ssewasm/server/sse"
	"github.com/ssewasm/ssewasm/server/sse/jetstream/jstest"
)

// connect returns a connection that reconnects quickly and forever; the
// test's cleanup closes it.
func connect(t *testing.T, n *jstest.Server) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(n.URL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond), nats.ReconnectJitter(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// restart stops n and starts it again, and returns once nc has
// reconnected to it. Waiting for nc.IsConnected alone is not enough: the
// client may not yet have noticed that the stopped server closed its
// connection, and a request written then is lost with it (its caller
// waits for its deadline), as on any network.
func restart(t *testing.T, n *jstest.Server, nc *nats.Conn) {
	t.Helper()
	before := nc.Stats().Reconnects
	n.Stop()
	n.Start()
	deadline := time.Now().Add(10 * time.Second)
	for nc.Stats().Reconnects == before || !nc.IsConnected() {
		if time.Now().After(deadline) {
			t.Fatalf("the client did not reconnect to the restarted NATS within 10s (status %v)", nc.Status())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// newEngine returns an engine on n; the test's cleanup closes it.
func newEngine(t *testing.T, n *jstest.Server, opts Options) *Engine {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e, err := New(ctx, connect(t, n), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// recorder collects what a subscription delivers.
type recorder struct {
	mu   sync.Mutex
	msgs []*sse.Message
	more chan struct{} // buffered (1): wakes a waiter after each delivery
}

func newRecorder() *recorder { return &recorder{more: make(chan struct{}, 1)} }

func (r *recorder) deliver(m *sse.Message) {
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.mu.Unlock()
	select {
	case r.more <- struct{}{}:
	default:
	}
}

func (r *recorder) got() []*sse.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*sse.Message(nil), r.msgs...)
}

// wait returns the deliveries once there are n, or fails after d.
func (r *recorder) wait(t *testing.T, n int, d time.Duration) []*sse.Message {
	t.Helper()
	deadline := time.After(d)
	for {
		if got := r.got(); len(got) >= n {
			return got
		}
		select {
		case <-r.more:
		case <-deadline:
			t.Fatalf("got %d deliveries within %v, want %d", len(r.got()), d, n)
		}
	}
}

func publish(t *testing.T, e *Engine, topic, data string) *sse.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := e.Publish(ctx, topic, sse.Event{Name: "e", Data: data})
	if err != nil {
		t.Fatalf("publish %s on %s: %v", data, topic, err)
	}
	return m
}

func replay(t *testing.T, e *Engine, topics []string, last string) sse.Replay {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := e.Replay(ctx, topics, last)
	if err != nil {
		t.Fatalf("replay after %s: %v", last, err)
	}
	// Read every part, as the broker does, and give them back.
	for r.More != nil {
		more, err := r.More(ctx)
		if err != nil {
			t.Fatalf("replay after %s: a further part: %v", last, err)
		}
		if len(more) == 0 {
			break
		}
		r.Messages = append(r.Messages, more...)
	}
	if r.Release != nil {
		r.Release()
	}
	if n := e.held.inUse(); n != 0 {
		t.Errorf("replay after %s: %d bytes still held after Release", last, n)
	}
	return r
}

func seqs(ms []*sse.Message) []uint64 {
	out := make([]uint64, len(ms))
	for i, m := range ms {
		out[i] = m.Seq
	}
	return out
}
