package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ssewasm/ssewasm/server/sse"
	"github.com/ssewasm/ssewasm/server/sse/jetstream/jstest"
	"go.uber.org/goleak"
)

// checkLeaks fails the test if goroutines it started outlive it. It
// runs after every cleanup registered later (the NATS server's shutdown
// included), since cleanups run last-registered first.
func checkLeaks(t *testing.T) {
	t.Helper()
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt) })
}

// startNATS runs a JetStream server in the test process; the test's
// cleanup shuts it down (after the instances, which are started later and
// so cleaned up first).
func startNATS(t *testing.T) *jstest.Server { return jstest.Start(t) }

// startInstance runs the built server with extra flags on any free
// loopback port, asking browsers to reconnect quickly.
func startInstance(t *testing.T, dir string, args ...string) *server {
	t.Helper()
	return startServer(t, dir, "127.0.0.1:0", append([]string{"-retry", "200ms"}, args...)...)
}

// kill ends the server with SIGKILL: no shutdown, no goodbye to clients.
func (s *server) kill(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-s.done
}

// httpc has no idle connections to leak: every request uses a new one.
var httpc = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

// post publishes data on topic through srv and returns the status and the
// ID given.
func post(t *testing.T, srv *server, topic, data string) (int, string) {
	t.Helper()
	code, id, err := tryPost(srv, topic, data)
	if err != nil {
		t.Fatal(err)
	}
	return code, id
}

// tryPost is post for goroutines other than the test's.
func tryPost(srv *server, topic, data string) (code int, id string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"publish?topic="+topic+"&event=e", strings.NewReader(data))
	resp, err := httpc.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("publish %q to %s: %w", data, srv.URL, err)
	}
	defer resp.Body.Close()
	var answer struct{ ID, Error string }
	json.NewDecoder(resp.Body).Decode(&answer)
	return resp.StatusCode, answer.ID, nil
}

// mustPost publishes and fails the test unless it is accepted.
func mustPost(t *testing.T, srv *server, topic, data string) string {
	t.Helper()
	code, id := post(t, srv, topic, data)
	if code != http.StatusOK || id == "" {
		t.Fatalf("publish %q to %s: status %d id %q", data, srv.URL, code, id)
	}
	return id
}

// received is one event a stream client got.
type received struct {
	ID, Event, Data string
}

// streamClient reads one /events stream in a goroutine.
type streamClient struct {
	events chan received // buffered: the reader never waits for the test
	done   chan error    // the reason the stream ended, once
	cancel context.CancelFunc
}

// openStream connects to srv's /events for topic, resuming after lastID
// if it is not empty, and returns once the stream has opened (so that
// the client is registered for live events).
func openStream(t *testing.T, srv *server, topic, lastID string) *streamClient {
	t.Helper()
	h := http.Header{}
	if lastID != "" {
		h.Set("Last-Event-ID", lastID)
	}
	return openStreamWith(t, srv, "topic="+topic, h)
}

// openStreamWith is openStream for a query and request headers of its
// own (a cookie, say).
func openStreamWith(t *testing.T, srv *server, query string, header http.Header) *streamClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"events?"+query, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := httpc.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET %sevents: %v", srv.URL, err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		cancel()
		t.Fatalf("GET %sevents: %s", srv.URL, resp.Status)
	}
	c := &streamClient{events: make(chan received, 10000), done: make(chan error, 1), cancel: cancel}
	var wg sync.WaitGroup
	wg.Go(func() {
		defer resp.Body.Close()
		d := sse.NewDecoder(resp.Body)
		for {
			e, err := d.Next()
			if err != nil {
				c.done <- err
				close(c.events)
				return
			}
			c.events <- received{e.ID, e.Name, e.Data}
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
	return c
}

// next returns the next event, or fails the test after d.
func (c *streamClient) next(t *testing.T, d time.Duration) received {
	t.Helper()
	select {
	case e, ok := <-c.events:
		if !ok {
			t.Fatalf("the stream ended: %v", <-c.done)
		}
		return e
	case <-time.After(d):
		t.Fatalf("no event within %v", d)
	}
	return received{}
}

// collect reads events until the stream ends, and returns them.
func (c *streamClient) collect(d time.Duration) ([]received, error) {
	var got []received
	deadline := time.After(d)
	for {
		select {
		case e, ok := <-c.events:
			if !ok {
				return got, <-c.done
			}
			got = append(got, e)
		case <-deadline:
			return got, fmt.Errorf("the stream did not end within %v", d)
		}
	}
}

// expect reads n events and checks they are want, in order.
func (c *streamClient) expect(t *testing.T, who string, want []received) {
	t.Helper()
	for i, w := range want {
		got := c.next(t, 10*time.Second)
		if got != w {
			t.Fatalf("%s: event %d is %+v, want %+v", who, i, got, w)
		}
	}
}

// expectQuiet checks that no event arrives within d: nothing doubled.
func (c *streamClient) expectQuiet(t *testing.T, who string, d time.Duration) {
	t.Helper()
	select {
	case e, ok := <-c.events:
		if ok {
			t.Errorf("%s: unexpected event %+v", who, e)
		}
	case <-time.After(d):
	}
}
