//go:build !(js && wasm)

package appstream_test

import (
	"testing"

	"github.com/ssewasm/ssewasm/wasm/eventsource/internal/ssetest"
)

// TestBrowser runs the wasm tests of this package (*_js_test.go) in
// headless Chromium through wasmbrowsertest, against the SSE test server of
// package ssetest: the only way they run.
func TestBrowser(t *testing.T) {
	ssetest.RunBrowser(t)
}
