package bidi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Tab is a top-level browsing context: a tab.
type Tab struct {
	c  *Conn
	ID string // the browsing context's id
}

// FirstTab returns the tab Firefox opened at start.
func (f *Firefox) FirstTab(ctx context.Context) (*Tab, error) {
	var tree struct {
		Contexts []struct {
			Context string `json:"context"`
		} `json:"contexts"`
	}
	if err := f.Call(ctx, "browsingContext.getTree", map[string]any{"maxDepth": 0}, &tree); err != nil {
		return nil, err
	}
	if len(tree.Contexts) == 0 {
		return nil, errors.New("bidi: Firefox has no tab open")
	}
	return &Tab{c: f.Conn, ID: tree.Contexts[0].Context}, nil
}

// NewTab opens a new tab on about:blank, in a window of its own: in one
// window, only the front tab is visible, and Firefox pauses animation
// frames and slows timers in the others (as Chromium does not in
// headless mode, where every tab counts as visible).
func (f *Firefox) NewTab(ctx context.Context) (*Tab, error) {
	var r struct {
		Context string `json:"context"`
	}
	if err := f.Call(ctx, "browsingContext.create", map[string]any{"type": "window"}, &r); err != nil {
		return nil, err
	}
	return &Tab{c: f.Conn, ID: r.Context}, nil
}

// Close closes the tab.
func (t *Tab) Close(ctx context.Context) error {
	return t.c.Call(ctx, "browsingContext.close", map[string]any{"context": t.ID}, nil)
}

// Navigate loads url and returns once the page has loaded (its load event).
func (t *Tab) Navigate(ctx context.Context, url string) error {
	return t.c.Call(ctx, "browsingContext.navigate", map[string]any{"context": t.ID, "url": url, "wait": "complete"}, nil)
}

// ScriptError is a JavaScript exception thrown by evaluated code.
type ScriptError struct {
	Text string // the exception's message, as the browser prints it
}

func (e *ScriptError) Error() string { return "bidi: JavaScript exception: " + e.Text }

// EvaluateValue runs a script (an expression or statements: its value is
// the last one's) in the tab's page, waits for the promise it returns,
// if any, and returns the value.
func (t *Tab) EvaluateValue(ctx context.Context, script string) (RemoteValue, error) {
	var r struct {
		Type             string      `json:"type"` // "success" or "exception"
		Result           RemoteValue `json:"result"`
		ExceptionDetails struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	err := t.c.Call(ctx, "script.evaluate", map[string]any{
		"expression":      script,
		"target":          map[string]any{"context": t.ID},
		"awaitPromise":    true,
		"resultOwnership": "none",
	}, &r)
	if err != nil {
		return RemoteValue{}, err
	}
	if r.Type == "exception" {
		return RemoteValue{}, &ScriptError{Text: r.ExceptionDetails.Text}
	}
	return r.Result, nil
}

// Evaluate is EvaluateValue, decoding the value into out (see
// RemoteValue.Decode); a nil out ignores the value.
func (t *Tab) Evaluate(ctx context.Context, script string, out any) error {
	v, err := t.EvaluateValue(ctx, script)
	if err != nil || out == nil {
		return err
	}
	return v.Decode(out)
}

// pollEvery is how often Poll evaluates its script.
const pollEvery = 20 * time.Millisecond

// Poll evaluates script every 20 ms until its value is truthy, then
// decodes that value into out (if not nil). It gives up when ctx ends,
// with the last error or value seen.
func (t *Tab) Poll(ctx context.Context, script string, out any) error {
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	last := "no evaluation finished"
	for {
		v, err := t.EvaluateValue(ctx, script)
		switch {
		case err == nil && v.Truthy():
			if out == nil {
				return nil
			}
			return v.Decode(out)
		case err != nil:
			last = err.Error()
		default:
			last = "last value: " + v.Type + " " + string(v.Value)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("bidi: %q never became truthy (%s): %w", script, last, ctx.Err())
		case <-tick.C:
		}
	}
}

// element waits for the first element matching a CSS selector, scrolled
// into view, and returns its shared id.
func (t *Tab) element(ctx context.Context, selector string) (string, error) {
	sel, _ := json.Marshal(selector)
	script := fmt.Sprintf(`(() => { const e = document.querySelector(%s); if (e) e.scrollIntoView({block: "center"}); return e; })()`, sel)
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		v, err := t.EvaluateValue(ctx, script)
		if err != nil {
			return "", err
		}
		if v.Type == "node" && v.SharedID != "" {
			return v.SharedID, nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("bidi: no element matches %s: %w", selector, ctx.Err())
		case <-tick.C:
		}
	}
}

// Click waits for the element matching a CSS selector and clicks its
// centre with the mouse, as a user would.
func (t *Tab) Click(ctx context.Context, selector string) error {
	id, err := t.element(ctx, selector)
	if err != nil {
		return err
	}
	return t.c.Call(ctx, "input.performActions", map[string]any{
		"context": t.ID,
		"actions": []any{map[string]any{
			"type": "pointer", "id": "mouse", "parameters": map[string]any{"pointerType": "mouse"},
			"actions": []any{
				map[string]any{"type": "pointerMove", "x": 0, "y": 0, "origin": map[string]any{"type": "element", "element": map[string]any{"sharedId": id}}},
				map[string]any{"type": "pointerDown", "button": 0},
				map[string]any{"type": "pointerUp", "button": 0},
			},
		}},
	}, nil)
}

// SendKeys clicks the element matching a CSS selector (to focus it) and
// types text into it, one key press per character.
func (t *Tab) SendKeys(ctx context.Context, selector, text string) error {
	if err := t.Click(ctx, selector); err != nil {
		return err
	}
	keys := make([]any, 0, 2*len(text))
	for _, r := range text {
		keys = append(keys, map[string]any{"type": "keyDown", "value": string(r)}, map[string]any{"type": "keyUp", "value": string(r)})
	}
	return t.c.Call(ctx, "input.performActions", map[string]any{
		"context": t.ID,
		"actions": []any{map[string]any{"type": "key", "id": "keyboard", "actions": keys}},
	}, nil)
}

// Screenshot returns a PNG of the tab's viewport.
func (t *Tab) Screenshot(ctx context.Context) ([]byte, error) {
	var r struct {
		Data string `json:"data"`
	}
	if err := t.c.Call(ctx, "browsingContext.captureScreenshot", map[string]any{"context": t.ID}, &r); err != nil {
		return nil, err
	}
	png, err := base64.StdEncoding.DecodeString(r.Data)
	if err != nil {
		return nil, fmt.Errorf("bidi: screenshot: %w", err)
	}
	return png, nil
}

// RequestLog records the URL of every request the browser sends, from
// every tab and worker, from LogRequests on.
type RequestLog struct {
	mu     sync.Mutex
	urls   []string
	remove func()
}

// LogRequests subscribes to network.beforeRequestSent and starts a log.
func (f *Firefox) LogRequests(ctx context.Context) (*RequestLog, error) {
	l := &RequestLog{}
	l.remove = f.OnEvent(func(e Event) {
		if e.Method != "network.beforeRequestSent" {
			return
		}
		var p struct {
			Request struct {
				URL string `json:"url"`
			} `json:"request"`
		}
		if json.Unmarshal(e.Params, &p) == nil {
			l.mu.Lock()
			l.urls = append(l.urls, p.Request.URL)
			l.mu.Unlock()
		}
	})
	if err := f.Call(ctx, "session.subscribe", map[string]any{"events": []string{"network.beforeRequestSent"}}, nil); err != nil {
		l.remove()
		return nil, err
	}
	return l, nil
}

// URLs returns the URLs logged so far, in order.
func (l *RequestLog) URLs() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.urls...)
}

// Stop stops logging.
func (l *RequestLog) Stop() { l.remove() }

// Response is what network.responseStarted says of a response.
type Response struct {
	URL    string `json:"url"`
	Status int    `json:"status"`
	// FromCache is set for a response that came from a cache, Firefox's
	// own or a service worker's, not from the network.
	FromCache bool `json:"fromCache"`
	// HeadersSize is the size of the headers as received: 0 for a
	// response that did not come from the network.
	HeadersSize int `json:"headersSize"`
}

// ResponseLog records the start of every response the browser gets,
// from every tab and worker, from LogResponses on.
type ResponseLog struct {
	mu     sync.Mutex
	list   []Response
	remove func()
}

// LogResponses subscribes to network.responseStarted and starts a log.
func (f *Firefox) LogResponses(ctx context.Context) (*ResponseLog, error) {
	l := &ResponseLog{}
	l.remove = f.OnEvent(func(e Event) {
		if e.Method != "network.responseStarted" {
			return
		}
		var p struct {
			Response Response `json:"response"`
		}
		if json.Unmarshal(e.Params, &p) == nil {
			l.mu.Lock()
			l.list = append(l.list, p.Response)
			l.mu.Unlock()
		}
	})
	if err := f.Call(ctx, "session.subscribe", map[string]any{"events": []string{"network.responseStarted"}}, nil); err != nil {
		l.remove()
		return nil, err
	}
	return l, nil
}

// Responses returns the responses logged so far, in order.
func (l *ResponseLog) Responses() []Response {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Response(nil), l.list...)
}

// Stop stops logging.
func (l *ResponseLog) Stop() { l.remove() }
