// Command gosse serves the benchmark endpoints with github.com/tmaxmax/go-sse
// v0.12.0, used as its README shows: an sse.Server with the default
// provider, Joe, and no replayer (the library's default), topics chosen in
// OnSession, events published with Server.Publish.
package main

import (
	"context"
	"net/http"

	sse "github.com/tmaxmax/go-sse"

	"github.com/ssewasm/ssewasm/server/bench/adapter"
)

func main() {
	s := &sse.Server{
		OnSession: func(w http.ResponseWriter, r *http.Request) ([]string, bool) {
			topic := r.URL.Query().Get("topic")
			if topic == "" {
				topic = "default"
			}
			return []string{topic}, true
		},
	}
	adapter.Main(adapter.Impl{
		Name: "gosse",
		Events: func(w http.ResponseWriter, r *http.Request, _ string) {
			s.ServeHTTP(w, r)
		},
		Publish: func(topic, event, data string) (string, error) {
			m := &sse.Message{}
			if event != "" {
				t, err := sse.NewType(event)
				if err != nil {
					return "", err
				}
				m.Type = t
			}
			m.AppendData(data)
			return "", s.Publish(m, topic)
		},
		Shutdown: func() { s.Shutdown(context.Background()) },
	})
}
