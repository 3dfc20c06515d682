// Package bidi is a small WebDriver BiDi client: enough of the protocol
// (https://w3c.github.io/webdriver-bidi/) to drive a headless Firefox
// from tests: open tabs, navigate, evaluate JavaScript into Go values,
// type and click, take screenshots and log the page's requests.
//
// Launch starts Firefox with a fresh profile that makes no background
// connection and opens a session; every other call goes through a Tab:
//
//	ff, err := bidi.Launch(ctx, bidi.Options{ProfileDir: t.TempDir()})
//	if err != nil { ... }
//	defer ff.Close()
//	tab, err := ff.FirstTab(ctx)
//	err = tab.Navigate(ctx, "http://127.0.0.1:8844/")
//	var title string
//	err = tab.Evaluate(ctx, `document.title`, &title)
//
// Tests that share one Firefox each take a UserContext, a fresh profile
// inside it (its own cookies, storage, cache and service workers), and
// open their tabs there:
//
//	uc, err := ff.NewUserContext(ctx, bidi.UserContextOptions{})
//	defer uc.Close(ctx)
//	tab, err := uc.NewTab(ctx)
//
// Conn is the protocol underneath (commands matched to their answers,
// events to handlers); Launch and Tab are built on it.
package bidi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// ErrClosed is returned by calls on a connection that has ended.
var ErrClosed = errors.New("bidi: connection closed")

// writeTimeout bounds a command's write: a remote end that reads nothing
// for that long is gone, and the connection is closed.
const writeTimeout = 30 * time.Second

// Error is an error answer of the remote end to a command.
type Error struct {
	Command    string // the command's method, e.g. "browsingContext.navigate"
	Code       string `json:"error"` // e.g. "no such frame", "unknown error"
	Message    string `json:"message"`
	Stacktrace string `json:"stacktrace"`
}

func (e *Error) Error() string {
	return fmt.Sprintf("bidi: %s: %s: %s", e.Command, e.Code, e.Message)
}

// Event is a message the remote end sends on its own, such as
// "network.beforeRequestSent" (after a session.subscribe).
type Event struct {
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
}

// message is any message from the remote end.
type message struct {
	Type   string          `json:"type"` // "success", "error" or "event"
	ID     *int64          `json:"id"`
	Result json.RawMessage `json:"result"`
	Event
	Error
}

// Conn is a WebDriver BiDi connection. Its methods may be called from any
// goroutine. One goroutine, started by Dial and ended by Close or by the
// remote end, reads every message.
type Conn struct {
	ws     *websocket.Conn
	done   chan struct{} // closed when the reader ends
	cancel context.CancelFunc

	mu       sync.Mutex
	err      error // why the reader ended, set before done is closed
	nextID   int64
	pending  map[int64]chan message // each buffered (1): the reader never waits
	handlers map[int]func(Event)
	nextH    int
}

// Dial connects to a WebDriver BiDi endpoint such as
// ws://127.0.0.1:9222/session.
func Dial(ctx context.Context, url string) (*Conn, error) {
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		return nil, fmt.Errorf("bidi: connecting to %s: %w", url, err)
	}
	ws.SetReadLimit(256 << 20) // screenshots and big values come in one message
	rctx, cancel := context.WithCancel(context.Background())
	c := &Conn{
		ws:       ws,
		done:     make(chan struct{}),
		cancel:   cancel,
		pending:  map[int64]chan message{},
		handlers: map[int]func(Event){},
	}
	go c.read(rctx)
	return c, nil
}

func (c *Conn) read(ctx context.Context) {
	var err error
	defer func() {
		c.mu.Lock()
		c.err = err
		c.mu.Unlock()
		close(c.done)
	}()
	for {
		var b []byte
		_, b, err = c.ws.Read(ctx)
		if err != nil {
			return
		}
		var m message
		if json.Unmarshal(b, &m) != nil {
			continue // not ours to understand; the protocol says to ignore it
		}
		if m.Type == "event" {
			c.mu.Lock()
			hs := make([]func(Event), 0, len(c.handlers))
			for _, h := range c.handlers {
				hs = append(hs, h)
			}
			c.mu.Unlock()
			for _, h := range hs {
				h(m.Event)
			}
			continue
		}
		if m.ID == nil {
			continue
		}
		c.mu.Lock()
		ch := c.pending[*m.ID]
		delete(c.pending, *m.ID)
		c.mu.Unlock()
		if ch != nil {
			ch <- m
		}
	}
}

// Call sends a command and waits for its answer, which it decodes into
// result (unless result is nil). An error answer is returned as *Error.
func (c *Conn) Call(ctx context.Context, method string, params, result any) error {
	if params == nil {
		params = struct{}{}
	}
	ch := make(chan message, 1)
	c.mu.Lock()
	c.nextID++
	id := c.nextID
	c.pending[id] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}()
	b, err := json.Marshal(struct {
		ID     int64  `json:"id"`
		Method string `json:"method"`
		Params any    `json:"params"`
	}{id, method, params})
	if err != nil {
		return fmt.Errorf("bidi: %s: encoding the parameters: %w", method, err)
	}
	// Not ctx: coder/websocket closes the connection when a write's
	// context ends, and a caller giving up must not end the session.
	wctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	err = c.ws.Write(wctx, websocket.MessageText, b)
	cancel()
	if err != nil {
		select {
		case <-c.done:
			return c.closedErr(method)
		default:
		}
		return fmt.Errorf("bidi: %s: %w", method, err)
	}
	select {
	case m := <-ch:
		if m.Type == "error" {
			e := m.Error
			e.Command = method
			return &e
		}
		if result == nil {
			return nil
		}
		if err := json.Unmarshal(m.Result, result); err != nil {
			return fmt.Errorf("bidi: %s: decoding the answer: %w", method, err)
		}
		return nil
	case <-c.done:
		return c.closedErr(method)
	case <-ctx.Done():
		return fmt.Errorf("bidi: %s: %w", method, ctx.Err())
	}
}

func (c *Conn) closedErr(method string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Errorf("bidi: %s: %w (%v)", method, ErrClosed, c.err)
}

// OnEvent calls h with every event, from the reading goroutine: h must
// not block nor call the connection. The returned func removes h.
func (c *Conn) OnEvent(h func(Event)) (remove func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := c.nextH
	c.nextH++
	c.handlers[id] = h
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.handlers, id)
	}
}

// Done is closed when the connection has ended.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Close closes the connection at once and waits for its reader to end.
// Calls waiting for an answer return ErrClosed.
func (c *Conn) Close() {
	c.cancel()      // the reader's context: coder/websocket closes on it
	c.ws.CloseNow() //nolint:errcheck // already closed by the remote end is fine
	<-c.done
}
