package ui

import (
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"
	"github.com/ssewasm/ssewasm/shared/demo"
	"github.com/ssewasm/ssewasm/wasm/eventsource"
)

// maxLines bounds the log the classic page keeps, so a tab left open for
// days does not grow without end.
const maxLines = 500

// Line is one entry of the classic demo's log.
type Line struct {
	Kind string // "open", "start", "ping", "close" or "error": the CSS class
	Text string
}

// Classic is the classic EventSource demo: it logs "Connection open ..."
// when the stream opens, "Start time: ..." for the named connecttime event,
// "Ping: ..." for every unnamed event and "Connection close." when the
// stream errors. The browser reconnects on its own after the server's retry
// delay, and the lines resume.
type Classic struct {
	app.Compo

	// URL of the stream; StreamPath when empty.
	URL string

	src   *eventsource.Source
	lines []Line
	state eventsource.State
}

// OnMount opens the stream. Handlers run on the browser's event loop, so
// they only hand the work to the component through ctx.Dispatch: one
// dispatch per event is fine at a ping a second (a busier stream should use
// package appstream, which batches them per animation frame). Events decode
// into the shared types; data that does not decode is shown raw, marked as
// such, rather than dropped.
func (c *Classic) OnMount(ctx app.Context) {
	url := c.URL
	if url == "" {
		url = StreamPath
	}
	src, err := eventsource.Open(url, eventsource.Options{})
	if err != nil {
		c.add(Line{"error", "Cannot open the stream: " + err.Error()})
		return
	}
	c.src = src
	c.state = src.ReadyState()

	src.OnOpen(func() { c.dispatch(ctx, eventsource.StateOpen, Line{"open", "Connection open ..."}) })
	eventsource.OnEvent(src, func(v demo.ConnectTime, _ string) {
		c.dispatch(ctx, -1, Line{"start", "Start time: " + formatTime(v.Time)})
	}, func(e *eventsource.DecodeError) {
		c.dispatch(ctx, -1, Line{"start", "Start time: " + e.Data + " (undecodable)"})
	})
	eventsource.OnEvent(src, func(v demo.Ping, _ string) {
		c.dispatch(ctx, -1, Line{"ping", "Ping: " + formatTime(v.Time)})
	}, func(e *eventsource.DecodeError) {
		c.dispatch(ctx, -1, Line{"ping", "Ping: " + e.Data + " (undecodable)"})
	})
	src.OnError(func(s eventsource.State) { c.dispatch(ctx, s, Line{"close", "Connection close."}) })
}

// dispatch hands one log line, and the stream's new state unless it is
// negative, to the component. One function for every handler: each
// ctx.Dispatch call site inlines a copy of go-app's Dispatch into app.wasm.
func (c *Classic) dispatch(ctx app.Context, s eventsource.State, l Line) {
	ctx.Dispatch(func(app.Context) {
		if s >= 0 {
			c.state = s
		}
		c.add(l)
	})
}

// OnDismount closes the stream: go-app never cancels a component's context
// on removal, so without this the stream would outlive the page.
func (c *Classic) OnDismount() {
	if c.src != nil {
		c.src.Close()
		c.src = nil
	}
}

func (c *Classic) add(l Line) {
	c.lines = append(c.lines, l)
	if n := len(c.lines) - maxLines; n > 0 {
		c.lines = append(c.lines[:0], c.lines[n:]...)
	}
}

// items lists the log's lines.
func (c *Classic) items() []app.UI {
	items := make([]app.UI, len(c.lines))
	for i, l := range c.lines {
		items[i] = el("li").Class("line", l.Kind).Text(l.Text)
	}
	return items
}

// formatTime formats a time of the shared events for people.
func formatTime(t time.Time) string {
	return t.Local().Format("15:04:05 Mon 2 Jan 2006 MST")
}

// Render draws the page.
func (c *Classic) Render() app.UI {
	return el("main").Class("page").Body(
		nav("/"),
		el("header").Body(
			el("h1").Text("Server-Sent Events, in Go on both ends"),
			el("p").Class("lead").Body(
				app.Text("A Go server streams "),
				el("a").Attr("href", StreamPath).Text(StreamPath),
				app.Text("; this page, a go-app WebAssembly app, listens through the browser's EventSource."),
			),
			el("span").ID("state").Class("badge", "state-"+c.state.String()).Text(c.state.String()),
		),
		el("ul").ID("log").Class("log").Body(
			c.items()...,
		),
	)
}
