//go:build !(js && wasm)

package ssetest

import (
	"testing"

	"github.com/ssewasm/ssewasm/wasm/internal/browsertest"
)

// RunBrowser runs the wasm tests of the package in the current directory in
// headless Chromium (see package browsertest), against a new [Server]
// whose URL they find in [envURL].
func RunBrowser(t *testing.T) {
	t.Helper()
	browsertest.Run(t, func(t *testing.T) []string {
		return []string{envURL + "=" + start(t).URL}
	})
}
