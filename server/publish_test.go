package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/ssewasm/ssewasm/server/sse"
)

// post publishes body with the given query and token, and decodes the
// JSON answer.
func post(t *testing.T, base, query, token, body string) (int, map[string]string, http.Header) {
	t.Helper()
	h := http.Header{}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	return postWith(t, base, query, body, h)
}

// postWith publishes body with the given query and request headers,
// and returns the status, the decoded JSON answer and the headers.
func postWith(t *testing.T, base, query, body string, h http.Header) (int, map[string]string, http.Header) {
	t.Helper()
	req, err := http.NewRequest("POST", base+"/publish?"+query, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range h {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("the answer is not JSON: %v", err)
	}
	return resp.StatusCode, m, resp.Header
}

// TestPublishBadInput: every bad request gets a clear 4xx with a JSON
// error, and nothing is published.
func TestPublishBadInput(t *testing.T) {
	cfg := defaults(t, "-max-event-size", "64", "-publish-token", "s3cret")
	ts, svc := newTestService(t, cfg)
	tests := []struct {
		name   string
		query  string
		token  string
		body   string
		status int
		msg    string
	}{
		{"no token", "", "", "x", 401, "token"},
		{"wrong token", "", "guess", "x", 401, "token"},
		{"CR in event", "event=a%0Db", "s3cret", "x", 400, "event"},
		{"LF in event", "event=a%0Ab", "s3cret", "x", 400, "event"},
		{"CRLF in event", "event=a%0D%0Adata:+evil", "s3cret", "x", 400, "event"},
		{"NUL in event", "event=a%00b", "s3cret", "x", 400, "event"},
		{"NUL in data", "", "s3cret", "a\x00b", 400, "NUL at byte 1"},
		{"reserved event", "event=sse.gap", "s3cret", "x", 400, "reserved"},
		{"empty event", "event=", "s3cret", "x", 400, "event is empty"},
		{"empty topic", "topic=", "s3cret", "x", 400, "topic is empty"},
		{"two topics", "topic=a&topic=b", "s3cret", "x", 400, "once"},
		{"unknown parameter", "id=5", "s3cret", "x", 400, "unknown parameter"},
		{"malformed query", "topic=%zz", "s3cret", "x", 400, "malformed"},
		{"body over the limit", "", "s3cret", strings.Repeat("x", 65), 413, "limit"},
		{"event name counted with the data", "event=update", "s3cret", strings.Repeat("x", 59), 413, "event name and data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, m, _ := post(t, ts.URL, tt.query, tt.token, tt.body)
			if status != tt.status {
				t.Errorf("status %d, want %d (%v)", status, tt.status, m)
			}
			if !strings.Contains(m["error"], tt.msg) {
				t.Errorf("error %q does not mention %q", m["error"], tt.msg)
			}
		})
	}
	if n := svc.broker.Stats().Published; n != 0 {
		t.Fatalf("%d events were published by bad requests", n)
	}

	// A name and body exactly at the limit, with the right token, is
	// published.
	status, m, _ := post(t, ts.URL, "topic=news&event=update", "s3cret", strings.Repeat("x", 64-len("update")))
	if status != 200 || m["id"] == "" {
		t.Fatalf("good publish: %d %v", status, m)
	}
	if n := svc.broker.Stats().Published; n != 1 {
		t.Fatalf("Published = %d, want 1", n)
	}

	resp, err := http.Get(ts.URL + "/publish")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "POST" {
		t.Errorf("GET /publish: %d Allow=%q, want 405 POST", resp.StatusCode, resp.Header.Get("Allow"))
	}

	// The stream is a GET: other methods get 405 from the broker, not the
	// app's 404 page.
	resp, err = http.Post(ts.URL+"/events", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Errorf("POST /events: %d, want 405", resp.StatusCode)
	}
}

// TestPublishReachesStream: a published body arrives on the topic's
// stream verbatim (line ends as LF), named as asked, with the answered ID.
func TestPublishReachesStream(t *testing.T) {
	ts, _ := newTestService(t, defaults(t))
	resp := openStream(t, ts.URL+"/events?topic=news")
	if resp.StatusCode != 200 {
		t.Fatalf("GET /events: %d", resp.StatusCode)
	}

	body := "line one\r\nline two\rline three\n\n: not a comment\nünïcödé ✓"
	status, m, _ := post(t, ts.URL, "topic=news&event=update", "", body)
	if status != 200 {
		t.Fatalf("publish: %d %v", status, m)
	}
	post(t, ts.URL, "topic=other", "", "not for us")
	status, m2, _ := post(t, ts.URL, "topic=news", "", "second")
	if status != 200 {
		t.Fatalf("publish: %d %v", status, m2)
	}

	d := sse.NewDecoder(resp.Body)
	e, err := d.Next()
	if err != nil {
		t.Fatal(err)
	}
	want := "line one\nline two\nline three\n\n: not a comment\nünïcödé ✓"
	if e.Data != want || e.Name != "update" || e.ID != m["id"] {
		t.Fatalf("got %+v\nwant data %q, event update, id %q", e, want, m["id"])
	}
	e, err = d.Next()
	if err != nil {
		t.Fatal(err)
	}
	if e.Data != "second" || e.Name != "" || e.ID != m2["id"] {
		t.Fatalf("second event %+v, want unnamed \"second\" with id %q", e, m2["id"])
	}
}

func TestCORS(t *testing.T) {
	ts, _ := newTestService(t, defaults(t, "-allow-origin", "https://app.example"))
	tests := []struct {
		origin, wantOrigin, wantCreds, wantExpose string
	}{
		{"https://app.example", "https://app.example", "true", "Idempotent-Replayed, Retry-After"},
		{"https://evil.example", "", "", ""},
		{"", "", "", ""},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest("GET", ts.URL+"/healthz", nil)
		if tt.origin != "" {
			req.Header.Set("Origin", tt.origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != tt.wantOrigin {
			t.Errorf("origin %q: Allow-Origin %q, want %q", tt.origin, got, tt.wantOrigin)
		}
		if got := resp.Header.Get("Access-Control-Allow-Credentials"); got != tt.wantCreds {
			t.Errorf("origin %q: Allow-Credentials %q, want %q", tt.origin, got, tt.wantCreds)
		}
		// The wasm client reads Retry-After when its probe meets a 429 or 503.
		if got := resp.Header.Get("Access-Control-Expose-Headers"); got != tt.wantExpose {
			t.Errorf("origin %q: Expose-Headers %q, want %q", tt.origin, got, tt.wantExpose)
		}
	}
	// Preflight for a publish with a token.
	req, _ := http.NewRequest("OPTIONS", ts.URL+"/publish", nil)
	req.Header.Set("Origin", "https://app.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "authorization")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 || !strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}

	// "*" never goes with credentials.
	ts2, _ := newTestService(t, defaults(t, "-allow-origin", "*"))
	req, _ = http.NewRequest("GET", ts2.URL+"/healthz", nil)
	req.Header.Set("Origin", "https://any.example")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Access-Control-Allow-Origin") != "*" || resp.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("wildcard: %v", resp.Header)
	}
}

func TestFlags(t *testing.T) {
	t.Setenv(tokenEnv, "from-env")
	tests := []struct {
		args    []string
		wantErr string
	}{
		{nil, ""},
		{[]string{"-allow-origin", "https://a.example/"}, "want an origin"},
		{[]string{"-allow-origin", "a.example"}, "want an origin"},
		{[]string{"-tls-cert", "c.pem"}, "go together"},
		{[]string{"-max-event-size", "0"}, "positive"},
	}
	for _, tt := range tests {
		cfg, err := parseFlags(tt.args, io.Discard)
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("%q: %v", tt.args, err)
			}
			if cfg.publishToken != "from-env" {
				t.Errorf("token %q, want it from $%s", cfg.publishToken, tokenEnv)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%q: err %v, want %q", tt.args, err, tt.wantErr)
		}
	}
}

// FuzzPublishParams: any query either is refused (by the parser, or by
// the broker, the one validator of events) or publishes a name that
// cannot break the stream; it never panics.
func FuzzPublishParams(f *testing.F) {
	for _, s := range []string{"", "topic=a", "event=x", "event=a%0Db", "topic=a&event=b", "event=sse.gap", "a=%zz", "event=%00", "topic=" + url.QueryEscape("ü ✓")} {
		f.Add(s)
	}
	b, err := sse.New(sse.Options{HistorySize: 1})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { b.Shutdown(context.Background()) })
	f.Fuzz(func(t *testing.T, raw string) {
		p, err := parsePublishParams(raw, "default")
		if err != nil {
			return
		}
		if _, err := b.Publish(context.Background(), p.Topic, sse.Event{Name: p.Event}); err != nil {
			return
		}
		if strings.ContainsAny(p.Event, "\r\n\x00") || strings.HasPrefix(p.Event, "sse.") {
			t.Fatalf("accepted event name %q", p.Event)
		}
		if p.Topic == "" {
			t.Fatal("accepted an empty topic")
		}
	})
}
