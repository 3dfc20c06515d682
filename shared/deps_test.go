//go:build !(js && wasm)

// Package shared_test checks the rule of every package under shared/:
// both binaries import them, so they use the standard library and each
// other only, and the wasm binary links nothing else through them.
package shared_test

import (
	"strings"
	"testing"

	"github.com/ssewasm/ssewasm/internal/depstest"
)

func TestStandardLibraryOnly(t *testing.T) {
	deps := depstest.NonStandard(t, "js", "wasm", "./...")
	const shared = "github.com/ssewasm/ssewasm/shared/"
	var seen int
	for _, dep := range deps {
		if strings.HasPrefix(dep, shared) {
			seen++
			continue
		}
		t.Errorf("a package under shared/ imports %s: shared code uses the standard library and shared/ only", dep)
	}
	// Guard against a vacuous pass: the list must be the real graph.
	if seen < 4 {
		t.Fatalf("go list -deps listed %q: not the packages of shared/", deps)
	}
}
