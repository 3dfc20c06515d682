// Command null is the benchmark's floor: the least a server can do for the
// endpoints the load tool uses (docs/protocol.md). GET /events holds the
// connection in a set per topic; POST /publish encodes the event once, as
// an SSE frame with an ID and its data, and writes that frame to every
// open stream of the topic in a plain loop under one mutex, one write and
// one flush each. No broker, no history, no queues, no backpressure: a
// client that stops reading stalls every publish (acceptable only for a
// measuring stick). Whatever latency or CPU per event the load tool
// reports against it is the tool's own and the kernel's, not a server's.
//
//	go build -o bin/null ./adapters/null && bin/null -addr 127.0.0.1:8855
package main

import (
	"net/http"
	"strconv"
	"sync"

	"github.com/ssewasm/ssewasm/server/bench/adapter"
)

// stream is one open GET /events: the handler's writer, used by publish
// while the handler waits.
type stream struct {
	w http.ResponseWriter
	f http.Flusher
}

// hub holds the open streams by topic. Its mutex is held for a whole
// publish, so a stream leaves the set (and its handler returns) only
// between publishes: no write ever reaches a finished response.
type hub struct {
	mu     sync.Mutex
	topics map[string]map[*stream]struct{}
	lastID uint64
	done   chan struct{} // closed at shutdown: every handler returns
	once   sync.Once
}

func newHub() *hub {
	return &hub{topics: map[string]map[*stream]struct{}{}, done: make(chan struct{})}
}

// serve holds one stream open until the client leaves or the server
// shuts down.
func (h *hub) serve(w http.ResponseWriter, r *http.Request, topic string) {
	f, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "null: streaming unsupported by this connection", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	f.Flush()
	s := &stream{w: w, f: f}
	h.mu.Lock()
	set := h.topics[topic]
	if set == nil {
		set = map[*stream]struct{}{}
		h.topics[topic] = set
	}
	set[s] = struct{}{}
	h.mu.Unlock()
	select {
	case <-r.Context().Done():
	case <-h.done:
	}
	h.mu.Lock()
	delete(set, s)
	h.mu.Unlock()
}

// publish writes data as the next event to every stream of topic and
// returns its ID. A write error (the client left) is the handler's to
// notice: its request context ends.
func (h *hub) publish(topic, event, data string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lastID++
	id := strconv.FormatUint(h.lastID, 10)
	frame := appendFrame(nil, id, event, data)
	for s := range h.topics[topic] {
		if _, err := s.w.Write(frame); err == nil {
			s.f.Flush()
		}
	}
	return id
}

func (h *hub) shutdown() { h.once.Do(func() { close(h.done) }) }

// appendFrame appends the SSE frame of one event to b: its id, its name
// (if any) and one data line per line of data (split at CRLF, CR or LF, as
// a reader splits them), then the blank line. The adapter harness has
// already refused CR and LF in event names; id is a decimal number.
func appendFrame(b []byte, id, event, data string) []byte {
	b = append(b, "id: "...)
	b = append(b, id...)
	b = append(b, '\n')
	if event != "" {
		b = append(b, "event: "...)
		b = append(b, event...)
		b = append(b, '\n')
	}
	for {
		b = append(b, "data: "...)
		i := 0
		for i < len(data) && data[i] != '\n' && data[i] != '\r' {
			i++
		}
		b = append(b, data[:i]...)
		b = append(b, '\n')
		if i == len(data) {
			break
		}
		if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			i++
		}
		data = data[i+1:]
	}
	return append(b, '\n')
}

func main() {
	h := newHub()
	adapter.Main(adapter.Impl{
		Name:   "null",
		Events: h.serve,
		Publish: func(topic, event, data string) (string, error) {
			return h.publish(topic, event, data), nil
		},
		Shutdown: h.shutdown,
	})
}
