package bidi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// fakeRemote is a BiDi remote end: answer gets each command and returns
// the messages to send back (nil: none).
func fakeRemote(t *testing.T, answer func(id int64, method string, params json.RawMessage) []any) *Conn {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		for {
			_, b, err := ws.Read(r.Context())
			if err != nil {
				return
			}
			var cmd struct {
				ID     int64           `json:"id"`
				Method string          `json:"method"`
				Params json.RawMessage `json:"params"`
			}
			if err := json.Unmarshal(b, &cmd); err != nil {
				t.Errorf("the client sent %q: %v", b, err)
				return
			}
			if cmd.Method == "test.hangUp" {
				return
			}
			for _, m := range answer(cmd.ID, cmd.Method, cmd.Params) {
				out, _ := json.Marshal(m)
				if ws.Write(r.Context(), websocket.MessageText, out) != nil {
					return
				}
			}
		}
	}))
	c, err := Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); srv.Close() })
	return c
}

func success(id int64, result any) map[string]any {
	return map[string]any{"type": "success", "id": id, "result": result}
}

func TestCall(t *testing.T) {
	var mu sync.Mutex
	var held []int64 // ids of test.slow commands, answered after the next command
	c := fakeRemote(t, func(id int64, method string, params json.RawMessage) []any {
		mu.Lock()
		defer mu.Unlock()
		switch method {
		case "test.echo":
			return []any{
				"not JSON at all",
				map[string]any{"type": "success", "id": 99999, "result": "for nobody"},
				success(id, json.RawMessage(params)),
			}
		case "test.fail":
			return []any{map[string]any{"type": "error", "id": id, "error": "no such frame", "message": "context 7 is gone", "stacktrace": "at x"}}
		case "test.slow":
			held = append(held, id)
			return nil
		case "test.event":
			return []any{map[string]any{"type": "event", "method": "test.happened", "params": map[string]any{"n": 1}}, success(id, nil)}
		case "test.release":
			// Answer this one first, then the held ones: out of order.
			out := []any{success(id, "released")}
			for _, h := range held {
				out = append(out, success(h, h))
			}
			held = nil
			return out
		}
		return []any{map[string]any{"type": "error", "id": id, "error": "unknown command", "message": method}}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	t.Run("success", func(t *testing.T) {
		var got struct{ A int }
		if err := c.Call(ctx, "test.echo", map[string]int{"a": 7}, &got); err != nil || got.A != 7 {
			t.Errorf("echo = %+v, %v", got, err)
		}
		if err := c.Call(ctx, "test.echo", nil, nil); err != nil {
			t.Errorf("echo with no params nor result: %v", err)
		}
	})

	t.Run("error answer", func(t *testing.T) {
		err := c.Call(ctx, "test.fail", nil, nil)
		var e *Error
		if !errors.As(err, &e) || e.Command != "test.fail" || e.Code != "no such frame" || e.Message != "context 7 is gone" {
			t.Fatalf("got %#v", err)
		}
		if want := "bidi: test.fail: no such frame: context 7 is gone"; err.Error() != want {
			t.Errorf("message %q, want %q", err, want)
		}
	})

	t.Run("answers out of order", func(t *testing.T) {
		results := make(chan int64, 2)
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				var id int64
				if err := c.Call(ctx, "test.slow", nil, &id); err != nil {
					t.Error(err)
				}
				results <- id
			})
		}
		// Let both reach the remote end before releasing them.
		for {
			mu.Lock()
			n := len(held)
			mu.Unlock()
			if n == 2 {
				break
			}
			time.Sleep(time.Millisecond)
		}
		var s string
		if err := c.Call(ctx, "test.release", nil, &s); err != nil || s != "released" {
			t.Errorf("release = %q, %v", s, err)
		}
		wg.Wait()
		close(results)
		a, b := <-results, <-results
		if a == b || a == 0 || b == 0 {
			t.Errorf("the two calls got %d and %d, want each its own id", a, b)
		}
	})

	t.Run("a caller giving up keeps the connection", func(t *testing.T) {
		short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		if err := c.Call(short, "test.slow", nil, nil); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("an unanswered call gave %v, want the deadline", err)
		}
		if err := c.Call(ctx, "test.echo", nil, nil); err != nil {
			t.Errorf("the next call failed: %v", err)
		}
		c.Call(ctx, "test.release", nil, nil) // the late answer goes to nobody
	})

	t.Run("events", func(t *testing.T) {
		got := make(chan Event, 2)
		remove := c.OnEvent(func(e Event) { got <- e })
		if err := c.Call(ctx, "test.event", nil, nil); err != nil {
			t.Fatal(err)
		}
		select {
		case e := <-got:
			if e.Method != "test.happened" || string(e.Params) != `{"n":1}` {
				t.Errorf("event %s %s", e.Method, e.Params)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no event")
		}
		remove()
		if err := c.Call(ctx, "test.event", nil, nil); err != nil {
			t.Fatal(err)
		}
		select {
		case e := <-got:
			t.Errorf("a removed handler got %s", e.Method)
		case <-time.After(50 * time.Millisecond):
		}
	})

	t.Run("unknown command", func(t *testing.T) {
		var e *Error
		if err := c.Call(ctx, "test.nothing", nil, nil); !errors.As(err, &e) || e.Code != "unknown command" {
			t.Errorf("got %v", err)
		}
	})
}

// TestRemoteHangsUp: calls waiting when the remote end goes return
// ErrClosed, and so do later ones.
func TestRemoteHangsUp(t *testing.T) {
	c := fakeRemote(t, func(int64, string, json.RawMessage) []any { return nil })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	waiting := make(chan error, 1)
	go func() { waiting <- c.Call(ctx, "test.neverAnswered", nil, nil) }()
	time.Sleep(20 * time.Millisecond)
	c.Call(ctx, "test.hangUp", nil, nil) //nolint:errcheck // it never gets an answer
	select {
	case err := <-waiting:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("the waiting call got %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting call still waits after the remote end left")
	}
	<-c.Done()
	if err := c.Call(ctx, "test.after", nil, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("a call after the end got %v, want ErrClosed", err)
	}
}
