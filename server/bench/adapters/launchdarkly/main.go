// Command launchdarkly serves the benchmark endpoints with
// github.com/launchdarkly/eventsource v1.11.0, used as its documentation
// shows: eventsource.NewServer() with its defaults (a 128-event buffer per
// client, after which the client is disconnected; no Repository, so no
// replay), one Handler per channel, events published with Server.Publish.
// The library has no ID generator: the adapter numbers events itself.
package main

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/launchdarkly/eventsource"

	"github.com/ssewasm/ssewasm/server/bench/adapter"
)

// event implements eventsource.Event.
type event struct{ id, name, data string }

func (e event) Id() string    { return e.id }
func (e event) Event() string { return e.name }
func (e event) Data() string  { return e.data }

func main() {
	srv := eventsource.NewServer()
	var (
		mu       sync.Mutex
		handlers = map[string]http.HandlerFunc{} // one Handler per channel
		nextID   atomic.Uint64
	)
	handler := func(topic string) http.HandlerFunc {
		mu.Lock()
		defer mu.Unlock()
		h, ok := handlers[topic]
		if !ok {
			h = srv.Handler(topic)
			handlers[topic] = h
		}
		return h
	}
	adapter.Main(adapter.Impl{
		Name: "launchdarkly",
		Events: func(w http.ResponseWriter, r *http.Request, topic string) {
			handler(topic)(w, r)
		},
		Publish: func(topic, name, data string) (string, error) {
			id := strconv.FormatUint(nextID.Add(1), 10)
			srv.Publish([]string{topic}, event{id: id, name: name, data: data})
			return id, nil
		},
		Shutdown: srv.Close,
	})
}
