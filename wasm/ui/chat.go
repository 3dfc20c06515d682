package ui

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"
	"github.com/ssewasm/ssewasm/shared/action"
	"github.com/ssewasm/ssewasm/shared/demo"
	"github.com/ssewasm/ssewasm/shared/protocol"
	"github.com/ssewasm/ssewasm/wasm/call"
	"github.com/ssewasm/ssewasm/wasm/eventsource"
	"github.com/ssewasm/ssewasm/wasm/eventsource/appstream"
)

// The paths of the chat page and of the binary's session endpoints
// (docs/protocol.md).
const (
	ChatPath    = "/chat"
	LoginPath   = "/login"         // POST, form field "name": signs in, answers a demo.Session
	LogoutPath  = "/logout"        // POST: revokes the session, in every tab
	SessionPath = "/session"       // GET: who is signed in, a demo.Session
	RenewPath   = "/session/renew" // POST: a fresh cookie for a session that expired
)

const (
	// nameField is the form field of LoginPath.
	nameField = "name"
	// maxChat bounds each list of messages, so that a tab left open for
	// days does not grow without end.
	maxChat = 200
)

// Chat is the /chat page: sign-in by name (a demo, without a password),
// a public room (demo.Room) and private messages (demo.Inbox) on one
// stream, sent through typed actions (demo.Say, demo.SendPrivate). A
// private message reaches the recipient's tabs and, marked as sent, the
// sender's. Signing out in one tab revokes the session: every tab of it
// gets the revoked event and says so. A session that expires is renewed
// by the stream, which resumes where it stopped.
type Chat struct {
	app.Compo

	// ctx is the component's context, from OnMount: the stream dispatches
	// its events through it. An element's context, such as a form's in its
	// submit handler, drops every dispatch once the element is gone (the
	// sign-in form, once signed in).
	ctx app.Context
	pageStream

	me       string // the signed-in user; "" when nobody is
	owner    string // whose messages the lists and the stream hold
	checked  bool   // the server said who is signed in (or could not)
	renewing bool   // the session expired and the stream renews it

	room    []chatLine // oldest first
	private []chatLine // oldest first

	name, say, to, text string // the forms' fields

	notice string // about the session and the stream
	err    string // the last request's error
}

// chatLine is one message shown.
type chatLine struct {
	ID, From, To, Text string
	Sent               bool // a private message this user sent
}

// OnMount asks the server who is signed in, and opens the stream if
// somebody is.
func (c *Chat) OnMount(ctx app.Context) {
	c.ctx = ctx
	background(ctx, func(rctx context.Context) func(app.Context) {
		s, err := currentSession(rctx)
		return func(ctx app.Context) {
			c.checked = true
			switch {
			case statusOf(err) == http.StatusUnauthorized:
				c.notice = "Your session ended and could not be renewed: sign in again."
				return
			case err != nil:
				c.notice = "Cannot tell who is signed in: " + errorWords(err)
				return
			}
			c.signedIn(s)
		}
	})
}

// currentSession asks the server who is signed in. A cookie that expired
// while no page had a stream open is answered 401; it is renewed once,
// as a stream renews it, so that a returning user need not sign in
// again within the session's maximum age.
func currentSession(ctx context.Context) (demo.Session, error) {
	s, err := call.Fetch[demo.Session](ctx, "GET", SessionPath, nil)
	if statusOf(err) == http.StatusUnauthorized {
		return call.Fetch[demo.Session](ctx, "POST", RenewPath, nil)
	}
	return s, err
}

// statusOf is the HTTP status of a call's error answer (the session
// endpoints answer errors as actions do), or 0 when err is none or not
// the server's answer.
func statusOf(err error) int {
	if e, ok := err.(*action.Error); ok {
		return e.Status
	}
	return 0
}

// OnDismount closes the stream: go-app never cancels a component's
// context on removal.
func (c *Chat) OnDismount() { c.closeStream() }

// background runs work on a goroutine of its own, since fetch blocks it,
// then runs the function work returns on the UI goroutine. (One
// ctx.Async and one ctx.Dispatch for every request of the pages: each call
// site adds a copy of go-app's code to app.wasm.) The requests have no
// deadline of their own: the browser's network timeouts end them, and a
// context with a deadline would add 25 KB of code to app.wasm.
func background(ctx app.Context, work func(context.Context) func(app.Context)) {
	ctx.Async(func() { ctx.Dispatch(work(ctx)) })
}

// signedIn takes the session the server answered: it shows who is signed
// in and opens the stream of their topics. Signed in again as the same
// user after the stream failed (the session could not be renewed), it
// reopens the stream, which resumes after its last event ID.
func (c *Chat) signedIn(s demo.Session) {
	c.setSession(s)
	switch {
	case c.me == "":
		c.closeStream()
	case c.stream == nil:
		c.open()
	case c.state == eventsource.StateFailed:
		c.stream.Source().Reopen()
	}
}

// setSession records who is signed in. Another user than the one whose
// messages the page shows starts afresh: empty lists, and no stream.
func (c *Chat) setSession(s demo.Session) {
	c.me, c.err = s.Subject, ""
	if c.me != "" && c.me != c.owner {
		c.closeStream()
		c.room, c.private, c.owner = nil, nil, c.me
	}
}

// open opens the stream of the room and of the user's inbox.
func (c *Chat) open() {
	c.closeStream()
	inbox, err := demo.Inbox.For(c.me)
	if err != nil {
		c.notice = "Cannot open your messages: " + err.Error()
		return
	}
	c.renewing = false
	var st *appstream.Stream
	st, err = appstream.OpenTopics(c.ctx, EventsPath, eventsource.Options{
		Watchdog: 45 * time.Second, // three missed heartbeats
		Renew: func(rctx context.Context) error {
			_, err := call.Fetch[demo.Session](rctx, "POST", RenewPath, nil)
			return err
		},
	},
		appstream.OnStateChange(func(ctx app.Context, s eventsource.State) { c.onState(s, st.Source().Err()) }),
		appstream.OnTopic(demo.Room, c.onRoom),
		appstream.OnTopic(inbox, c.onPrivate),
		appstream.OnRevoked(c.onRevoked),
		appstream.OnExpired(c.onExpired),
		appstream.OnGap(func(ctx app.Context, g protocol.Gap, id string) {
			c.notice = "Some messages could not be replayed (" + string(g.Reason) + "): reload the page to see them all."
		}),
		decodeErrorsTo(&c.notice),
	)
	c.started(st, err, &c.notice)
}

// onState shows the stream's state; err is the stream's Err.
func (c *Chat) onState(s eventsource.State, err error) {
	c.setState(s, err)
	switch s {
	case eventsource.StateOpen:
		if c.renewing {
			c.renewing = false
			c.notice = "Session renewed: the stream resumed where it stopped."
		}
	case eventsource.StateFailed:
		c.renewing = false
		se, refused := err.(*eventsource.StatusError)
		switch _, expired := err.(*eventsource.RenewError); {
		case expired:
			c.notice = "Your session expired and could not be renewed: sign in again."
		case refused && se.Code == 401:
			c.notice = "The server refused the stream with " + c.failed + ": sign in again."
		default:
			c.notice = "The server refused the stream with " + c.failed + ": reload the page."
			return
		}
		c.me = "" // the stream stays, failed: signing in again as the same user resumes it
	}
}

// onRoom shows a message of the room.
func (c *Chat) onRoom(ctx app.Context, m demo.ChatMessage, id string) {
	c.room = appendLine(c.room, chatLine{ID: id, From: m.From, Text: m.Text})
}

// onPrivate shows a private message: one sent to this user, or one this
// user sent (the server puts a copy in the sender's inbox, for their
// other tabs), marked as sent.
func (c *Chat) onPrivate(ctx app.Context, m demo.PrivateMessage, id string) {
	c.private = appendLine(c.private, chatLine{ID: id, From: m.From, To: m.To, Text: m.Text, Sent: m.From == c.me})
}

// onRevoked: the session was signed out (in this tab or another), so the
// stream lost the user's topics. The page is signed out too.
func (c *Chat) onRevoked(ctx app.Context, r protocol.Revoked) {
	c.closeStream()
	c.me = ""
	c.notice = "Signed out: private messages stopped (" + strings.Join(r.Topics, ", ") + ")."
}

// onExpired: the session expired; the stream renews it and resumes.
func (c *Chat) onExpired(ctx app.Context, x protocol.Expired) {
	c.renewing = true
	c.notice = "Session expired: renewing it…"
}

// appendLine appends l to lines, keeping the newest maxChat.
func appendLine(lines []chatLine, l chatLine) []chatLine {
	lines = append(lines, l)
	if n := len(lines) - maxChat; n > 0 {
		lines = append(lines[:0], lines[n:]...)
	}
	return lines
}

// signIn posts the name to LoginPath.
func (c *Chat) signIn(ctx app.Context, e app.Event) {
	e.PreventDefault()
	name := strings.TrimSpace(c.name)
	if err := demo.UserNames.Check(name); err != nil {
		c.err = err.Error()
		return
	}
	background(ctx, func(rctx context.Context) func(app.Context) {
		s, err := call.Fetch[demo.Session](rctx, "POST", LoginPath, url.Values{nameField: {name}})
		return func(ctx app.Context) {
			if err != nil {
				c.err = "Sign-in failed: " + errorWords(err)
				return
			}
			c.notice = ""
			c.signedIn(s)
		}
	})
}

// signOut posts to LogoutPath, which revokes the session in every tab.
func (c *Chat) signOut(ctx app.Context, e app.Event) {
	background(ctx, func(rctx context.Context) func(app.Context) {
		_, err := call.Fetch[demo.Session](rctx, "POST", LogoutPath, nil)
		return func(ctx app.Context) {
			if err != nil {
				c.err = "Sign-out failed: " + errorWords(err)
				return
			}
			c.closeStream()
			c.setSession(demo.Session{})
			c.room, c.private, c.owner = nil, nil, ""
			c.notice = "Signed out."
		}
	})
}

// sayIt says the draft in the room, through the demo.Say action.
func (c *Chat) sayIt(ctx app.Context, e app.Event) {
	e.PreventDefault()
	text := takeDraft(&c.say, "say-text")
	if text == "" {
		return
	}
	background(ctx, func(rctx context.Context) func(app.Context) {
		_, err := call.Do(rctx, demo.Say, demo.SayReq{Text: text})
		return c.sent(err)
	})
}

// sendPrivate sends the draft to the recipient, through the
// demo.SendPrivate action.
func (c *Chat) sendPrivate(ctx app.Context, e app.Event) {
	e.PreventDefault()
	to := strings.TrimSpace(c.to)
	if err := demo.UserNames.Check(to); err != nil {
		c.err = "To: " + err.Error()
		return
	}
	text := takeDraft(&c.text, "private-text")
	if text == "" {
		return
	}
	background(ctx, func(rctx context.Context) func(app.Context) {
		_, err := call.Do(rctx, demo.SendPrivate, demo.SendPrivateReq{To: to, Text: text})
		return c.sent(err)
	})
}

// sent shows the outcome of an action: its error, or none.
func (c *Chat) sent(err error) func(app.Context) {
	return func(app.Context) {
		c.err = ""
		if err != nil {
			c.err = "Not sent: " + errorWords(err)
		}
	}
}

// takeDraft returns the draft typed in the input with id, trimmed, and
// empties both, unless it is blank: then it returns "".
func takeDraft(draft *string, id string) string {
	text := strings.TrimSpace(*draft)
	if text == "" {
		return ""
	}
	*draft = ""
	// go-app drops an empty value attribute instead of setting it.
	if f := app.Window().GetElementByID(id); f.Truthy() {
		f.Set("value", "")
	}
	return text
}

// errorWords says what went wrong with a request, for people: an action
// error's status, code, message and when to retry.
func errorWords(err error) string {
	// A type assertion: call returns action errors unwrapped, and
	// errors.As would add to app.wasm.
	e, ok := err.(*action.Error)
	if !ok {
		return err.Error()
	}
	s := strconv.Itoa(e.Status) + " " + e.Code
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.RetryAfter > 0 {
		s += " (retry in " + e.RetryAfter.String() + ")"
	}
	return s
}

// Render draws the page.
func (c *Chat) Render() app.UI {
	who := "Not signed in"
	if c.me != "" {
		who = "Signed in as " + c.me
	} else if !c.checked {
		who = "Asking who is signed in…"
	}
	body := []app.UI{
		nav(ChatPath),
		el("h1").Text("Chat"),
		el("p").Class("lead").Text("Sign in with any name, talk in the room, send private messages. " +
			"A demo: sign-in takes a name only, no password, so anyone can use any name."),
		el("div").Class("status").Body(
			c.badge(),
			el("span").ID("who").Text(who),
			button("signout", "button", "Sign out").Attr("hidden", c.me == "").On("click", c.signOut),
		),
		message("notice", "status", c.notice),
		message("error", "alert", c.err),
	}
	if c.me == "" {
		// A plain form that posts to LoginPath works before app.wasm has
		// loaded; the app sends it with fetch instead.
		body = append(body, form("signin-form", c.signIn,
			field("name", "Name (demo, no password)", "alice", 32, &c.name),
			button("signin", "submit", "Sign in"),
		).Attr("method", "post").Attr("action", LoginPath))
	} else {
		body = append(body,
			el("h2").Text("Room"),
			lineList("room", c.room),
			form("say-form", c.sayIt,
				field("say-text", "Say", "to everyone signed in", demo.MaxChatText, &c.say),
				button("say-send", "submit", "Send"),
			),
			el("h2").Text("Private messages"),
			lineList("private", c.private),
			form("private-form", c.sendPrivate,
				field("to", "To", "bob", 32, &c.to),
				field("private-text", "Message", "only they will see it", demo.MaxChatText, &c.text),
				button("private-send", "submit", "Send privately"),
			),
		)
	}
	return el("main").Class("page").Body(body...)
}

// message is a paragraph with id and an ARIA role ("status" or "alert")
// that shows text, hidden when text is empty.
func message(id, role, text string) app.UI {
	return el("p").ID(id).Class(id).Attr("role", role).Attr("hidden", text == "").Text(text)
}

// form is an inline form with id whose submit onSubmit handles.
func form(id string, onSubmit app.EventHandler, fields ...app.UI) app.HTMLElem {
	return el("form").ID(id).Class("inline").On("submit", onSubmit).Body(fields...)
}

// field is a labelled text input with id, whose value the visitor types
// into *v: its name is id, which the sign-in form posts.
func field(id, label, placeholder string, maxLen int, v *string) app.UI {
	return el("span").Class("field").Body(
		el("label").Attr("for", id).Text(label),
		el("input").ID(id).Attr("name", id).Attr("maxlength", maxLen).Attr("placeholder", placeholder).
			Attr("value", *v).On("input", inputTo(v)),
	)
}

func button(id, typ, text string) app.HTMLElem {
	return el("button").ID(id).Attr("type", typ).Text(text)
}

// lineList lists lines, oldest first: a private message as sent to, or
// received from, whom.
func lineList(id string, lines []chatLine) app.UI {
	items := make([]app.UI, len(lines))
	for i, l := range lines {
		class, text := "received", l.From+": "+l.Text
		switch {
		case l.Sent:
			class, text = "sent", "to "+l.To+": "+l.Text+" (sent)"
		case l.To != "":
			text = "from " + text
		}
		items[i] = el("li").Class("message", class).DataSet("id", l.ID).DataSet("from", l.From).Text(text)
	}
	return el("ul").ID(id).Class("log", "chat").Body(items...)
}
