package eventsource_test

import (
	"testing"

	"github.com/ssewasm/ssewasm/wasm/eventsource/internal/ssetest"
	"go.uber.org/goleak"
)

// envSSEURL carries the base URL of the SSE test server from TestBrowser
// (browser_test.go, native) into the wasm tests running in the browser
// (eventsource_js_test.go).
const envSSEURL = ssetest.EnvURL

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// On js/wasm, the goroutine running the current call from
		// JavaScript parks in runtime.handleEvent until the others are idle.
		// It belongs to the runtime, not to a test.
		goleak.IgnoreAnyFunction("runtime.handleEvent"),
	)
}
