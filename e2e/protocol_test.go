package e2e

import (
	"testing"

	"github.com/ssewasm/ssewasm/server/sse"
	"github.com/ssewasm/ssewasm/shared/demo"
	"github.com/ssewasm/ssewasm/shared/event"
)

// TestSharedEventsArePublishable: every demo event's name is one the
// server's encoder accepts (shared/demo's own test checks that none is
// reserved and that its topics are valid and public).
func TestSharedEventsArePublishable(t *testing.T) {
	for _, v := range []event.Named{demo.ConnectTime{}, demo.Ping{}, demo.ServerStats{}, demo.BoardMessage{}} {
		if err := (sse.Event{Name: v.EventName()}).Validate(); err != nil {
			t.Errorf("%T: %v", v, err)
		}
	}
}
