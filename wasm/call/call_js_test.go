//go:build js && wasm

// These tests run in a real browser against the server of browser_test.go.
// Run them with `go test ./wasm/call` (natively): TestBrowser starts the
// server and runs them through wasmbrowsertest with its URL in
// SSEWASM_TEST_CALL_URL. Run alone, they skip.

package call_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall/js"
	"testing"
	"time"

	"github.com/ssewasm/ssewasm/shared/action"
	"github.com/ssewasm/ssewasm/wasm/call"
	"github.com/ssewasm/ssewasm/wasm/internal/jstest"
)

// waitTimeout bounds every wait; a passing call takes milliseconds.
const waitTimeout = 15 * time.Second

var trustOnce sync.Once

// server returns the test server's URL, once the main registries trust
// this page's origin.
func server(t *testing.T) string {
	t.Helper()
	u := os.Getenv(envURL)
	if u == "" {
		t.Skipf("%s is unset: these tests need the server that TestBrowser (browser_test.go) starts; run them with `go test ./wasm/call`", envURL)
	}
	trustOnce.Do(func() {
		fetchText(t, "POST", u+"/trust?origin="+url.QueryEscape(origin()))
	})
	return u
}

// origin is this page's origin.
func origin() string { return js.Global().Get("location").Get("origin").String() }

// fetchText fetches url with the page's cookies for the server and
// returns the body; a status other than 200 fails t.
func fetchText(t *testing.T, method, u string) string {
	t.Helper()
	p := jstest.Func(`return fetch(url, { method, credentials: "include" }).then(r => r.ok ? r.text() : Promise.reject(new Error("HTTP " + r.status)));`, "method", "url").
		Invoke(method, u)
	return jstest.Await(t, p, method+" "+u, waitTimeout).String()
}

// login sets the test cookie "user" for the server ("": removes it).
func login(t *testing.T, user string) {
	t.Helper()
	fetchText(t, "POST", server(t)+"/login?user="+url.QueryEscape(user))
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return c
}

// actionError returns err as an *action.Error, failing t if it is not.
func actionError(t *testing.T, err error) *action.Error {
	t.Helper()
	e, ok := errors.AsType[*action.Error](err)
	if !ok {
		t.Fatalf("error %v (%T), want an *action.Error", err, err)
	}
	return e
}

func TestEcho(t *testing.T) {
	c := call.Client{Base: server(t)}
	in := echoReq{Text: "héllo ✓ \"quoted\"\n<b>", N: 7}
	got, err := call.DoWith(ctx(t), c, echo, in)
	if err != nil || got.Text != in.Text || got.N != in.N {
		t.Errorf("echo = %+v, %v; want %+v", got, err, in)
	}
}

// TestCookie: with a Base, the call carries the server's cookies
// (credentials "include"), and the server's identity follows them.
func TestCookie(t *testing.T) {
	c := call.Client{Base: server(t)}
	login(t, "")
	_, err := call.DoWith(ctx(t), c, whoami, struct{}{})
	if e := actionError(t, err); e.Status != 401 || e.Code != action.CodeUnauthorized || !strings.Contains(e.Message, "sign in first") {
		t.Errorf("whoami without a cookie: %+v", e)
	}
	for _, user := range []string{"alice", "bob"} {
		login(t, user)
		got, err := call.DoWith(ctx(t), c, whoami, struct{}{})
		if err != nil || got.Subject != user {
			t.Errorf("whoami as %s: %+v, %v", user, got, err)
		}
	}
	login(t, "")
}

// TestCrossOriginRefused: a registry that does not trust this page's
// origin refuses its calls, in a real browser's request.
func TestCrossOriginRefused(t *testing.T) {
	_, err := call.DoWith(ctx(t), call.Client{Base: server(t) + "/untrusted"}, echo, echoReq{Text: "x"})
	if e := actionError(t, err); e.Status != 403 || e.Code != action.CodeForbidden || !strings.Contains(e.Message, "cross-site") {
		t.Errorf("an untrusted origin: %+v", e)
	}
}

func TestActionErrors(t *testing.T) {
	c := call.Client{Base: server(t)}
	type other struct {
		Other int `json:"other"`
	}
	cases := []struct {
		name   string
		call   func() error
		status int
		code   string
		msg    string
	}{
		{"handler's error", func() error { _, err := call.DoWith(ctx(t), c, conflict, struct{}{}); return err },
			409, action.CodeConflict, "the board changed: reload it"},
		{"unknown action", func() error {
			_, err := call.DoWith(ctx(t), c, action.New[struct{}, struct{}]("nope", 16), struct{}{})
			return err
		}, 404, action.CodeNotFound, `no action named "nope"`},
		{"the server's type differs", func() error {
			_, err := call.DoWith(ctx(t), c, action.New[other, echoRes]("echo", 256), other{1})
			return err
		}, 400, action.CodeBadRequest, `unknown field "other"`},
		{"over the server's limit", func() error {
			_, err := call.DoWith(ctx(t), c, action.New[echoReq, echoRes]("echo", 1<<20), echoReq{Text: strings.Repeat("x", 1000)})
			return err
		}, 413, action.CodeTooLarge, "over 256 bytes"},
		{"over the declared limit: not sent", func() error {
			_, err := call.DoWith(ctx(t), c, echo, echoReq{Text: strings.Repeat("x", 1000)})
			return err
		}, 413, action.CodeTooLarge, "(not sent)"},
	}
	for _, tc := range cases {
		e := actionError(t, tc.call())
		if e.Status != tc.status || e.Code != tc.code || !strings.Contains(e.Message, tc.msg) {
			t.Errorf("%s: %+v; want %d %s %q", tc.name, e, tc.status, tc.code, tc.msg)
		}
	}
}

func TestRateLimited(t *testing.T) {
	c := call.Client{Base: server(t) + "/limited"}
	if _, err := call.DoWith(ctx(t), c, echo, echoReq{}); err != nil {
		t.Fatalf("the first call: %v", err)
	}
	_, err := call.DoWith(ctx(t), c, echo, echoReq{})
	e := actionError(t, err)
	if e.Status != 429 || e.Code != action.CodeRateLimited || e.RetryAfter < time.Second {
		t.Errorf("the second call: %+v; want 429 with Retry-After", e)
	}
}

func TestNotAnAnswer(t *testing.T) {
	c := call.Client{Base: server(t) + "/raw"}
	cases := []struct {
		name        string // of the action: see startServer
		status      int
		contentType string
		why         string
	}{
		{"html", 502, "text/html", "not an action error"}, // a proxy's page
		{"text", 200, "text/plain", "not application/json"},
		{"badjson", 200, "application/json", "the result does not decode"},
	}
	for _, tc := range cases {
		_, err := call.DoWith(ctx(t), c, action.New[struct{}, echoRes](tc.name, 16), struct{}{})
		e, ok := errors.AsType[*call.AnswerError](err)
		if !ok || e.Status != tc.status || e.ContentType != tc.contentType || e.URL != c.Base+"/action/"+tc.name || !strings.Contains(e.Error(), tc.why) {
			t.Errorf("%s: %v (%T)", tc.name, err, err)
		}
	}
}

func TestNetworkErrors(t *testing.T) {
	base := server(t)
	cases := []struct{ name, base string }{
		{"nothing listens", "http://127.0.0.1:1"},
		{"a redirect", base + "/redirect"},
		{"no CORS headers", base + "/nocors"},
	}
	for _, tc := range cases {
		_, err := call.DoWith(ctx(t), call.Client{Base: tc.base}, echo, echoReq{})
		if !errors.Is(err, call.ErrNetwork) || !strings.HasPrefix(err.Error(), "call: echo: ") {
			t.Errorf("%s: %v, want ErrNetwork", tc.name, err)
		}
	}
}

func slowStatsNow(t *testing.T) slowStats {
	var s slowStats
	if err := json.Unmarshal([]byte(fetchText(t, "GET", server(t)+"/stats")), &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestCancel: ending the context aborts the fetch at once, and the
// server sees the request go.
func TestCancel(t *testing.T) {
	c := call.Client{Base: server(t)}
	before := slowStatsNow(t)
	cx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := call.DoWith(cx, c, slow, echoReq{})
	took := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.HasPrefix(err.Error(), "call: slow: ") {
		t.Errorf("a call past its deadline: %v", err)
	}
	if took > 5*time.Second {
		t.Errorf("the call returned %v after its deadline of 300ms", took)
	}
	deadline := time.Now().Add(waitTimeout)
	for {
		s := slowStatsNow(t)
		if s.Started == before.Started+1 && s.Cancelled == before.Cancelled+1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server saw %+v after %+v: the request was not aborted", s, before)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// recorder wraps the package's fetch helper to record each call's URL,
// credentials mode and js.Func.
func recorder(t *testing.T) js.Value {
	rec := jstest.Func(`const rec = { urls: [], creds: [], dones: [] };
rec.wrap = orig => (url, method, body, type, creds, done) => {
	rec.urls.push(url); rec.creds.push(creds); rec.dones.push(done);
	return orig(url, method, body, type, creds, done);
};
return rec;`).Invoke()
	restore := call.WrapFetcher(func(orig js.Value) js.Value { return rec.Call("wrap", orig) })
	t.Cleanup(restore)
	return rec
}

// TestSameOrigin: Do posts to the page's own origin, with credentials
// "same-origin"; DoWith with a Base, with "include".
func TestSameOrigin(t *testing.T) {
	base := server(t)
	rec := recorder(t)
	_, err := call.Do(ctx(t), echo, echoReq{})
	// The page's origin is wasmbrowsertest's server, which serves no actions.
	if e, ok := errors.AsType[*call.AnswerError](err); !ok || e.URL != "/action/echo" {
		t.Errorf("Do: %v, want an AnswerError from /action/echo", err)
	}
	call.DoWith(ctx(t), call.Client{Base: base + "/"}, echo, echoReq{})
	urls, creds := rec.Get("urls"), rec.Get("creds")
	if urls.Length() != 2 || urls.Index(0).String() != "/action/echo" || urls.Index(1).String() != base+"/action/echo" ||
		creds.Index(0).String() != "same-origin" || creds.Index(1).String() != "include" {
		t.Errorf("fetched %v with %v", js.Global().Get("JSON").Call("stringify", urls), js.Global().Get("JSON").Call("stringify", creds))
	}
}

// TestReleases: every call releases its js.Func, whatever its end, and
// leaves no goroutine; a call whose context already ended fetches
// nothing.
func TestReleases(t *testing.T) {
	base := server(t)
	rec := recorder(t)
	goroutines := runtime.NumGoroutine()
	c := call.Client{Base: base}
	n := 0
	for range 20 {
		call.DoWith(ctx(t), c, echo, echoReq{Text: "ok"})
		call.DoWith(ctx(t), c, conflict, struct{}{})
		call.DoWith(ctx(t), call.Client{Base: "http://127.0.0.1:1"}, echo, echoReq{})
		cx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		call.DoWith(cx, c, slow, echoReq{})
		cancel()
		n += 4
	}
	done, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := call.DoWith(done, c, echo, echoReq{}); !errors.Is(err, context.Canceled) {
		t.Errorf("a call with an ended context: %v", err)
	}
	dones := rec.Get("dones")
	if dones.Length() != n {
		t.Fatalf("%d fetches, want %d (none for the ended context)", dones.Length(), n)
	}
	released := jstest.ReleasedCalls(func() {
		for i := range dones.Length() {
			dones.Index(i).Invoke(200, "", "", "", "")
		}
	})
	if released != n {
		t.Errorf("%d of %d js.Funcs released", released, n)
	}
	for deadline := time.Now().Add(waitTimeout); runtime.NumGoroutine() > goroutines; {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines, %d before", runtime.NumGoroutine(), goroutines)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestFetch: Fetch calls the JSON endpoints that are not actions, with a
// GET or a form POST, and decodes their result, their action error, or
// nothing for a 204.
func TestFetch(t *testing.T) {
	c := call.Client{Base: server(t)}
	login(t, "carol")
	defer login(t, "")
	got, err := call.FetchWith[echoRes](ctx(t), c, "GET", "/session", nil)
	if err != nil || got.Subject != "carol" {
		t.Errorf("GET /session: %+v, %v; want carol", got, err)
	}
	got, err = call.FetchWith[echoRes](ctx(t), c, "POST", "/form", url.Values{"name": {"dave & co"}})
	if err != nil || got.Text != "dave & co" || got.Subject != "carol" {
		t.Errorf("POST /form: %+v, %v; want the form's name and the cookie's subject", got, err)
	}
	_, err = call.FetchWith[echoRes](ctx(t), c, "POST", "/form", nil)
	if e := actionError(t, err); e.Status != 400 || e.Code != action.CodeBadRequest || e.Message != "say your name" {
		t.Errorf("POST /form without a name: %+v", e)
	}
	got, err = call.FetchWith[echoRes](ctx(t), c, "POST", "/empty", nil)
	if err != nil || got != (echoRes{}) {
		t.Errorf("POST /empty (204): %+v, %v; want the zero result", got, err)
	}
	if _, err := call.FetchWith[echoRes](ctx(t), c, "DELETE", "/form", nil); err == nil || !strings.Contains(err.Error(), "want GET or POST") {
		t.Errorf("DELETE: %v, want a refusal", err)
	}
	// Without a Base: the page's own origin, with credentials "same-origin".
	rec := recorder(t)
	call.Fetch[echoRes](ctx(t), "GET", "/session", nil) // wasmbrowsertest's server: no such endpoint
	if urls, creds := rec.Get("urls"), rec.Get("creds"); urls.Length() != 1 || urls.Index(0).String() != "/session" || creds.Index(0).String() != "same-origin" {
		t.Errorf("fetched %v with %v", js.Global().Get("JSON").Call("stringify", urls), js.Global().Get("JSON").Call("stringify", creds))
	}
}
