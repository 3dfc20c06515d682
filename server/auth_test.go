package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ssewasm/ssewasm/internal/testlog"
	"github.com/ssewasm/ssewasm/server/session"
	"github.com/ssewasm/ssewasm/server/sse"
	"github.com/ssewasm/ssewasm/shared/demo"
	"github.com/ssewasm/ssewasm/shared/protocol"
)

// testKey is the -session-key of the tests: they mint cookies and
// tickets with it (session.New) to play the hostile cases.
var testKey = strings.Repeat("5e", 32)

// testSessions is a session manager with the tests' key whose clock is
// now+skew: its cookies and tickets are as the server's would be then.
func testSessions(t *testing.T, key string, skew time.Duration) *session.Manager {
	t.Helper()
	k, err := hex.DecodeString(key)
	if err != nil {
		t.Fatal(err)
	}
	m, err := session.New(session.Options{Keys: [][]byte{k}, Once: func(context.Context, string) (bool, error) { return true, nil },
		Now: func() time.Time { return time.Now().Add(skew) }})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// clientFrom returns an HTTP client whose connections come from the
// loopback address ip (a client address of its own), with no idle
// connection kept, and that does not follow redirects.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{
		Transport:     &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       10 * time.Second,
	}
}

var localClient = clientFrom("127.0.0.1")

// do sends req with cookie (if not nil) and returns the status, the body
// and the response's cookies; a stream's body is not read: it is closed
// at once.
func do(t *testing.T, c *http.Client, req *http.Request, cookie *http.Cookie) (int, string, []*http.Cookie) {
	t.Helper()
	if cookie != nil {
		req.AddCookie(cookie)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Type") == "text/event-stream" {
		return resp.StatusCode, "", resp.Cookies()
	}
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Cookies()
}

// postForm POSTs form to base+path, as a fetch that accepts JSON when
// json is set, or as a browser's form.
func postForm(base, path string, form url.Values, json bool) *http.Request {
	req, _ := http.NewRequest("POST", base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if json {
		req.Header.Set("Accept", "application/json")
	}
	return req
}

// login signs name in from c and returns the session cookie.
func login(t *testing.T, c *http.Client, base, name string) *http.Cookie {
	t.Helper()
	status, body, cookies := do(t, c, postForm(base, loginPath, url.Values{"name": {name}}, true), nil)
	var s demo.Session
	if status != http.StatusOK || json.Unmarshal([]byte(body), &s) != nil || s.Subject != name || len(cookies) != 1 {
		t.Fatalf("login %s: %d %s %v", name, status, body, cookies)
	}
	return cookies[0]
}

// openEvents opens /events?query with cookie and returns its status;
// an open stream is closed when the test ends.
func openEvents(t *testing.T, base, query string, cookie *http.Cookie) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/events?"+query, nil)
	if cookie != nil {
		req.AddCookie(cookie)
	}
	resp, err := localClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body := ""
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
	}
	return resp.StatusCode, body
}

// metric reads ssewasm_refused_total{reason} from /metrics.
func metric(t *testing.T, base, reason string) uint64 {
	t.Helper()
	_, body, _ := do(t, localClient, mustRequest("GET", base+"/metrics"), nil)
	m := regexp.MustCompile(`ssewasm_refused_total\{reason="` + regexp.QuoteMeta(reason) + `"\} (\d+)`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("/metrics has no refused_total for %s", reason)
	}
	n, _ := strconv.ParseUint(m[1], 10, 64)
	return n
}

func mustRequest(method, url string) *http.Request {
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		panic(err)
	}
	return req
}

// TestSignIn walks the HTTP contract of docs/protocol.md: sign in (JSON
// for a fetch, 303 for a form), who am I, a private stream, renew, a
// ticket, sign out, and a signed-out cookie everywhere.
func TestSignIn(t *testing.T) {
	ts, svc := newHostileServer(t, defaults(t, "-session-key", testKey, "-session-lifetime", "1m"), quiet)
	base := ts.URL

	// A plain form: 303 to the chat page, with the cookie.
	status, _, cookies := do(t, localClient, postForm(base, loginPath, url.Values{"name": {"carol"}}, false), nil)
	if status != http.StatusSeeOther || len(cookies) != 1 {
		t.Fatalf("form sign-in: %d %v", status, cookies)
	}
	c := cookies[0]
	if c.Name != "ssewasm_session" || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Secure {
		t.Errorf("cookie %+v: want ssewasm_session, HttpOnly, SameSite=Lax, Path=/, not Secure over plain HTTP", c)
	}
	alice := login(t, localClient, base, "alice")

	// Who am I.
	var s demo.Session
	_, body, _ := do(t, localClient, mustRequest("GET", base+sessionPath), alice)
	if json.Unmarshal([]byte(body), &s) != nil || s.Subject != "alice" || time.Until(time.UnixMilli(s.Expires)) <= 0 {
		t.Errorf("GET /session: %s", body)
	}
	if _, body, _ := do(t, localClient, mustRequest("GET", base+sessionPath), nil); strings.TrimSpace(body) != `{"subject":""}` {
		t.Errorf("GET /session without a cookie: %s", body)
	}

	// Her inbox, and a private message to it through an action.
	req, _ := http.NewRequest("GET", base+"/events?topic=room&topic=user/alice&topic=board", nil)
	req.AddCookie(alice)
	resp, err := localClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("alice's stream: %v %v", resp, err)
	}
	defer resp.Body.Close()
	d := sse.NewDecoder(bufio.NewReader(resp.Body))
	bob := login(t, localClient, base, "bob")
	act := func(cookie *http.Cookie, path, body string) (int, string) {
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		status, answer, _ := do(t, localClient, req, cookie)
		return status, answer
	}
	if status, body := act(bob, demo.SendPrivate.Path(), `{"to":"alice","text":"hi alice"}`); status != 200 || !strings.Contains(body, `"id"`) {
		t.Fatalf("send-private: %d %s", status, body)
	}
	e, err := d.Next()
	var pm demo.PrivateMessage
	if err != nil || e.Name != "private" || json.Unmarshal([]byte(e.Data), &pm) != nil || pm.From != "bob" || pm.To != "alice" || pm.Text != "hi alice" {
		t.Fatalf("alice got %+v %v", e, err)
	}
	if status, _ := act(bob, demo.Say.Path(), `{"text":"hello room"}`); status != 200 {
		t.Errorf("say: %d", status)
	}
	if e, err := d.Next(); err != nil || e.Name != "chat" || !strings.Contains(e.Data, `"from":"bob"`) {
		t.Errorf("the room: %+v %v", e, err)
	}
	if status, _ := act(nil, demo.Say.Path(), `{"text":"anonymous"}`); status != 401 {
		t.Errorf("say, anonymous: %d, want 401", status)
	}
	if status, _ := act(nil, demo.PostBoard.Path(), `{"text":"anyone may post"}`); status != 200 {
		t.Errorf("post-board, anonymous: %d, want 200", status)
	}
	if e, err := d.Next(); err != nil || e.Name != "board" || e.Data != "anyone may post" {
		t.Errorf("the board: %+v %v", e, err)
	}

	// Renew: a fresh cookie for the same session.
	status, body, cookies = do(t, localClient, postForm(base, renewPath, nil, true), alice)
	if status != 200 || len(cookies) != 1 || cookies[0].Value == alice.Value {
		t.Fatalf("renew: %d %s %v", status, body, cookies)
	}
	renewed := cookies[0]

	// A ticket opens one stream without the cookie.
	status, body, _ = do(t, localClient, postForm(base, ticketPath, nil, true), renewed)
	var tk ticketAnswer
	if status != 200 || json.Unmarshal([]byte(body), &tk) != nil || !strings.HasPrefix(tk.Ticket, "t1.") || time.Until(time.UnixMilli(tk.Expires)) > 31*time.Second {
		t.Fatalf("ticket: %d %s", status, body)
	}
	if status, _ := openEvents(t, base, "topic=user/alice&ticket="+url.QueryEscape(tk.Ticket), nil); status != 200 {
		t.Errorf("a stream with the ticket: %d", status)
	}

	// Sign-out: the open stream loses the room and her inbox, and keeps
	// the public board; her cookies are refused.
	status, body, cookies = do(t, localClient, postForm(base, logoutPath, nil, true), renewed)
	if status != 200 || strings.TrimSpace(body) != `{"subject":""}` || len(cookies) != 1 || cookies[0].MaxAge >= 0 {
		t.Fatalf("logout: %d %s %v", status, body, cookies)
	}
	for {
		e, err := d.Next()
		if err != nil {
			t.Fatal(err)
		}
		if e.Name == protocol.RevokedEvent {
			if e.Data != `{"topics":["room","user/alice"]}` {
				t.Errorf("sse.revoked %s", e.Data)
			}
			break
		}
	}
	act(bob, demo.Say.Path(), `{"text":"not for her any more"}`)
	act(nil, demo.PostBoard.Path(), `{"text":"public"}`)
	if e, err := d.Next(); err != nil || e.Data != "public" {
		t.Errorf("after sign-out, the board: %+v %v", e, err)
	}
	if status, body := openEvents(t, base, "topic=user/alice", alice); status != 401 || !strings.Contains(body, "revoked") {
		t.Errorf("the signed-out cookie on her inbox: %d %s", status, body)
	}
	if status, _ := act(alice, demo.Say.Path(), `{"text":"still here?"}`); status != 401 {
		t.Errorf("the signed-out cookie on an action: %d", status)
	}
	if status, _, _ := do(t, localClient, postForm(base, renewPath, nil, true), alice); status != 401 {
		t.Errorf("renewing a signed-out session: %d", status)
	}
	if svc.broker.Stats().Revocations != 1 {
		t.Errorf("stats %+v", svc.broker.Stats())
	}

	// Signing out again with the kept cookie revokes nothing more: no
	// message on the control topic takes a sequence number between two
	// publishes around the replays.
	seqOf := func() uint64 {
		t.Helper()
		id, err := sse.PublishTo(context.Background(), svc.broker, demo.BoardTopic, demo.BoardMessage{Text: "mark"})
		if err != nil {
			t.Fatal(err)
		}
		_, seq, err := protocol.ParseID(id)
		if err != nil {
			t.Fatal(err)
		}
		return seq
	}
	before := seqOf()
	for range 3 {
		if status, _, _ := do(t, localClient, postForm(base, logoutPath, nil, true), renewed); status != 200 {
			t.Fatalf("signing out again: %d", status)
		}
	}
	if after := seqOf(); after != before+1 {
		t.Errorf("3 sign-outs of a revoked session took %d sequence numbers, want none", after-before-1)
	}
}

// TestExpiryThenRenew: a stream whose session expires gets sse.expired
// and ends; the client renews its cookie (POST /session/renew) and
// reopens with its last event ID: it gets every event since, once.
func TestExpiryThenRenew(t *testing.T) {
	ts, svc := newHostileServer(t, defaults(t, "-session-key", testKey, "-session-lifetime", "1s"), quiet)
	base := ts.URL
	cookie := login(t, localClient, base, "alice")
	open := func(c *http.Cookie, lastID string) *sse.Decoder {
		req, _ := http.NewRequest("GET", base+"/events?topic=board&topic=user/alice", nil)
		req.AddCookie(c)
		if lastID != "" {
			req.Header.Set("Last-Event-ID", lastID)
		}
		resp, err := localClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("open: %v %v", resp, err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return sse.NewDecoder(bufio.NewReader(resp.Body))
	}
	d := open(cookie, "")
	ctx, stop := context.WithCancel(context.Background())
	published := make(chan int, 1)
	go func() { // a board message every 10 ms, numbered
		n := 0
		defer func() { published <- n }()
		for ; ctx.Err() == nil; n++ {
			if _, err := sse.PublishTo(ctx, svc.broker, demo.BoardTopic, demo.BoardMessage{Text: strconv.Itoa(n)}); err != nil {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	defer stop()
	next, lastID := 0, ""
	read := func(d *sse.Decoder, until func(sse.Event) bool) {
		for {
			e, err := d.Next()
			if err != nil {
				t.Fatal(err)
			}
			if until(e) {
				return
			}
			if e.Data != strconv.Itoa(next) {
				t.Fatalf("event %q, want %d: lost or doubled", e.Data, next)
			}
			next++
			lastID = e.ID
		}
	}
	read(d, func(e sse.Event) bool { return e.Name == protocol.ExpiredEvent })
	expiredAt := time.Now()
	if _, err := d.Next(); err == nil {
		t.Error("the stream goes on after sse.expired")
	}
	status, body, cookies := do(t, localClient, postForm(base, renewPath, nil, true), cookie)
	if status != 200 || len(cookies) != 1 {
		t.Fatalf("renew: %d %s", status, body)
	}
	d = open(cookies[0], lastID)
	resumed := next
	var firstAt time.Time
	read(d, func(sse.Event) bool {
		if firstAt.IsZero() {
			firstAt = time.Now()
		}
		return next >= resumed+20
	})
	t.Logf("%d events before the expiry; %v from sse.expired to the first event of the renewed stream; none lost or doubled", resumed, firstAt.Sub(expiredAt))
	if svc.broker.Stats().Expired != 1 {
		t.Errorf("stats %+v", svc.broker.Stats())
	}
	stop()
	<-published
}

// TestSessionKeyFlags: the key comes from -session-key, $SSEWASM_SESSION_KEY
// or -session-key-file (whose every key verifies), or is random with a
// warning; bad keys are refused with a message that names the flag.
func TestSessionKeyFlags(t *testing.T) {
	web, err := openWebDir(fakeWeb(t))
	if err != nil {
		t.Fatal(err)
	}
	other := strings.Repeat("a7", 32)
	file := t.TempDir() + "/keys"
	if err := os.WriteFile(file, []byte("# rotated in first\n"+testKey+"\n"+other+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		env     string
		args    []string
		want    string // in the error; "" for none
		warn    bool   // the random key's warning
		verify  string // a key whose cookies the service accepts
		refuses string // a key whose cookies it refuses
	}{
		{name: "flag", args: []string{"-session-key", testKey}, verify: testKey, refuses: other},
		{name: "environment", env: testKey, verify: testKey, refuses: other},
		{name: "file of two keys", args: []string{"-session-key-file", file}, verify: other},
		{name: "random", warn: true, refuses: testKey},
		{name: "short key", args: []string{"-session-key", "abcd"}, want: "-session-key"},
		{name: "both", args: []string{"-session-key", testKey, "-session-key-file", file}, want: "exclude each other"},
		{name: "missing file", args: []string{"-session-key-file", file + ".missing"}, want: "-session-key-file"},
		{name: "lifetime", args: []string{"-session-lifetime", "10ms"}, want: "-session-lifetime"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(sessionKeyEnv, tt.env)
			var logs testlog.Buffer
			log := slog.New(slog.NewTextHandler(&logs, nil))
			cfg, err := parseFlags(tt.args, io.Discard)
			var svc *service
			if err == nil {
				svc, err = newService(cfg, web, log)
			}
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("error %v, want one mentioning %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ts := httptest.NewServer(svc.handler)
			defer func() {
				svc.beginShutdown(time.Second, quiet)
				ts.Close()
			}()
			if warned := logs.Line("level=WARN", "random key") != ""; warned != tt.warn {
				t.Errorf("warned %v, want %v: %s", warned, tt.warn, logs.String())
			}
			for key, ok := range map[string]bool{tt.verify: true, tt.refuses: false} {
				if key == "" {
					continue
				}
				_, token, _ := testSessions(t, key, 0).Issue("alice")
				_, body, _ := do(t, localClient, mustRequest("GET", ts.URL+sessionPath), &http.Cookie{Name: "ssewasm_session", Value: token})
				if got := strings.Contains(body, `"subject":"alice"`); got != ok {
					t.Errorf("a cookie of key %.8s…: accepted %v, want %v (%s)", key, got, ok, body)
				}
			}
		})
	}
}
