//go:build !(js && wasm)

package call_test

import (
	"testing"

	"github.com/ssewasm/ssewasm/internal/depstest"
)

// TestWasmDeps checks that the js/wasm build of the package links only
// the standard library and shared/action (standard library only).
func TestWasmDeps(t *testing.T) {
	allowed := map[string]bool{
		"github.com/ssewasm/ssewasm/wasm/call":     true,
		"github.com/ssewasm/ssewasm/shared/action": true,
	}
	deps := depstest.NonStandard(t, "js", "wasm", ".")
	if len(deps) < 2 {
		t.Fatalf("go list listed %q: not the real graph", deps)
	}
	for _, dep := range deps {
		if !allowed[dep] {
			t.Errorf("the js/wasm build imports %s; it must use only the standard library and shared/action", dep)
		}
	}
}
