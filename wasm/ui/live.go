package ui

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"
	"github.com/ssewasm/ssewasm/shared/demo"
	"github.com/ssewasm/ssewasm/shared/protocol"
	"github.com/ssewasm/ssewasm/shared/topic"
	"github.com/ssewasm/ssewasm/wasm/call"
	"github.com/ssewasm/ssewasm/wasm/eventsource"
	"github.com/ssewasm/ssewasm/wasm/eventsource/appstream"
)

// Paths the live page uses.
const (
	EventsPath  = "/events"
	PublishPath = "/publish"
	LivePath    = "/live"
)

// chartSpan is how many seconds of figures the chart keeps.
const chartSpan = 60

// maxBoard bounds the board's message list.
const maxBoard = 50

// Live is the /live page: the stream's state, a chart of the server's
// figures, a broadcast board, and controls to close, reopen and replay the
// stream from an earlier event ID.
type Live struct {
	app.Compo
	pageStream

	topics []string // of the page's URL (?topic=...); nil: stats and board

	points []demo.ServerStats // the chart, oldest first, at most chartSpan
	board  []boardLine        // newest last

	received   uint64 // events received when the rate was last computed
	receivedAt time.Time
	rate       float64 // events per second received by this page

	reloaded string // the history (epoch) last reloaded after a gap

	draft    string
	replayID string
	notice   string
}

type boardLine struct {
	ID   string
	Text string
}

// liveURL is the stream of the live page, on topics (stats and board when
// empty), resuming after lastEventID when it is set.
func liveURL(topics []string, lastEventID string) string {
	if len(topics) == 0 {
		topics = topic.Names(demo.StatsTopic, demo.BoardTopic)
	}
	q := url.Values{protocol.TopicParam: topics}
	if lastEventID != "" {
		q.Set(protocol.LastEventIDParam, lastEventID)
	}
	return EventsPath + "?" + q.Encode()
}

// OnMount opens the stream, on the topics the page's URL names
// (/live?topic=board), if any.
func (c *Live) OnMount(ctx app.Context) {
	c.topics = ctx.Page().URL().Query()[protocol.TopicParam]
	c.open(ctx, "")
}

// OnDismount closes the stream: go-app never cancels a component's
// context on removal.
func (c *Live) OnDismount() { c.closeStream() }

// open (re)opens the stream, resuming after lastEventID when it is set.
func (c *Live) open(ctx app.Context, lastEventID string) {
	c.closeStream()
	var st *appstream.Stream
	st, err := appstream.Open(ctx, liveURL(c.topics, lastEventID), eventsource.Options{Watchdog: 45 * time.Second},
		appstream.OnStateChange(func(ctx app.Context, s eventsource.State) {
			c.setState(s, st.Source().Err())
			if s == eventsource.StateFailed && st == c.stream {
				c.notice = "The server refused the stream with " + c.failed +
					", which will not change by itself: not reconnecting. Press Reopen to try again."
			}
		}),
		appstream.OnEvent(func(ctx app.Context, s demo.ServerStats, _ string) { c.addPoint(s) }),
		appstream.OnEvent(func(ctx app.Context, m demo.BoardMessage, id string) { c.addBoard(m, id) }),
		appstream.OnGap(c.onGap),
		decodeErrorsTo(&c.notice),
	)
	if !c.started(st, err, &c.notice) {
		return
	}
	c.received, c.receivedAt = 0, time.Now()
}

// onGap: the server cannot replay from the ID we had (the server
// restarted, or we asked for an ID it no longer has). Reload the board
// from the start of the server's current history.
func (c *Live) onGap(ctx app.Context, g protocol.Gap, id string) {
	c.notice = "The server could not replay from " + `"` + g.LastEventID + `"` + " (" + string(g.Reason) + ")."
	// Expired: what the history holds is all there is. Malformed: the
	// visitor typed a bad ID. Unknown, from another history: replay the
	// server's whole current history, once per history.
	// The gap's ID is the newest of that history: its epoch is what
	// comes before the last "-" (protocol.ParseID would cost app.wasm
	// 5 KB of brotli for this one cut).
	i := strings.LastIndexByte(id, '-')
	if g.Reason != protocol.GapUnknown || i <= 0 || c.reloaded == id[:i] {
		return
	}
	c.reloaded = id[:i]
	c.notice += " Reloading the board from the server's history."
	c.open(ctx, id[:i]+"-0")
}

func (c *Live) addPoint(s demo.ServerStats) {
	if n := len(c.points); n > 0 && s.At <= c.points[n-1].At {
		return // replayed figures older than what the chart shows
	}
	c.points = append(c.points, s)
	if n := len(c.points) - chartSpan; n > 0 {
		c.points = append(c.points[:0], c.points[n:]...)
	}
	if c.stream != nil {
		now, got := time.Now(), c.stream.Source().Stats().Received
		if dt := now.Sub(c.receivedAt).Seconds(); dt > 0.5 {
			c.rate = float64(got-c.received) / dt
			c.received, c.receivedAt = got, now
		}
	}
}

func (c *Live) addBoard(m demo.BoardMessage, id string) {
	for _, l := range c.board {
		if id != "" && l.ID == id {
			return // replayed again after a reopen
		}
	}
	c.board = append(c.board, boardLine{ID: id, Text: m.Text})
	if n := len(c.board) - maxBoard; n > 0 {
		c.board = append(c.board[:0], c.board[n:]...)
	}
}

// post posts the draft on the board through the demo.PostBoard action.
func (c *Live) post(ctx app.Context, e app.Event) {
	e.PreventDefault()
	text := takeDraft(&c.draft, "message")
	if text == "" {
		return
	}
	background(ctx, func(rctx context.Context) func(app.Context) {
		_, err := call.Do(rctx, demo.PostBoard, demo.PostBoardReq{Text: text})
		return func(app.Context) {
			c.notice = ""
			if err != nil {
				c.notice = "Posting failed: " + errorWords(err)
			}
		}
	})
}

// Render draws the page.
func (c *Live) Render() app.UI {
	var stats eventsource.SourceStats
	if c.stream != nil {
		stats = c.stream.Source().Stats()
	}
	return el("main").Class("page").Body(
		nav(LivePath),
		el("h1").Text("Live"),
		el("div").Class("status").Body(
			c.badge(),
			figure("reconnects", "Reconnects", strconv.FormatUint(stats.Reconnects, 10)),
			figure("last-id", "Last event ID", orDash(stats.LastEventID)),
			figure("rate", "Events/s", strconv.FormatFloat(c.rate, 'f', 1, 64)),
		),
		el("div").Class("controls").Body(
			el("button").ID("close").Attr("type", "button").Attr("disabled", c.stream == nil).Text("Close stream").
				On("click", func(ctx app.Context, e app.Event) { c.closeStream() }),
			el("button").ID("reopen").Attr("type", "button").Text("Reopen").
				On("click", func(ctx app.Context, e app.Event) { c.open(ctx, stats.LastEventID) }),
			el("form").Class("inline").On("submit", func(ctx app.Context, e app.Event) {
				e.PreventDefault()
				c.open(ctx, strings.TrimSpace(c.replayID))
			}).Body(
				el("input").ID("replay-id").Attr("placeholder", "event ID, e.g. "+orDefault(stats.LastEventID, "abc-1")).
					Attr("value", c.replayID).On("input", inputTo(&c.replayID)),
				el("button").ID("replay").Attr("type", "submit").Text("Replay from ID"),
			),
		),
		el("p").ID("notice").Class("notice").Attr("hidden", c.notice == "").Text(c.notice),
		el("h2").Text("Server"),
		el("div").ID("chart").Class("charts").Body(
			chart("clients", "Clients", c.points, 0, func(s demo.ServerStats) float64 { return float64(s.Clients) }),
			chart("eps", "Events/s delivered", c.points, 0, func(s demo.ServerStats) float64 { return s.EventsPerSecond }),
			chart("mem", "Memory (MiB)", c.points, 1, func(s demo.ServerStats) float64 { return float64(s.MemoryBytes) / (1 << 20) }),
			chart("goroutines", "Goroutines", c.points, 0, func(s demo.ServerStats) float64 { return float64(s.Goroutines) }),
		),
		el("h2").Text("Broadcast board"),
		el("form").ID("board-form").Class("inline").On("submit", c.post).Body(
			el("input").ID("message").Attr("placeholder", "Say something to every open page").
				Attr("maxlength", 500).Attr("value", c.draft).On("input", inputTo(&c.draft)),
			el("button").ID("send").Attr("type", "submit").Text("Send"),
		),
		el("ul").ID("board").Class("log").Body(
			c.boardItems()...,
		),
	)
}

// boardItems lists the board's messages, newest first.
func (c *Live) boardItems() []app.UI {
	items := make([]app.UI, len(c.board))
	for i, l := range c.board {
		items[len(c.board)-1-i] = el("li").Class("message").DataSet("id", l.ID).Text(l.Text)
	}
	return items
}

func figure(id, label, value string) app.UI {
	return el("span").Class("figure").Body(
		el("span").Class("label").Text(label+": "),
		el("span").ID(id).Text(value),
	)
}

// inputTo stores an input's value in *v as the visitor types. (go-app's
// Compo.ValueTo does the same for any type, through reflection that costs
// app.wasm size.)
func inputTo(v *string) app.EventHandler {
	return func(ctx app.Context, e app.Event) { *v = ctx.JSSrc().Get("value").String() }
}

func orDash(s string) string { return orDefault(s, "–") }

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// nav links the pages.
func nav(current string) app.UI {
	var links []app.UI
	for _, p := range Pages() {
		a := el("a").Attr("href", p.Path).Text(p.Title)
		if p.Path == current {
			a = a.Class("current")
		}
		links = append(links, a)
	}
	return el("nav").Class("nav").Body(
		links...,
	)
}
