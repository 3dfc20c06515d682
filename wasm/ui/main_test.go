package ui

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// On js/wasm, the goroutine running the current call from
		// JavaScript parks in runtime.handleEvent until the others are idle.
		// It belongs to the runtime, not to a test.
		goleak.IgnoreAnyFunction("runtime.handleEvent"),
	)
}
