//go:build !(js && wasm)

package eventsource_test

import (
	"testing"

	"github.com/ssewasm/ssewasm/wasm/eventsource/internal/ssetest"
)

// TestBrowser runs the wasm tests of this package (*_js_test.go) in
// headless Chromium through wasmbrowsertest, against the SSE test server of
// package ssetest. It is the only way those tests run: they need the
// server's URL, which it passes in the environment.
func TestBrowser(t *testing.T) {
	ssetest.RunBrowser(t)
}
