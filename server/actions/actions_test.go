package actions_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/ssewasm/ssewasm/server/actions"
	"github.com/ssewasm/ssewasm/server/ratelimit"
	"github.com/ssewasm/ssewasm/server/sse"
	"github.com/ssewasm/ssewasm/shared/action"
)

type sendReq struct {
	To   string   `json:"to"`
	Text string   `json:"text"`
	N    int      `json:"n,omitempty"`
	Tags []string `json:"tags,omitempty"`
	Meta *struct {
		Lang string `json:"lang"`
	} `json:"meta,omitempty"`
}

type receipt struct {
	From string `json:"from"`
	To   string `json:"to"`
}

var (
	send = action.New[sendReq, receipt]("send", 256)
	post = action.New[sendReq, receipt]("post", 256)
	fail = action.New[struct{}, struct{}]("fail", 64)
)

// secret appears in bodies and cookies; no log line may hold it.
const secret = "s3cr3t-body-and-cookie"

// fixture is a registry with send (signed in), post (anonymous) and fail,
// whose handlers record their calls.
type fixture struct {
	reg  *actions.Registry
	logs *bytes.Buffer

	mu    sync.Mutex
	calls []string // "action subject text"
}

func newFixture(t testing.TB, opts actions.Options) *fixture {
	t.Helper()
	f := &fixture{logs: new(bytes.Buffer)}
	opts.Log = slog.New(slog.NewTextHandler(f.logs, nil))
	if opts.Identify == nil {
		opts.Identify = identify
	}
	reg, err := actions.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	record := func(name string) func(ctx context.Context, who sse.Identity, req sendReq) (receipt, error) {
		return func(ctx context.Context, who sse.Identity, req sendReq) (receipt, error) {
			f.mu.Lock()
			f.calls = append(f.calls, name+" "+who.Subject+" "+req.Text)
			f.mu.Unlock()
			if req.To == "nobody" {
				return receipt{}, action.NotFound("no user named nobody")
			}
			return receipt{From: who.Subject, To: req.To}, nil
		}
	}
	actions.Handle(reg, send, record("send"))
	actions.Handle(reg, post, record("post"), actions.AllowAnonymous())
	actions.Handle(reg, fail, func(ctx context.Context, who sse.Identity, req struct{}) (struct{}, error) {
		return struct{}{}, errors.New("database down; the query held " + secret)
	}, actions.AllowAnonymous())
	f.reg = reg
	t.Cleanup(func() {
		if strings.Contains(f.logs.String(), secret) {
			t.Errorf("the log holds a body or a cookie:\n%s", f.logs)
		}
	})
	return f
}

func (f *fixture) called() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// identify reads the test's cookie "user": "forged" fails as a bad
// cookie does, "expired" with an *action.Error.
func identify(r *http.Request) (sse.Identity, error) {
	c, err := r.Cookie("user")
	if err != nil {
		return sse.Identity{}, nil
	}
	switch c.Value {
	case "forged":
		return sse.Identity{}, errors.New("session: the cookie's signature does not match")
	case "expired":
		return sse.Identity{}, &action.Error{Status: 401, Code: "session_expired", Message: "renew the session"}
	}
	return sse.Identity{Subject: c.Value, Session: "s-" + c.Value}, nil
}

type request struct {
	method, path, body string
	header             map[string]string // Content-Type defaults to JSON; "" deletes
	user               string            // the cookie "user"
	chunked            bool              // no Content-Length
}

func (f *fixture) do(t *testing.T, rq request) *httptest.ResponseRecorder {
	t.Helper()
	if rq.method == "" {
		rq.method = http.MethodPost
	}
	var body io.Reader = strings.NewReader(rq.body)
	if rq.chunked {
		body = io.MultiReader(body) // hides the length
	}
	r := httptest.NewRequest(rq.method, "http://app.test"+rq.path, body)
	r.Header.Set("Content-Type", "application/json")
	for k, v := range rq.header {
		if v == "" {
			r.Header.Del(k)
		} else {
			r.Header.Set(k, v)
		}
	}
	if rq.user != "" {
		r.AddCookie(&http.Cookie{Name: "user", Value: rq.user})
		r.AddCookie(&http.Cookie{Name: "other", Value: secret})
	}
	w := httptest.NewRecorder()
	f.reg.ServeHTTP(w, r)
	return w
}

// errorOf parses a refusal's body.
func errorOf(t *testing.T, w *httptest.ResponseRecorder) *action.Error {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	e, err := action.ParseError(w.Code, w.Body.Bytes(), w.Header().Get("Retry-After"))
	if err != nil {
		t.Fatalf("status %d, body %q: %v", w.Code, w.Body, err)
	}
	return e
}

func TestRefusals(t *testing.T) {
	okBody := `{"to":"bob","text":"` + secret + `"}`
	cases := []struct {
		name   string
		req    request
		status int
		code   string
		reason string // counted under this reason
		msg    string // in the message
	}{
		{"unknown action", request{path: "/action/nope", body: okBody, user: "alice"}, 404, "not_found", actions.RefusedNotFound, `no action named "nope"`},
		{"no name", request{path: "/action/", body: okBody, user: "alice"}, 404, "not_found", actions.RefusedNotFound, `no action named ""`},
		{"sub-path", request{path: "/action/send/x", body: okBody, user: "alice"}, 404, "not_found", actions.RefusedNotFound, `"send/x"`},
		{"encoded slash", request{path: "/action/send%2Fx", body: okBody, user: "alice"}, 404, "not_found", actions.RefusedNotFound, `"send/x"`},
		{"upper case", request{path: "/action/SEND", body: okBody, user: "alice"}, 404, "not_found", actions.RefusedNotFound, `"SEND"`},
		{"outside the prefix", request{path: "/send", body: okBody, user: "alice"}, 404, "not_found", actions.RefusedNotFound, `"/send"`},
		{"GET", request{method: "GET", path: "/action/send", user: "alice"}, 405, "method_not_allowed", actions.RefusedMethod, "POST, not \"GET\""},
		{"PUT", request{method: "PUT", path: "/action/send", body: okBody, user: "alice"}, 405, "method_not_allowed", actions.RefusedMethod, "not \"PUT\""},
		{"OPTIONS", request{method: "OPTIONS", path: "/action/send"}, 405, "method_not_allowed", actions.RefusedMethod, "not \"OPTIONS\""},
		{"cross-site fetch", request{path: "/action/send", body: okBody, user: "alice",
			header: map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}}, 403, "forbidden", actions.RefusedCrossSite, "cross-site"},
		{"same-site sibling", request{path: "/action/send", body: okBody, user: "alice",
			header: map[string]string{"Sec-Fetch-Site": "same-site", "Origin": "https://other.app.test"}}, 403, "forbidden", actions.RefusedCrossSite, "cross-site"},
		{"cross-site form", request{path: "/action/send", body: "to=bob", user: "alice",
			header: map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example", "Content-Type": "application/x-www-form-urlencoded"}}, 403, "forbidden", actions.RefusedCrossSite, "cross-site"},
		{"old browser, other origin", request{path: "/action/send", body: okBody, user: "alice",
			header: map[string]string{"Origin": "https://evil.example"}}, 403, "forbidden", actions.RefusedCrossSite, "cross-site"},
		{"same origin, form", request{path: "/action/send", body: "to=bob", user: "alice",
			header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}}, 415, "unsupported_media_type", actions.RefusedMediaType, `not "application/x-www-form-urlencoded"`},
		{"text/plain", request{path: "/action/send", body: okBody, user: "alice",
			header: map[string]string{"Content-Type": "text/plain"}}, 415, "unsupported_media_type", actions.RefusedMediaType, "must be application/json"},
		{"no content type", request{path: "/action/send", body: okBody, user: "alice",
			header: map[string]string{"Content-Type": ""}}, 415, "unsupported_media_type", actions.RefusedMediaType, `not ""`},
		{"json with a suffix", request{path: "/action/send", body: okBody, user: "alice",
			header: map[string]string{"Content-Type": "application/jsonx"}}, 415, "unsupported_media_type", actions.RefusedMediaType, "must be"},
		{"forged cookie", request{path: "/action/send", body: okBody, user: "forged"}, 401, "unauthorized", actions.RefusedIdentity, "signature does not match"},
		{"identify's own error", request{path: "/action/send", body: okBody, user: "expired"}, 401, "session_expired", actions.RefusedIdentity, "renew the session"},
		{"anonymous", request{path: "/action/send", body: okBody}, 401, "unauthorized", actions.RefusedSignIn, "sign in first"},
		{"too large, declared", request{path: "/action/send", body: `{"to":"bob","text":"` + strings.Repeat("a", 300) + `"}`, user: "alice"}, 413, "too_large", actions.RefusedTooLarge, "over 256 bytes"},
		{"too large, chunked", request{path: "/action/send", body: `{"to":"bob","text":"` + strings.Repeat("a", 300) + `"}`, user: "alice", chunked: true}, 413, "too_large", actions.RefusedTooLarge, "over 256 bytes"},
		{"malformed", request{path: "/action/send", body: `{"to":"bob",}`, user: "alice"}, 400, "bad_request", actions.RefusedBadRequest, "malformed JSON at byte 13"},
		{"truncated", request{path: "/action/send", body: `{"to":"bob"`, user: "alice"}, 400, "bad_request", actions.RefusedBadRequest, "malformed JSON"},
		{"empty", request{path: "/action/send", body: ``, user: "alice"}, 400, "bad_request", actions.RefusedBadRequest, "the body is empty"},
		{"unknown field", request{path: "/action/send", body: `{"to":"bob","admin":true}`, user: "alice"}, 400, "bad_request", actions.RefusedBadRequest, `unknown field "admin"`},
		{"nested unknown field", request{path: "/action/send", body: `{"to":"bob","meta":{"lang":"en","x":1}}`, user: "alice"}, 400, "bad_request", actions.RefusedBadRequest, `unknown field "x"`},
		{"wrong type", request{path: "/action/send", body: `{"to":1}`, user: "alice"}, 400, "bad_request", actions.RefusedBadRequest, `field "to" must be a string, not JSON number`},
		{"wrong number", request{path: "/action/send", body: `{"to":"bob","n":1.5}`, user: "alice"}, 400, "bad_request", actions.RefusedBadRequest, `field "n" must be a number (int), not JSON number 1.5`},
		{"wrong element", request{path: "/action/send", body: `{"tags":["a",2]}`, user: "alice"}, 400, "bad_request", actions.RefusedBadRequest, `field "tags" must be a string, not JSON number`},
		{"not an object", request{path: "/action/send", body: `["bob"]`, user: "alice"}, 400, "bad_request", actions.RefusedBadRequest, `the request must be an object (actions_test.sendReq), not JSON array`},
		{"trailing data", request{path: "/action/send", body: `{"to":"bob"} {"to":"eve"}`, user: "alice"}, 400, "bad_request", actions.RefusedBadRequest, "data after the JSON value at byte 14"},
		{"trailing garbage", request{path: "/action/send", body: `{"to":"bob"}x`, user: "alice"}, 400, "bad_request", actions.RefusedBadRequest, "data after the JSON value at byte 13"},
		{"repeated field", request{path: "/action/send", body: `{"to":"bob","to":"eve"}`, user: "alice"}, 400, "bad_request", actions.RefusedBadRequest, `field "to" is repeated`},
		{"repeated nested field", request{path: "/action/send", body: `{"to":"bob","meta":{"lang":"en","lang":"fr"}}`, user: "alice"}, 400, "bad_request", actions.RefusedBadRequest, `field "meta.lang" is repeated`},
		{"invalid UTF-8", request{path: "/action/send", body: "{\"to\":\"bob\",\"text\":\"\xff\"}", user: "alice"}, 400, "bad_request", actions.RefusedBadRequest, "not valid UTF-8"},
	}
	f := newFixture(t, actions.Options{})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := f.reg.Stats()
			calls := len(f.called())
			w := f.do(t, c.req)
			e := errorOf(t, w)
			if w.Code != c.status || e.Code != c.code || !strings.Contains(e.Message, c.msg) {
				t.Errorf("answer %d %q %q; want %d %q with %q", w.Code, e.Code, e.Message, c.status, c.code, c.msg)
			}
			if got := len(f.called()); got != calls {
				t.Errorf("the handler ran on a refused request")
			}
			after := f.reg.Stats()
			for reason, n := range after.Refused {
				want := before.Refused[reason]
				if reason == c.reason {
					want++
				}
				if n != want {
					t.Errorf("refused %s: %d, want %d", reason, n, want)
				}
			}
			if after.Handled != before.Handled || after.Failed != before.Failed {
				t.Errorf("handled/failed moved: %+v → %+v", before, after)
			}
			if c.status == 405 && w.Header().Get("Allow") != "POST" {
				t.Errorf("405 without Allow: POST")
			}
		})
	}
}

func TestServes(t *testing.T) {
	f := newFixture(t, actions.Options{TrustedOrigins: []string{"https://app.example", "*"}})
	cases := []struct {
		name string
		req  request
		want string // the result's JSON
		call string
	}{
		{"same origin", request{path: "/action/send", body: `{"to":"bob","text":"hi"}`, user: "alice",
			header: map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://app.test"}}, `{"from":"alice","to":"bob"}`, "send alice hi"},
		{"typed in the address bar", request{path: "/action/send", body: `{"to":"bob"}`, user: "alice",
			header: map[string]string{"Sec-Fetch-Site": "none"}}, `{"from":"alice","to":"bob"}`, "send alice "},
		{"old browser, same host", request{path: "/action/send", body: `{"to":"bob"}`, user: "alice",
			header: map[string]string{"Origin": "http://app.test"}}, `{"from":"alice","to":"bob"}`, "send alice "},
		{"no browser", request{path: "/action/send", body: `{"to":"bob"}`, user: "alice"}, `{"from":"alice","to":"bob"}`, "send alice "},
		{"trusted origin", request{path: "/action/send", body: `{"to":"bob"}`, user: "alice",
			header: map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://app.example"}}, `{"from":"alice","to":"bob"}`, "send alice "},
		{"charset", request{path: "/action/send", body: `{"to":"bob"}`, user: "alice",
			header: map[string]string{"Content-Type": "application/json; charset=utf-8"}}, `{"from":"alice","to":"bob"}`, "send alice "},
		{"anonymous action", request{path: "/action/post", body: `{"to":"all","text":"x"}`}, `{"from":"","to":"all"}`, "post  x"},
		{"anonymous action, signed in", request{path: "/action/post", body: `{"to":"all"}`, user: "bob"}, `{"from":"bob","to":"all"}`, "post bob "},
		{"null", request{path: "/action/send", body: `null`, user: "alice"}, `{"from":"alice","to":""}`, "send alice "},
		{"nested", request{path: "/action/send", body: `{"meta":{"lang":"en"},"tags":["a","b"],"to":"x"}`, user: "alice"}, `{"from":"alice","to":"x"}`, "send alice "},
		{"case-insensitive field", request{path: "/action/send", body: `{"TO":"x"}`, user: "alice"}, `{"from":"alice","to":"x"}`, "send alice "},
		{"whitespace around", request{path: "/action/send", body: " \n{\"to\":\"x\"}\n ", user: "alice"}, `{"from":"alice","to":"x"}`, "send alice "},
		{"exactly the limit", request{path: "/action/send", body: `{"to":"x","text":"` + strings.Repeat("a", 256-21) + `"}`, user: "alice"}, `{"from":"alice","to":"x"}`, "send alice " + strings.Repeat("a", 256-21)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			calls := len(f.called())
			w := f.do(t, c.req)
			if w.Code != 200 || strings.TrimSpace(w.Body.String()) != c.want {
				t.Fatalf("answer %d %q, want 200 %s", w.Code, w.Body, c.want)
			}
			if got := f.called(); len(got) != calls+1 || got[calls] != c.call {
				t.Errorf("calls %q, want %q last", got, c.call)
			}
			h := w.Header()
			if h.Get("Content-Type") != "application/json" || h.Get("Cache-Control") != "no-store" || h.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("headers %v", h)
			}
		})
	}
	st := f.reg.Stats()
	if st.Handled != uint64(len(cases)) || st.Failed != 0 {
		t.Errorf("stats %+v, want %d handled", st, len(cases))
	}
	for reason, n := range st.Refused {
		if n != 0 {
			t.Errorf("refused %s: %d", reason, n)
		}
	}
}

func TestHandlerErrors(t *testing.T) {
	f := newFixture(t, actions.Options{})
	w := f.do(t, request{path: "/action/send", body: `{"to":"nobody","text":"` + secret + `"}`, user: "alice"})
	if e := errorOf(t, w); w.Code != 404 || e.Code != "not_found" || e.Message != "no user named nobody" {
		t.Errorf("an *action.Error: %d %+v", w.Code, e)
	}
	w = f.do(t, request{path: "/action/fail", body: `{}`})
	e := errorOf(t, w)
	if w.Code != 500 || e.Code != "internal" || strings.Contains(e.Message, "database") {
		t.Errorf("a plain error: %d %+v; want 500 internal, saying nothing of the cause", w.Code, e)
	}
	if !strings.Contains(f.logs.String(), `action=fail`) || !strings.Contains(f.logs.String(), "database down") {
		t.Errorf("the failure is not logged with its action:\n%s", f.logs)
	}
	if st := f.reg.Stats(); st.Failed != 2 || st.Handled != 0 {
		t.Errorf("stats %+v", st)
	}
	f.logs.Reset() // the handler's own error held the secret on purpose
}

func TestRateLimit(t *testing.T) {
	f := newFixture(t, actions.Options{RateLimit: ratelimit.Limit{Rate: 0.5, Burst: 2}})
	body := `{"to":"x"}`
	statuses := func(user, addr string, n int) []int {
		var got []int
		for range n {
			r := httptest.NewRequest("POST", "http://app.test/action/post", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			r.RemoteAddr = addr + ":1234"
			if user != "" {
				r.AddCookie(&http.Cookie{Name: "user", Value: user})
			}
			w := httptest.NewRecorder()
			f.reg.ServeHTTP(w, r)
			got = append(got, w.Code)
			if w.Code == 429 {
				e := errorOf(t, w)
				if w.Header().Get("Retry-After") != "2" || e.Code != "rate_limited" || !strings.Contains(e.Message, "retry in") {
					t.Errorf("429 with Retry-After %q, %+v", w.Header().Get("Retry-After"), e)
				}
			}
		}
		return got
	}
	for _, c := range []struct{ user, addr, want string }{
		{"alice", "192.0.2.1", "[200 200 429]"},
		{"bob", "192.0.2.1", "[200 200 429]"},   // another subject, same address: its own bucket
		{"alice", "192.0.2.2", "[429 429 429]"}, // the same subject from elsewhere: still limited
		{"", "192.0.2.1", "[200 200 429]"},      // anonymous: by address, apart from the subjects
		{"", "192.0.2.2", "[200 200 429]"},
	} {
		if got := fmt.Sprint(statuses(c.user, c.addr, 3)); got != c.want {
			t.Errorf("%q from %s: %v, want %s", c.user, c.addr, got, c.want)
		}
	}
	if st := f.reg.Stats(); st.Refused[actions.RefusedRate] != 7 {
		t.Errorf("refused for rate: %d, want 7", st.Refused[actions.RefusedRate])
	}
}

func TestRegistration(t *testing.T) {
	f := newFixture(t, actions.Options{})
	func() {
		defer func() {
			if r, _ := recover().(string); !strings.Contains(r, `"send" is registered twice`) {
				t.Errorf("panic %q", r)
			}
		}()
		actions.Handle(f.reg, send, func(context.Context, sse.Identity, sendReq) (receipt, error) { return receipt{}, nil })
	}()
	func() {
		defer func() {
			if r, _ := recover().(string); !strings.Contains(r, "zero Action") {
				t.Errorf("panic %q", r)
			}
		}()
		actions.Handle(f.reg, action.Action[int, int]{}, func(context.Context, sse.Identity, int) (int, error) { return 0, nil })
	}()
	if _, err := actions.New(actions.Options{TrustedOrigins: []string{"app.example"}}); err == nil || !strings.Contains(err.Error(), "scheme://host") {
		t.Errorf("New with a bad origin: %v", err)
	}
	if _, err := actions.New(actions.Options{MaxCallers: -1}); err == nil || !strings.Contains(err.Error(), "Options.MaxCallers") {
		t.Errorf("New with a negative MaxCallers: %v", err)
	}
}
