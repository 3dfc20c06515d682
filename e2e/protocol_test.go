package e2e

import (
	"strings"
	"testing"

	"github.com/ssewasm/ssewasm/server/sse"
	"github.com/ssewasm/ssewasm/shared/event"
	"github.com/ssewasm/ssewasm/wasm/eventsource"
)

// TestProtocolAgrees: the browser client must not import server code, so
// it defines the names of docs/protocol.md itself. This test fails when
// the two sides drift apart.
func TestProtocolAgrees(t *testing.T) {
	pairs := []struct {
		name           string
		server, client string
	}{
		{"gap event", sse.GapEvent, eventsource.GapEvent},
		{"heartbeat event", sse.HeartbeatEvent, eventsource.HeartbeatEvent},
		{"lastEventId parameter", sse.LastEventIDParam, eventsource.LastEventIDParam},
		{"heartbeat parameter", sse.HeartbeatParam, eventsource.HeartbeatParam},
	}
	for _, p := range pairs {
		if p.server != p.client {
			t.Errorf("%s: server %q, client %q", p.name, p.server, p.client)
		}
	}
	if !strings.HasPrefix(eventsource.GapEvent, sse.ReservedPrefix) || !strings.HasPrefix(eventsource.HeartbeatEvent, sse.ReservedPrefix) {
		t.Errorf("the client's reserved events do not start with %q", sse.ReservedPrefix)
	}
}

// TestSharedEventsArePublishable: every shared event name and topic is
// one the server accepts, and none is reserved.
func TestSharedEventsArePublishable(t *testing.T) {
	for _, v := range []event.Named{event.ConnectTime{}, event.Ping{}, event.Stats{}, event.BoardMessage{}} {
		name := v.EventName()
		if err := (sse.Event{Event: name}).Validate(); err != nil {
			t.Errorf("%T: %v", v, err)
		}
		if strings.HasPrefix(name, sse.ReservedPrefix) {
			t.Errorf("%T uses the reserved name %q", v, name)
		}
	}
	for _, topic := range []string{event.TopicStats, event.TopicBoard} {
		if !sse.ValidTopic(topic) {
			t.Errorf("topic %q is not valid for the server", topic)
		}
	}
}
