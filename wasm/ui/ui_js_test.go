//go:build js && wasm

// These tests run in the browser (TestBrowser, natively, runs them through
// wasmbrowsertest): the pages are mounted in the document with go-app's
// test engine, without a server, and their handlers are driven with
// typed values as their streams would drive them.

package ui

import (
	"strings"
	"sync/atomic"
	"syscall/js"
	"testing"
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"
	"github.com/ssewasm/ssewasm/shared/demo"
	"github.com/ssewasm/ssewasm/shared/protocol"
	"github.com/ssewasm/ssewasm/wasm/eventsource"
	"github.com/ssewasm/ssewasm/wasm/internal/jstest"
)

// chatUnderTest is the chat page without the request of its OnMount,
// which would ask a server who is signed in: it keeps the component's
// context only, to drive the page's handlers with.
type chatUnderTest struct{ Chat }

func (c *chatUnderTest) OnMount(ctx app.Context) { c.ctx = ctx }

// liveUnderTest is the live page without its stream.
type liveUnderTest struct {
	Live
	ctx app.Context
}

func (c *liveUnderTest) OnMount(ctx app.Context) { c.ctx = ctx }

// blank replaces a page under test. Its OnMount is a dispatch, which
// wakes a pump.
type blank struct{ app.Compo }

func (*blank) OnMount(app.Context) {}
func (*blank) Render() app.UI      { return el("div") }

// mountPage loads comp into the document with a test engine and runs its
// OnMount; the page is dismounted when t ends.
func mountPage(t *testing.T, comp app.Composer) app.TestEngine {
	t.Helper()
	e := app.NewTestEngine()
	if err := e.Load(comp); err != nil {
		t.Fatalf("Load: %v", err)
	}
	e.ConsumeNext() // OnMount
	t.Cleanup(func() {
		if err := e.Load(&blank{}); err != nil {
			t.Errorf("Load: %v", err)
		}
		e.ConsumeAll()
	})
	return e
}

// drive runs fn on the page's UI goroutine, as a stream's handler runs
// (in a dispatch of the page's context), then renders the page.
func drive(e app.TestEngine, ctx app.Context, fn func(app.Context)) {
	ctx.Dispatch(fn)
	e.ConsumeNext()
}

func byID(id string) js.Value {
	return js.Global().Get("document").Call("getElementById", id)
}

// text returns the text of the element with id; "<none>" if there is none.
func text(id string) string {
	el := byID(id)
	if el.IsNull() {
		return "<none>"
	}
	return el.Get("textContent").String()
}

// shown reports whether the element with id is in the document and not
// hidden.
func shown(id string) bool {
	el := byID(id)
	return !el.IsNull() && !el.Get("hidden").Bool()
}

// items returns the text and class of each li of the list with id.
func items(id string) (texts, classes []string) {
	lis := byID(id).Call("querySelectorAll", "li")
	for i := range lis.Length() {
		texts = append(texts, lis.Index(i).Get("textContent").String())
		classes = append(classes, lis.Index(i).Get("className").String())
	}
	return texts, classes
}

func TestChatPage(t *testing.T) {
	c := &chatUnderTest{}
	e := mountPage(t, c)
	if got := text("who"); got != "Asking who is signed in…" {
		t.Errorf("#who = %q before the session is known", got)
	}
	if !shown("signin-form") || shown("signout") || shown("room") {
		t.Errorf("signed out: sign-in form %v, sign-out %v, room %v; want only the form", shown("signin-form"), shown("signout"), shown("room"))
	}
	if got := js.Global().Get("document").Call("querySelector", `label[for="name"]`); got.IsNull() || !strings.Contains(got.Get("textContent").String(), "no password") {
		t.Errorf("the name field has no label saying it is a demo without a password")
	}

	drive(e, c.ctx, func(app.Context) { c.setSession(demo.Session{Subject: "alice"}); c.checked = true })
	if got := text("who"); got != "Signed in as alice" {
		t.Errorf("#who = %q, want Signed in as alice", got)
	}
	if shown("signin-form") || !shown("signout") || !shown("say-form") || !shown("private-form") {
		t.Errorf("signed in: sign-in form %v, sign-out %v, forms %v %v", shown("signin-form"), shown("signout"), shown("say-form"), shown("private-form"))
	}

	drive(e, c.ctx, func(ctx app.Context) {
		c.onRoom(ctx, demo.ChatMessage{From: "bob", Text: "hi <b>all</b>"}, "ep-1")
		c.onPrivate(ctx, demo.PrivateMessage{From: "bob", To: "alice", Text: "psst"}, "ep-2")
		c.onPrivate(ctx, demo.PrivateMessage{From: "alice", To: "bob", Text: "hush"}, "ep-3")
	})
	if texts, _ := items("room"); len(texts) != 1 || texts[0] != "bob: hi <b>all</b>" {
		t.Errorf("#room shows %q", texts)
	}
	if n := byID("room").Call("querySelectorAll", "b").Length(); n != 0 {
		t.Errorf("a message was rendered as HTML")
	}
	if id := byID("room").Call("querySelector", "li").Get("dataset").Get("id").String(); id != "ep-1" {
		t.Errorf("the room message's data-id = %q, want ep-1", id)
	}
	texts, classes := items("private")
	if strings.Join(texts, "|") != "from bob: psst|to bob: hush (sent)" || strings.Join(classes, "|") != "message received|message sent" {
		t.Errorf("#private shows %q with classes %q", texts, classes)
	}

	drive(e, c.ctx, func(ctx app.Context) {
		c.onExpired(ctx, protocol.Expired{Topics: []string{"room", "user/alice"}})
		c.onState(eventsource.StateConnecting, nil)
	})
	if got := text("notice"); got != "Session expired: renewing it…" || !shown("notice") {
		t.Errorf("#notice = %q (shown %v) on expiry", got, shown("notice"))
	}
	drive(e, c.ctx, func(app.Context) { c.onState(eventsource.StateOpen, nil) })
	if got := text("notice"); got != "Session renewed: the stream resumed where it stopped." {
		t.Errorf("#notice = %q once the stream reopened", got)
	}
	if got := text("state"); got != "open" {
		t.Errorf("#state = %q, want open", got)
	}

	drive(e, c.ctx, func(ctx app.Context) { c.onRevoked(ctx, protocol.Revoked{Topics: []string{"room", "user/alice"}}) })
	if got := text("notice"); got != "Signed out: private messages stopped (room, user/alice)." {
		t.Errorf("#notice = %q after the revocation", got)
	}
	if text("who") != "Not signed in" || !shown("signin-form") || shown("private") {
		t.Errorf("after the revocation: #who %q, sign-in form %v, private list %v", text("who"), shown("signin-form"), shown("private"))
	}
}

// TestChatSendShowsError: typing in the room's form and submitting it
// calls the Say action; wasmbrowsertest's server has no actions, so the
// page shows the error, and the field is emptied.
func TestChatSendShowsError(t *testing.T) {
	c := &chatUnderTest{}
	e := mountPage(t, c)
	drive(e, c.ctx, func(app.Context) { c.setSession(demo.Session{Subject: "alice"}) })

	field := byID("say-text")
	field.Set("value", "hello room")
	field.Call("dispatchEvent", js.Global().Get("Event").New("input"))
	e.ConsumeNext() // the input handler
	if c.say != "hello room" {
		t.Fatalf("the draft is %q after typing", c.say)
	}
	// A synthetic submit event runs the form's handler without submitting
	// the form, which would navigate away from the test page.
	byID("say-form").Call("dispatchEvent", js.Global().Get("Event").New("submit", map[string]any{"cancelable": true}))
	e.ConsumeNext() // the submit handler: the action goes out
	e.ConsumeNext() // its answer
	if got := text("error"); !strings.HasPrefix(got, "Not sent: ") || !strings.Contains(got, "/action/say") || !shown("error") {
		t.Errorf("#error = %q (shown %v), want the failed call to /action/say", got, shown("error"))
	}
	if v := field.Get("value").String(); v != "" || c.say != "" {
		t.Errorf("the field holds %q (draft %q) after sending", v, c.say)
	}

	// A recipient that is not a user name is refused before any request.
	drive(e, c.ctx, func(app.Context) { c.to, c.text = "Bob/../carol", "hi" })
	byID("private-form").Call("dispatchEvent", js.Global().Get("Event").New("submit", map[string]any{"cancelable": true}))
	e.ConsumeNext()
	if got := text("error"); !strings.HasPrefix(got, "To: ") || !strings.Contains(got, "user name") {
		t.Errorf("#error = %q for a bad recipient", got)
	}
}

func TestLivePage(t *testing.T) {
	c := &liveUnderTest{}
	e := mountPage(t, c)
	drive(e, c.ctx, func(ctx app.Context) {
		c.addBoard(demo.BoardMessage{Text: "first"}, "ep-1")
		c.addBoard(demo.BoardMessage{Text: "<i>second</i>"}, "ep-2")
		c.onGap(ctx, protocol.Gap{LastEventID: "old-4", Reason: protocol.GapExpired}, "ep-2")
	})
	if texts, _ := items("board"); strings.Join(texts, "|") != "<i>second</i>|first" {
		t.Errorf("#board shows %q, want the newest first, as text", texts)
	}
	if got := text("notice"); got != `The server could not replay from "old-4" (expired).` || !shown("notice") {
		t.Errorf("#notice = %q (shown %v) after the gap", got, shown("notice"))
	}
}

// TestChatSignInAgain: a stream refused with 401 signs the page out; when
// the same user signs in again, the failed stream is reopened, not
// replaced, so that it resumes after its last event ID; another user gets
// a new stream and empty lists. The stream goes to wasmbrowsertest's
// server, which answers an empty 200 that the browser refuses; the
// stream's status probe is answered 401 here.
func TestChatSignInAgain(t *testing.T) {
	restore := jstest.Func(`
const orig = window.fetch;
window.fetch = function (url, init) {
	if (init?.headers?.Accept === "text/event-stream") return Promise.resolve(new Response(null, { status: 401, statusText: "Unauthorized" }));
	return orig.apply(this, arguments);
};
return () => { window.fetch = orig; };`).Invoke()
	defer restore.Invoke()
	c := &chatUnderTest{}
	e := mountPage(t, c)
	stop := pump(e)
	defer stop()
	run := func(fn func()) {
		done := make(chan struct{})
		c.ctx.Dispatch(func(app.Context) { fn(); close(done) })
		<-done
	}
	run(func() {
		c.checked = true // as OnMount's request would
		c.signedIn(demo.Session{Subject: "alice"})
		c.onRoom(app.Context{}, demo.ChatMessage{From: "bob", Text: "hi"}, "ep-1")
	})
	waitFor(t, "the stream to fail", func() bool { return text("state") == "failed: 401 Unauthorized" })
	if got := text("notice"); got != "The server refused the stream with 401 Unauthorized: sign in again." || text("who") != "Not signed in" {
		t.Errorf("after the 401: #notice %q, #who %q; want signed out", got, text("who"))
	}
	var first *eventsource.Source
	run(func() {
		first = c.stream.Source()
		c.signedIn(demo.Session{Subject: "alice"})
	})
	if got := first.Stats().Reopens; got != 1 {
		t.Errorf("the failed stream reopened %d times when alice signed in again, want once", got)
	}
	var same bool
	var lines int
	run(func() { same, lines = c.stream.Source() == first, len(c.room) })
	if !same || lines != 1 {
		t.Errorf("alice again: same stream %v, %d room lines; want the same stream, the line kept", same, lines)
	}
	run(func() {
		c.signedIn(demo.Session{Subject: "bob"})
		same, lines = c.stream != nil && c.stream.Source() == first, len(c.room)
	})
	if same || lines != 0 || first.ReadyState() != eventsource.StateClosed {
		t.Errorf("bob: same stream %v, %d room lines, alice's stream %v; want a new stream, no lines, alice's closed", same, lines, first.ReadyState())
	}
}

// pump runs the engine's dispatches and frames on a goroutine of its own,
// as the app's engine does, until stop.
func pump(e app.TestEngine) (stop func()) {
	var stopping atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !stopping.Load() {
			e.ConsumeNext()
		}
	}()
	return func() {
		stopping.Store(true)
		e.Load(&blank{}) // its render wakes the loop
		<-done
	}
}

// waitFor polls ok for up to 15 s.
func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 15 s: #state %q, #notice %q", what, text("state"), text("notice"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCurrentSession: a page opened after its session's cookie expired
// renews it once (GET /session answers 401, POST /session/renew the
// session) instead of asking the user to sign in again; a renewal that
// is refused too is the error the page shows. The server is a stand-in
// of fetch that records the requests.
func TestCurrentSession(t *testing.T) {
	tests := []struct {
		name    string
		renew   int // the renewal's status
		want    string
		wantErr bool
	}{
		{"renewed", 200, "alice", false},
		{"past its maximum age", 401, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := js.Global().Get("Array").New()
			restore := jstest.Func(`
const orig = window.fetch;
const json = (status, v) => Promise.resolve(new Response(JSON.stringify(v), { status, headers: { "Content-Type": "application/json" } }));
window.fetch = function (url, init) {
	const path = new URL(url, location.href).pathname;
	log.push((init?.method ?? "GET") + " " + path);
	if (path === "/session") return json(401, { error: { code: "unauthorized", message: "session: the session expired: renew it" } });
	if (path === "/session/renew") return renew === 200 ? json(200, { subject: "alice", expires: Date.now() + 60000 }) : json(renew, { error: { code: "unauthorized", message: "session: too old: sign in again" } });
	return orig.apply(this, arguments);
};
return () => { window.fetch = orig; };`, "log", "renew").Invoke(log, tt.renew)
			defer restore.Invoke()
			s, err := currentSession(t.Context())
			if (err != nil) != tt.wantErr || s.Subject != tt.want {
				t.Errorf("currentSession = %+v, %v; want subject %q, error %v", s, err, tt.want, tt.wantErr)
			}
			if tt.wantErr && statusOf(err) != 401 {
				t.Errorf("the refused renewal's error %v has status %d, want 401", err, statusOf(err))
			}
			var reqs []string
			for i := range log.Length() {
				reqs = append(reqs, log.Index(i).String())
			}
			if got := strings.Join(reqs, ", "); got != "GET /session, POST /session/renew" {
				t.Errorf("requests: %s; want GET /session, then one POST /session/renew", got)
			}
		})
	}
}
