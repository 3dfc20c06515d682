package appstream_test

import (
	"context"
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"
	"github.com/ssewasm/ssewasm/shared/demo"
	"github.com/ssewasm/ssewasm/shared/protocol"
	"github.com/ssewasm/ssewasm/wasm/call"
	"github.com/ssewasm/ssewasm/wasm/eventsource"
	"github.com/ssewasm/ssewasm/wasm/eventsource/appstream"
)

// clock shows the server's pings. Its handlers change its fields directly:
// they run on the UI goroutine, and the component is rendered once per
// batch of events.
type clock struct {
	app.Compo

	stream *appstream.Stream
	last   time.Time
	pings  int
	state  eventsource.State
	note   string
}

func (c *clock) OnMount(ctx app.Context) {
	var err error
	c.stream, err = appstream.Open(ctx, "/stream", eventsource.Options{
		Watchdog: 45 * time.Second, // reopen if three heartbeats are missed
	},
		appstream.OnEvent(func(ctx app.Context, p demo.Ping, _ string) {
			c.last = p.Time
			c.pings++
		}),
		appstream.OnStateChange(func(ctx app.Context, s eventsource.State) { c.state = s }),
		appstream.OnGap(func(ctx app.Context, g protocol.Gap, _ string) {
			c.note = "missed events (" + string(g.Reason) + "): reloading"
			// fetch the current state here
		}),
		appstream.OnDecodeError(func(ctx app.Context, err *eventsource.DecodeError) { c.note = err.Error() }),
	)
	if err != nil {
		c.note = err.Error()
	}
}

// OnDismount closes the stream: go-app never cancels a component's context.
func (c *clock) OnDismount() { c.stream.Close() }

func (c *clock) Render() app.UI {
	return app.Div().Body(
		app.Span().Text(c.state.String()),
		app.Span().Text(c.last.Format(time.TimeOnly)),
		app.Span().Text(c.pings),
		app.P().Text(c.note),
	)
}

// A component that opens its stream in OnMount and closes it in
// OnDismount. Streams open only in the browser, so this example is
// compiled but not run.
func Example() {
	app.Route("/clock", func() app.Composer { return &clock{} })
	app.RunWhenOnBrowser()
}

// chat shows the room and the user's private messages: OpenTopics opens
// the stream of the topics its OnTopic handlers name, and each handler
// takes its topic's payload type. When the session expires, Renew gets a
// fresh cookie and the stream resumes after its last event ID.
type chat struct {
	app.Compo

	stream *appstream.Stream
	lines  []string
	note   string
}

func (c *chat) OnMount(ctx app.Context) {
	inbox, err := demo.Inbox.For("alice") // the signed-in user, from GET /session
	if err != nil {
		c.note = err.Error()
		return
	}
	c.stream, err = appstream.OpenTopics(ctx, "/events", eventsource.Options{
		Renew: func(ctx context.Context) error {
			_, err := call.Fetch[demo.Session](ctx, "POST", "/session/renew", nil)
			return err
		},
	},
		appstream.OnTopic(demo.Room, func(ctx app.Context, m demo.ChatMessage, id string) {
			c.lines = append(c.lines, m.From+": "+m.Text)
		}),
		appstream.OnTopic(inbox, func(ctx app.Context, m demo.PrivateMessage, id string) {
			c.lines = append(c.lines, "from "+m.From+": "+m.Text)
		}),
		appstream.OnRevoked(func(ctx app.Context, r protocol.Revoked) { c.note = "signed out" }),
		appstream.OnExpired(func(ctx app.Context, x protocol.Expired) { c.note = "renewing the session" }),
	) // GET /events?topic=room&topic=user/alice
	if err != nil {
		c.note = err.Error()
	}
}

func (c *chat) OnDismount() { c.stream.Close() }

func (c *chat) Render() app.UI {
	return app.Div().Body(
		app.P().Text(c.note),
		app.Ul().Body(app.Range(c.lines).Slice(func(i int) app.UI { return app.Li().Text(c.lines[i]) })),
	)
}

// A component that subscribes by topic declaration. Streams open only in
// the browser, so this example is compiled but not run.
func ExampleOpenTopics() {
	app.Route("/chat", func() app.Composer { return &chat{} })
	app.RunWhenOnBrowser()
}
