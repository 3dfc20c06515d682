package eventsource_test

import (
	"testing"

	"github.com/ssewasm/ssewasm/wasm/eventsource"
)

func TestStateString(t *testing.T) {
	for _, tc := range []struct {
		s    eventsource.State
		want string
	}{
		{eventsource.StateConnecting, "connecting"},
		{eventsource.StateOpen, "open"},
		{eventsource.StateClosed, "closed"},
		{eventsource.StateFailed, "failed"},
		{eventsource.State(7), "State(7)"},
		{eventsource.State(-1), "State(-1)"},
	} {
		if got := tc.s.String(); got != tc.want {
			t.Errorf("State(%d).String() = %q, want %q", int(tc.s), got, tc.want)
		}
	}
	// The values mirror EventSource.readyState.
	if eventsource.StateConnecting != 0 || eventsource.StateOpen != 1 || eventsource.StateClosed != 2 {
		t.Errorf("State values %d/%d/%d, want readyState's 0/1/2",
			eventsource.StateConnecting, eventsource.StateOpen, eventsource.StateClosed)
	}
}
