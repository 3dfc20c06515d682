package bidi

import (
	"context"
	"encoding/json"
	"sync"
	"time"
)

// UserContext is a set of tabs with cookies, storage, HTTP cache and
// service workers of its own (WebDriver BiDi's user context, Firefox's
// container): a fresh profile inside a running Firefox, ready in
// milliseconds where launching one takes seconds. Tests that share one
// Firefox each take a UserContext and close it when they end.
type UserContext struct {
	f  *Firefox
	ID string

	mu   sync.Mutex
	tabs map[string]bool // the ids of the tabs opened by NewTab
}

// UserContextOptions configure NewUserContext.
type UserContextOptions struct {
	// AcceptInsecureCerts lets the user context's pages load over TLS with
	// certificates Firefox does not trust (a test's self-signed one).
	AcceptInsecureCerts bool
}

// NewUserContext creates an empty user context; Close removes it.
func (f *Firefox) NewUserContext(ctx context.Context, o UserContextOptions) (*UserContext, error) {
	params := map[string]any{}
	if o.AcceptInsecureCerts {
		params["acceptInsecureCerts"] = true
	}
	var r struct {
		UserContext string `json:"userContext"`
	}
	if err := f.Call(ctx, "browser.createUserContext", params, &r); err != nil {
		return nil, err
	}
	return &UserContext{f: f, ID: r.UserContext, tabs: map[string]bool{}}, nil
}

// NewTab opens a tab of the user context on about:blank, in a window of
// its own (see Firefox.NewTab), with the viewport Firefox was launched
// with.
func (u *UserContext) NewTab(ctx context.Context) (*Tab, error) {
	var r struct {
		Context string `json:"context"`
	}
	if err := u.f.Call(ctx, "browsingContext.create", map[string]any{"type": "window", "userContext": u.ID}, &r); err != nil {
		return nil, err
	}
	err := u.f.Call(ctx, "browsingContext.setViewport", map[string]any{
		"context":  r.Context,
		"viewport": map[string]any{"width": u.f.width, "height": u.f.height},
	}, nil)
	if err != nil {
		return nil, err
	}
	u.mu.Lock()
	u.tabs[r.Context] = true
	u.mu.Unlock()
	return &Tab{c: u.f.Conn, ID: r.Context}, nil
}

// Close removes the user context, closing its tabs and dropping its
// cookies, storage, cache and service workers.
func (u *UserContext) Close(ctx context.Context) error {
	return u.f.Call(ctx, "browser.removeUserContext", map[string]any{"userContext": u.ID}, nil)
}

// AddPreloadScript runs the JavaScript function declaration fn (such as
// "() => { window.marks = {} }") in every document the user context's
// tabs load from now on, before the document's own scripts.
func (u *UserContext) AddPreloadScript(ctx context.Context, fn string) error {
	return u.f.Call(ctx, "script.addPreloadScript", map[string]any{"functionDeclaration": fn, "userContexts": []string{u.ID}}, nil)
}

// LogRequests starts a log of the requests of the user context's tabs
// and of workers (a worker's request names no tab); Stop ends it.
func (u *UserContext) LogRequests(ctx context.Context) (*RequestLog, error) {
	l := &RequestLog{}
	stop, err := u.subscribe(ctx, "network.beforeRequestSent", func(params json.RawMessage) {
		var p struct {
			Request struct {
				URL string `json:"url"`
			} `json:"request"`
		}
		if json.Unmarshal(params, &p) == nil {
			l.mu.Lock()
			l.urls = append(l.urls, p.Request.URL)
			l.mu.Unlock()
		}
	})
	if err != nil {
		return nil, err
	}
	l.remove = stop
	return l, nil
}

// LogResponses starts a log of the responses the user context's tabs and
// workers get; Stop ends it.
func (u *UserContext) LogResponses(ctx context.Context) (*ResponseLog, error) {
	l := &ResponseLog{}
	stop, err := u.subscribe(ctx, "network.responseStarted", func(params json.RawMessage) {
		var p struct {
			Response Response `json:"response"`
		}
		if json.Unmarshal(params, &p) == nil {
			l.mu.Lock()
			l.list = append(l.list, p.Response)
			l.mu.Unlock()
		}
	})
	if err != nil {
		return nil, err
	}
	l.remove = stop
	return l, nil
}

// subscribe subscribes to the user context's events of one kind and
// passes their parameters to h, from the connection's reading goroutine.
// The connection hands every event to every handler, so h gets only the
// events of this user context's tabs, and of workers, which name none.
// The returned func unsubscribes.
func (u *UserContext) subscribe(ctx context.Context, event string, h func(json.RawMessage)) (stop func(), err error) {
	remove := u.f.OnEvent(func(e Event) {
		if e.Method != event {
			return
		}
		var p struct {
			Context *string `json:"context"`
		}
		if json.Unmarshal(e.Params, &p) != nil {
			return
		}
		if p.Context != nil {
			u.mu.Lock()
			mine := u.tabs[*p.Context]
			u.mu.Unlock()
			if !mine {
				return
			}
		}
		h(e.Params)
	})
	var r struct {
		Subscription string `json:"subscription"`
	}
	if err := u.f.Call(ctx, "session.subscribe", map[string]any{"events": []string{event}, "userContexts": []string{u.ID}}, &r); err != nil {
		remove()
		return nil, err
	}
	return func() {
		remove()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		// Gone with Firefox if this fails: nothing to undo then.
		u.f.Call(ctx, "session.unsubscribe", map[string]any{"subscriptions": []string{r.Subscription}}, nil) //nolint:errcheck
	}, nil
}
