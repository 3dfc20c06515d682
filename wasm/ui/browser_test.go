//go:build !(js && wasm)

package ui

import (
	"testing"

	"github.com/ssewasm/ssewasm/wasm/internal/browsertest"
)

// TestBrowser runs the wasm tests of this package (*_js_test.go, and the
// untagged ones again) in headless Chromium through wasmbrowsertest. They
// need no server: the pages are driven with typed values.
func TestBrowser(t *testing.T) {
	browsertest.Run(t, func(t *testing.T) []string { return nil })
}
