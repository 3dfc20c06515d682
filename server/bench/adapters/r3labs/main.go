// Command r3labs serves the benchmark endpoints with github.com/r3labs/sse/v2
// v2.10.0, used as its README shows: sse.New() with its defaults (a
// 1024-event stream buffer, AutoReplay on), one stream per topic created
// with CreateStream, events published with Server.Publish.
//
// The library reads the stream name from the "stream" query parameter;
// the adapter copies "topic" into it. -split-data sets the documented
// SplitData option, which multi-line data needs (without it a LF in the
// data breaks the event framing).
package main

import (
	"flag"
	"net/http"

	sse "github.com/r3labs/sse/v2"

	"github.com/ssewasm/ssewasm/server/bench/adapter"
)

func main() {
	split := flag.Bool("split-data", false, "set SplitData, for multi-line event data")
	s := sse.New()
	adapter.Main(adapter.Impl{
		Name: "r3labs",
		Init: func() { s.SplitData = *split },
		Events: func(w http.ResponseWriter, r *http.Request, topic string) {
			s.CreateStream(topic) // returns the existing stream if there is one
			q := r.URL.Query()
			q.Set("stream", topic)
			r.URL.RawQuery = q.Encode()
			s.ServeHTTP(w, r)
		},
		Publish: func(topic, event, data string) (string, error) {
			s.CreateStream(topic)
			ev := &sse.Event{Data: []byte(data)}
			if event != "" {
				ev.Event = []byte(event)
			}
			s.Publish(topic, ev) // the ID is assigned later, on the stream's goroutine
			return "", nil
		},
		Shutdown: s.Close,
	})
}
