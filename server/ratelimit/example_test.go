package ratelimit_test

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/ssewasm/ssewasm/server/ratelimit"
)

// Two publishes a second per address in bursts of 3; no global limit.
// The fourth publish at once is refused, and says when to retry.
func Example() {
	l := ratelimit.New(ratelimit.Limit{Rate: 2, Burst: 3}, ratelimit.Limit{}, 10000)
	client := netip.MustParseAddr("192.0.2.1")
	for i := range 4 {
		err := l.Allow(client)
		if ex, ok := errors.AsType[*ratelimit.ExceededError](err); ok {
			fmt.Printf("publish %d: refused %s, retry within %v\n", i+1, ex.Scope, ex.Wait.Round(100*time.Millisecond))
			continue
		}
		fmt.Printf("publish %d: allowed\n", i+1)
	}
	// Output:
	// publish 1: allowed
	// publish 2: allowed
	// publish 3: allowed
	// publish 4: refused per address, retry within 500ms
}
