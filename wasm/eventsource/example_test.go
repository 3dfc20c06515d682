package eventsource_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/ssewasm/ssewasm/shared/demo"
	"github.com/ssewasm/ssewasm/shared/protocol"
	"github.com/ssewasm/ssewasm/wasm/call"
	"github.com/ssewasm/ssewasm/wasm/eventsource"
)

func ExampleState_String() {
	fmt.Println(eventsource.StateConnecting, eventsource.StateOpen, eventsource.StateClosed)
	// Output: connecting open closed
}

// Open runs only in a browser (GOOS=js GOARCH=wasm), so this example is
// compiled but not run.
func ExampleOpen() {
	src, err := eventsource.Open("/events", eventsource.Options{})
	if err != nil {
		log.Print(err) // errors.Is(err, errors.ErrUnsupported) outside the browser
		return
	}
	defer src.Close() // closes the stream, removes every listener

	// Handlers run on the browser's event loop: hand the work off, never block.
	updates := make(chan string, 64) // buffered: the handler must not wait
	eventsource.OnEvent(src, func(p demo.Ping, id string) {
		select {
		case updates <- id + " " + p.Time.String():
		default: // the reader is behind: drop rather than block the page
		}
	}, func(err *eventsource.DecodeError) {
		log.Print(err) // err.Data holds what the server sent
	})
	src.OnError(func(s eventsource.State) {
		if s == eventsource.StateClosed {
			log.Print("the server refused the stream; the browser will not retry")
		}
	})
	log.Print(<-updates)
}

func ExampleState_failed() {
	fmt.Println(eventsource.StateFailed)
	// Output: failed
}

// A Source in StateFailed says why; the app fixes the cause, then reopens.
// (Compiled, not run: Open needs a browser.)
func ExampleStatusError() {
	var src *eventsource.Source
	signIn := func(done func()) { /* ask the user, then */ done() }
	src, err := eventsource.Open("/events?topic=news", eventsource.Options{
		OnStateChange: func(s eventsource.State) {
			if s != eventsource.StateFailed {
				return
			}
			var se *eventsource.StatusError
			if errors.As(src.Err(), &se) && se.Code == 401 {
				go signIn(src.Reopen) // handlers must not block: reopen once signed in
				return
			}
			log.Print(src.Err()) // e.g. "eventsource: https://…/events?topic=news answered 404 Not Found, which reopening cannot change: check the stream's path; then call Source.Reopen …"
		},
	})
	if err != nil {
		log.Print(err)
		return
	}
	defer src.Close()
}

// A stream of declared topics, with a session that the Source renews when
// the server says it expired: the handlers take the topics' payload types,
// and the stream resumes after its last event ID, none lost, none doubled.
// (Compiled, not run: Open needs a browser.)
func ExampleOnTopic() {
	inbox, err := demo.Inbox.For("alice")
	if err != nil {
		log.Print(err) // not a user name
		return
	}
	src, err := eventsource.Open(eventsource.TopicsURL("/events", demo.Room, inbox), eventsource.Options{
		Renew: func(ctx context.Context) error {
			// POST /session/renew with the session cookie, which the
			// server replaces (wasm/call does it with fetch).
			_, err := call.Fetch[demo.Session](ctx, "POST", "/session/renew", nil)
			return err
		},
	})
	if err != nil {
		log.Print(err)
		return
	}
	defer src.Close()
	eventsource.OnTopic(src, demo.Room, func(m demo.ChatMessage, id string) {
		log.Print(m.From, ": ", m.Text) // OnTopic(src, demo.Room, func(m demo.PrivateMessage, ...)) does not build
	}, nil)
	eventsource.OnTopic(src, inbox, func(m demo.PrivateMessage, id string) {
		log.Print("from ", m.From, ": ", m.Text)
	}, nil)
	src.OnRevoked(func(r protocol.Revoked) {
		log.Print("signed out: no more ", r.Topics)
	})
}

func ExampleTopicsURL() {
	inbox, _ := demo.Inbox.For("alice")
	fmt.Println(eventsource.TopicsURL("/events", demo.Room, inbox))
	fmt.Println(eventsource.TopicsURL("/events?heartbeat=event", demo.BoardTopic))
	// Output:
	// /events?topic=room&topic=user/alice
	// /events?heartbeat=event&topic=board
}

// On the server, the page at / gets a script in its head that opens its
// stream with the HTML; in the browser, the app's Open of the same URL
// takes it over, with the events that arrived while app.wasm loaded. The
// handlers added right after Open see them first, in order.
func ExampleEarlyScript() {
	head := eventsource.EarlyScript("/", "/stream", demo.ConnectTime{}.EventName())
	_ = head // go-app: app.Handler{RawHeaders: []string{head}}

	// In the app, on the page at /:
	src, err := eventsource.Open("/stream", eventsource.Options{})
	if err != nil {
		log.Print(err)
		return
	}
	defer src.Close()
	eventsource.OnEvent(src, func(c demo.ConnectTime, id string) {
		log.Print("connected at ", c.Time)
	}, nil)
}
