package eventsource_test

import (
	"fmt"
	"log"

	"github.com/ssewasm/ssewasm/shared/event"
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
	eventsource.OnEvent(src, func(p event.Ping, id string) {
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
