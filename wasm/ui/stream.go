package ui

import (
	"github.com/maxence-charriere/go-app/v10/pkg/app"
	"github.com/ssewasm/ssewasm/wasm/eventsource"
	"github.com/ssewasm/ssewasm/wasm/eventsource/appstream"
)

// pageStream is a page's stream and what its badge shows; the live and
// chat pages embed it.
type pageStream struct {
	stream *appstream.Stream
	state  eventsource.State
	opened bool   // the stream was open once: a later "connecting" is a reconnect
	failed string // in words, what put the stream in StateFailed
}

// started records the new stream that Open returned, not yet open, or
// says in *notice why there is none; it reports whether there is one.
func (p *pageStream) started(st *appstream.Stream, err error, notice *string) bool {
	if err != nil {
		*notice = "Cannot open the stream: " + err.Error()
		return false
	}
	p.stream, p.opened, p.failed = st, false, ""
	return true
}

// decodeErrorsTo is a stream's handler that says in *notice which event
// did not decode.
func decodeErrorsTo(notice *string) appstream.Handler {
	return appstream.OnDecodeError(func(ctx app.Context, err *eventsource.DecodeError) {
		*notice = "An event did not decode: " + err.Error()
	})
}

// closeStream closes the stream, if any.
func (p *pageStream) closeStream() {
	if p.stream != nil {
		p.stream.Close()
		p.stream = nil
	}
	p.state = eventsource.StateClosed
}

// setState records the stream's state; err is the stream's Err, which
// says what put it in StateFailed.
func (p *pageStream) setState(s eventsource.State, err error) {
	p.state, p.failed = s, ""
	switch s {
	case eventsource.StateOpen:
		p.opened = true
	case eventsource.StateFailed:
		p.failed = failedWords(err)
	}
}

// badge is the stream's state, #state.
func (p *pageStream) badge() app.UI {
	class, label := streamLabel(p.state, p.opened, p.failed)
	return el("span").ID("state").Class("badge", "state-"+class).Text(label)
}

// failedWords says in words what put a stream in StateFailed: the status,
// such as "404 Not Found", or a session that could not be renewed.
func failedWords(err error) string {
	// Type assertions: errors.As would add 50 KB to app.wasm.
	switch e := err.(type) {
	case *eventsource.StatusError:
		return e.Status
	case *eventsource.RenewError:
		return "a session that could not be renewed"
	}
	return "a status that will not change"
}

// streamLabel says what a page's stream badge shows, as a CSS class
// suffix and a text: after the stream was open, a browser that is
// reconnecting is shown as closed (reconnecting); a failed stream shows
// failed, what failed it.
func streamLabel(state eventsource.State, opened bool, failed string) (class, text string) {
	switch {
	case state == eventsource.StateOpen:
		return "open", "open"
	case state == eventsource.StateFailed:
		return "failed", "failed: " + failed
	case state == eventsource.StateConnecting && opened:
		return "closed", "closed, reconnecting"
	default:
		return state.String(), state.String()
	}
}
