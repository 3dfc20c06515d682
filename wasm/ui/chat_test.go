package ui

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"
	"github.com/ssewasm/ssewasm/shared/action"
	"github.com/ssewasm/ssewasm/shared/demo"
	"github.com/ssewasm/ssewasm/shared/protocol"
	"github.com/ssewasm/ssewasm/wasm/eventsource"
)

// These tests drive the pages' handlers with typed values, as their
// streams and requests would, and check what the pages render; they run
// natively and, through TestBrowser, in the browser. The handlers never
// use their app.Context, which is zero here.

// render returns the HTML of c's page.
func render(c app.Composer) string { return app.HTMLString(c.Render()) }

// mustContain fails t unless html holds every part.
func mustContain(t *testing.T, html string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(html, p) {
			t.Errorf("the page does not show %q:\n%s", p, html)
		}
	}
}

// mustNotContain fails t if html holds a part.
func mustNotContain(t *testing.T, html string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if strings.Contains(html, p) {
			t.Errorf("the page shows %q:\n%s", p, html)
		}
	}
}

func TestChatSignedOut(t *testing.T) {
	c := &Chat{}
	html := render(c)
	mustContain(t, html, "Asking who is signed in", `id="signin-form"`, `action="/login"`, `method="post"`,
		`<label for="name">Name (demo, no password)</label>`, `name="name"`, "no password, so anyone can use any name")
	mustNotContain(t, html, `id="room"`, `id="say-form"`, `id="private-form"`)
	c.checked = true
	mustContain(t, render(c), `<span id="who">Not signed in</span>`)
}

func TestChatSignedIn(t *testing.T) {
	c := &Chat{checked: true}
	c.setSession(demo.Session{Subject: "alice"})
	var ctx app.Context
	c.onRoom(ctx, demo.ChatMessage{From: "bob", Text: "hi <b>all</b>", At: 1}, "ep-1")
	c.onPrivate(ctx, demo.PrivateMessage{From: "bob", To: "alice", Text: "psst", At: 2}, "ep-2")
	c.onPrivate(ctx, demo.PrivateMessage{From: "alice", To: "bob", Text: "hush", At: 3}, "ep-3")
	html := render(c)
	mustContain(t, html, `<span id="who">Signed in as alice</span>`,
		`id="room"`, `data-id="ep-1"`, "bob: hi &lt;b&gt;all&lt;/b&gt;",
		`class="message received"`, "from bob: psst",
		`class="message sent"`, "to bob: hush (sent)",
		`<label for="say-text">Say</label>`, `<label for="to">To</label>`, `<label for="private-text">Message</label>`)
	mustNotContain(t, html, `id="signin-form"`, "<b>all</b>")
	if got := c.private; len(got) != 2 || got[0].Sent || !got[1].Sent {
		t.Errorf("private lines %+v: want the received one, then the sent one", got)
	}
	// Another user signs in: the lists start empty.
	c.setSession(demo.Session{Subject: "carol"})
	if len(c.room) != 0 || len(c.private) != 0 {
		t.Errorf("carol sees alice's messages: %+v %+v", c.room, c.private)
	}
}

func TestChatKeepsTheNewest(t *testing.T) {
	c := &Chat{me: "alice"}
	for i := range maxChat + 5 {
		c.onRoom(app.Context{}, demo.ChatMessage{From: "bob", Text: fmt.Sprint(i)}, fmt.Sprint("ep-", i))
	}
	if len(c.room) != maxChat || c.room[0].Text != "5" || c.room[maxChat-1].Text != fmt.Sprint(maxChat+4) {
		t.Errorf("%d lines, from %q to %q; want the newest %d", len(c.room), c.room[0].Text, c.room[len(c.room)-1].Text, maxChat)
	}
}

// TestChatSession: what the page says as the stream's session is revoked,
// expires and is renewed, or fails.
func TestChatSession(t *testing.T) {
	var ctx app.Context
	t.Run("revoked", func(t *testing.T) {
		c := &Chat{me: "alice", checked: true, pageStream: pageStream{state: eventsource.StateOpen, opened: true}}
		c.onRevoked(ctx, protocol.Revoked{Topics: []string{"room", "user/alice"}})
		html := render(c)
		mustContain(t, html, "Signed out: private messages stopped (room, user/alice).", "Not signed in", `id="signin-form"`)
		if c.me != "" || c.state != eventsource.StateClosed {
			t.Errorf("after revocation: me %q, state %v; want signed out, closed", c.me, c.state)
		}
	})
	t.Run("expired and renewed", func(t *testing.T) {
		c := &Chat{me: "alice", pageStream: pageStream{state: eventsource.StateOpen, opened: true}}
		c.onExpired(ctx, protocol.Expired{Topics: []string{"room", "user/alice"}})
		c.onState(eventsource.StateConnecting, nil)
		mustContain(t, render(c), "Session expired: renewing it…", "closed, reconnecting")
		c.onState(eventsource.StateOpen, nil)
		mustContain(t, render(c), "Session renewed: the stream resumed where it stopped.", `class="badge state-open"`)
		if c.me != "alice" {
			t.Errorf("signed out by a renewal: me %q", c.me)
		}
	})
	for _, tc := range []struct {
		name      string
		err       error
		badge     string
		notice    string
		signedOut bool
	}{
		{"renewal failed", &eventsource.RenewError{Err: errors.New("401")}, "failed: a session that could not be renewed",
			"Your session expired and could not be renewed: sign in again.", true},
		{"401", &eventsource.StatusError{Code: 401, Status: "401 Unauthorized"}, "failed: 401 Unauthorized",
			"The server refused the stream with 401 Unauthorized: sign in again.", true},
		{"404", &eventsource.StatusError{Code: 404, Status: "404 Not Found"}, "failed: 404 Not Found",
			"The server refused the stream with 404 Not Found: reload the page.", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Chat{me: "alice", checked: true, pageStream: pageStream{state: eventsource.StateOpen, opened: true}}
			c.onState(eventsource.StateFailed, tc.err)
			mustContain(t, render(c), tc.badge, tc.notice)
			if signedOut := c.me == ""; signedOut != tc.signedOut {
				t.Errorf("signed out: %v, want %v", signedOut, tc.signedOut)
			}
		})
	}
}

func TestErrorWords(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{action.RateLimited("too many messages", 3*time.Second), "429 rate_limited: too many messages (retry in 3s)"},
		{action.Unauthorized("sign in first"), "401 unauthorized: sign in first"},
		{&action.Error{Status: 500, Code: action.CodeInternal}, "500 internal"},
		{errors.New("call: no answer"), "call: no answer"},
	} {
		if got := errorWords(tc.err); got != tc.want {
			t.Errorf("errorWords(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
	c := &Chat{me: "alice"}
	c.sent(action.Forbidden("you may only write as yourself"))(app.Context{})
	mustContain(t, render(c), `role="alert"`, "Not sent: 403 forbidden: you may only write as yourself")
	c.sent(nil)(app.Context{})
	if tag := openingTag(render(c), "error"); !strings.Contains(tag, " hidden") {
		t.Errorf("after a success the error is shown: %s", tag)
	}
}

// openingTag returns the opening tag of the element with id in html
// (go-app writes attributes in any order), or "".
func openingTag(html, id string) string {
	i := strings.Index(html, `id="`+id+`"`)
	if i < 0 {
		return ""
	}
	start := strings.LastIndexByte(html[:i], '<')
	end := strings.IndexByte(html[i:], '>')
	return html[start : i+end+1]
}

func TestLiveBoardAndGap(t *testing.T) {
	c := &Live{}
	c.addBoard(demo.BoardMessage{Text: "hello <i>board</i>"}, "ep-7")
	c.addBoard(demo.BoardMessage{Text: "hello <i>board</i>"}, "ep-7") // replayed after a reopen
	c.onGap(app.Context{}, protocol.Gap{LastEventID: "old-3", Reason: protocol.GapExpired}, "ep-9")
	html := render(c)
	mustContain(t, html, `data-id="ep-7"`, "hello &lt;i&gt;board&lt;/i&gt;",
		`The server could not replay from &#34;old-3&#34; (expired).`)
	if n := strings.Count(html, `data-id="ep-7"`); n != 1 {
		t.Errorf("the board shows ep-7 %d times, want once", n)
	}
}

func TestStreamLabel(t *testing.T) {
	for _, tc := range []struct {
		state       eventsource.State
		opened      bool
		class, text string
	}{
		{eventsource.StateConnecting, false, "connecting", "connecting"},
		{eventsource.StateOpen, true, "open", "open"},
		{eventsource.StateConnecting, true, "closed", "closed, reconnecting"},
		{eventsource.StateClosed, true, "closed", "closed"},
		{eventsource.StateFailed, true, "failed", "failed: 401 Unauthorized"},
	} {
		class, text := streamLabel(tc.state, tc.opened, "401 Unauthorized")
		if class != tc.class || text != tc.text {
			t.Errorf("streamLabel(%v, %v) = %q, %q; want %q, %q", tc.state, tc.opened, class, text, tc.class, tc.text)
		}
	}
	if got := failedWords(errors.New("other")); got != "a status that will not change" {
		t.Errorf("failedWords(other) = %q", got)
	}
}
