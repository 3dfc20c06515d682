package e2e

import (
	"strings"
	"testing"

	"github.com/ssewasm/ssewasm/server/sse"
	"github.com/ssewasm/ssewasm/shared/demo"
	"github.com/ssewasm/ssewasm/shared/event"
)

// TestSharedEventsArePublishable: every shared event name and topic is
// one the server accepts, and none is reserved.
func TestSharedEventsArePublishable(t *testing.T) {
	for _, v := range []event.Named{demo.ConnectTime{}, demo.Ping{}, demo.ServerStats{}, demo.BoardMessage{}} {
		name := v.EventName()
		if err := (sse.Event{Event: name}).Validate(); err != nil {
			t.Errorf("%T: %v", v, err)
		}
		if strings.HasPrefix(name, sse.ReservedPrefix) {
			t.Errorf("%T uses the reserved name %q", v, name)
		}
	}
	for _, topic := range []string{demo.StatsTopic.Name(), demo.BoardTopic.Name()} {
		if !sse.ValidTopic(topic) {
			t.Errorf("topic %q is not valid for the server", topic)
		}
	}
}
