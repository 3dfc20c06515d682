// Command ssereader reads an SSE stream with an independent Go client, the
// client of github.com/tmaxmax/go-sse or of github.com/launchdarkly/eventsource,
// and prints what the client reports as JSON lines, for the interop test
// in e2e/interop_test.go:
//
//	go build -o ssereader . && ./ssereader -client gosse -url http://127.0.0.1:8844/events?topic=interop
//
// It prints {"kind":"open"} when a connection is accepted,
// {"kind":"event","event":NAME,"data":DATA,"id":LASTEVENTID} for each event
// (an unnamed event is "message", as in a browser), {"kind":"retry","retry_ms":N}
// when the client tells the reconnection delay it will use, and
// {"kind":"error","message":...} for errors the client reports. The client
// reconnects by itself with Last-Event-ID; ssereader runs until it gets
// SIGINT or SIGTERM.
//
// It lives in its own module so that the main module never depends on
// these libraries.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// maxEvent is the largest event the readers accept: the corpus has a
// 1 MiB event, and its frame is a little larger.
const maxEvent = 4 << 20

// clients maps a -client name to its reader.
var clients = map[string]func(ctx context.Context, url string, out *output) error{
	"gosse":        readGoSSE,
	"launchdarkly": readLaunchDarkly,
}

func main() {
	client := flag.String("client", "", "the client to read with: gosse or launchdarkly")
	url := flag.String("url", "", "the stream's URL")
	flag.Parse()
	read, ok := clients[*client]
	if !ok || *url == "" {
		fmt.Fprintln(os.Stderr, "usage: ssereader -client gosse|launchdarkly -url URL")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := read(ctx, *url, newOutput(os.Stdout)); err != nil && ctx.Err() == nil {
		fmt.Fprintln(os.Stderr, "ssereader:", err)
		os.Exit(1)
	}
}

// record is one JSON line of output.
type record struct {
	Kind    string `json:"kind"`
	Event   string `json:"event,omitempty"`
	Data    string `json:"data"`
	ID      string `json:"id"`
	RetryMS int64  `json:"retry_ms,omitempty"`
	Message string `json:"message,omitempty"`
}

// output writes records as JSON lines; the clients call it from their
// own goroutines, so it serialises them.
type output struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func newOutput(w io.Writer) *output {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return &output{enc: enc}
}

func (o *output) write(r record) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.enc.Encode(r) // a closed stdout means the test is gone: nothing to tell
}

func (o *output) open()            { o.write(record{Kind: "open"}) }
func (o *output) failed(err error) { o.write(record{Kind: "error", Message: err.Error()}) }
func (o *output) retry(ms int64)   { o.write(record{Kind: "retry", RetryMS: ms}) }

// event writes an event; an unnamed one is "message", as the spec and
// browsers call it.
func (o *output) event(name, data, id string) {
	if name == "" {
		name = "message"
	}
	o.write(record{Kind: "event", Event: name, Data: data, ID: id})
}
