// Package call calls the typed actions of shared/action from the browser:
// a value of the action's request type goes to the server with fetch, as
// JSON, with the user's cookies; the result comes back typed, or the
// error as an [*action.Error].
//
//	receipt, err := call.Do(ctx, demo.SendPrivate, demo.SendPrivateReq{To: "bob", Text: "hi"})
//	if e, ok := errors.AsType[*action.Error](err); ok {
//		// the server's answer: e.Status, e.Code (action.CodeRateLimited, ...), e.Message, e.RetryAfter
//	}
//
// Do posts to the page's own origin with fetch's credentials
// "same-origin". [DoWith] posts to another origin (a [Client] with a
// Base URL) with credentials "include"; the server must then list the
// page's origin in its CORS allow-list and its trusted origins.
//
// [Fetch] calls the endpoints around the actions that answer as they do,
// a JSON result or an action error, such as the binary's session
// endpoints (docs/protocol.md):
//
//	s, err := call.Fetch[demo.Session](ctx, "POST", "/login", url.Values{"name": {"alice"}})
//
// Do blocks until the answer arrives: call it from a goroutine (go-app's
// ctx.Async), never from a JavaScript callback, which would stall the
// page's event loop. Cancelling ctx aborts the fetch. Every error other
// than an *action.Error says what went wrong: [ErrNetwork] (wrapped) when
// no answer came, an [*AnswerError] when the answer is not the action's
// (a proxy's HTML error page), ctx's error when it ended first. Each call
// makes one js.Func and releases it before it returns.
//
// Outside the browser (GOOS other than js), Do returns [ErrNotBrowser]:
// the package builds everywhere so that code using it can be vetted and
// tested natively.
package call

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/url"
	"strconv"
	"strings"

	"github.com/ssewasm/ssewasm/shared/action"
)

// Client says where actions go. The zero Client posts to the page's own
// origin.
type Client struct {
	// Base is the URL actions are posted under, without a trailing "/":
	// "https://api.example.com", or with a path prefix,
	// "https://example.com/app". The action's path (/action/<name>)
	// follows it. Default "": the page's origin, with credentials
	// "same-origin"; any other Base is called with credentials "include",
	// so that the cookies of Base's site go along.
	Base string
}

// Do calls a with req at the page's own origin, and returns the result.
func Do[Req, Res any](ctx context.Context, a action.Action[Req, Res], req Req) (Res, error) {
	return DoWith(ctx, Client{}, a, req)
}

// DoWith calls a with req through c, and returns the result.
func DoWith[Req, Res any](ctx context.Context, c Client, a action.Action[Req, Res], req Req) (Res, error) {
	// Each instantiation adds its own code to app.wasm: keep this body
	// to the pointers, the rest is in c.call.
	var res Res
	err := c.call(ctx, a.Name(), a.Path(), a.MaxBytes(), req, &res)
	return res, err
}

// Fetch calls the endpoint at path, on the page's own origin, that is not
// an action but answers as one: its result in JSON on success, an
// [*action.Error] otherwise. method is "GET" or "POST"; a POST sends form
// as an HTML form would (application/x-www-form-urlencoded; nil: an empty
// body), which a server takes from a form or from fetch alike. A success
// without a body (204 No Content) gives the zero Res. The errors are
// Do's.
func Fetch[Res any](ctx context.Context, method, path string, form url.Values) (Res, error) {
	return FetchWith[Res](ctx, Client{}, method, path, form)
}

// FetchWith is [Fetch] through c, which says where path is (see [Client]).
func FetchWith[Res any](ctx context.Context, c Client, method, path string, form url.Values) (Res, error) {
	var res Res
	err := c.fetch(ctx, method, path, form, &res)
	return res, err
}

// request is one request for send.
type request struct {
	method, url, body, contentType string
	include                        bool // credentials "include", not "same-origin"
}

// ErrNetwork is wrapped by the error of a call that got no answer: the
// server is unreachable, the browser refused the answer (CORS), or the
// server redirected, which an action never does.
var ErrNetwork = errors.New("call: no answer (network error, refused by CORS, or redirected)")

// ErrNotBrowser is the error of every call outside the browser.
var ErrNotBrowser = errors.New("call: actions are called from the browser (GOOS=js GOARCH=wasm)")

// AnswerError is the error of an answer that is neither the action's
// result nor an action error: a proxy's error page, an answer that does
// not decode as the result type.
type AnswerError struct {
	URL         string // the action's URL
	Status      int    // the HTTP status
	ContentType string // the answer's Content-Type
	Body        string // the start of the answer, at most 200 bytes
	Err         error  // why it is not an answer: a decoding error
}

func (e *AnswerError) Error() string {
	return fmt.Sprintf("call: %s: %d answered %s: %v: %q", e.URL, e.Status, orNone(e.ContentType), e.Err, e.Body)
}

func (e *AnswerError) Unwrap() error { return e.Err }

func orNone(ct string) string {
	if ct == "" {
		return "without a Content-Type"
	}
	return ct
}

// answer is what came back from fetch.
type answer struct {
	status      int
	contentType string
	retryAfter  string
	body        string
}

// call is the part of DoWith that does not depend on the types.
func (c Client) call(ctx context.Context, name, path string, maxBytes int, req, res any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("call: %s: the request does not encode: %w", name, err)
	}
	if len(body) > maxBytes {
		// What the server would answer, without sending it.
		return action.TooLarge("the request is " + strconv.Itoa(len(body)) + " bytes, over " + strconv.Itoa(maxBytes) +
			", the limit of " + strconv.Quote(name) + " (not sent)")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("call: %s: %w", name, err)
	}
	u := c.url(path)
	a, err := send(ctx, request{method: "POST", url: u, body: string(body), contentType: action.ContentType, include: c.Base != ""})
	if err != nil {
		return fmt.Errorf("call: %s: %w", name, err)
	}
	return a.decode(u, res)
}

// fetch is the part of FetchWith that does not depend on the type.
func (c Client) fetch(ctx context.Context, method, path string, form url.Values, res any) error {
	if method != "GET" && method != "POST" {
		return errors.New("call: Fetch " + path + ": method " + strconv.Quote(method) + ", want GET or POST")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("call: %s %s: %w", method, path, err)
	}
	r := request{method: method, url: c.url(path), include: c.Base != ""}
	if method == "POST" {
		r.body, r.contentType = form.Encode(), "application/x-www-form-urlencoded"
	}
	a, err := send(ctx, r)
	if err != nil {
		return fmt.Errorf("call: %s %s: %w", method, path, err)
	}
	if a.status/100 == 2 && a.body == "" {
		return nil // no content: the zero result
	}
	return a.decode(r.url, res)
}

// url is the URL of path through c.
func (c Client) url(path string) string {
	return strings.TrimSuffix(c.Base, "/") + path
}

// decode reads the answer a from url into res, or returns its error.
func (a answer) decode(url string, res any) error {
	mt, _, _ := mime.ParseMediaType(a.contentType)
	isJSON := mt == action.ContentType
	bad := func(err error) error {
		b := a.body
		if len(b) > 200 {
			b = b[:200]
		}
		return &AnswerError{URL: url, Status: a.status, ContentType: a.contentType, Body: b, Err: err}
	}
	if a.status < 200 || a.status > 299 {
		e, err := action.ParseError(a.status, []byte(a.body), a.retryAfter)
		if err != nil {
			return bad(err)
		}
		return e
	}
	if !isJSON {
		return bad(errors.New("not " + action.ContentType))
	}
	if err := json.Unmarshal([]byte(a.body), res); err != nil {
		return bad(fmt.Errorf("the result does not decode: %w", err))
	}
	return nil
}
