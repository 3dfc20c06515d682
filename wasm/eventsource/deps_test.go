//go:build !(js && wasm)

package eventsource_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestWasmDeps checks that the js/wasm build of the package links only the
// standard library, so it adds nothing but itself to the app's wasm binary.
func TestWasmDeps(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("the go command is not in PATH: %v", err)
	}
	cmd := exec.CommandContext(t.Context(), gobin, "list", "-deps",
		"-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".")
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	const self = "github.com/ssewasm/ssewasm/wasm/eventsource"
	for _, dep := range strings.Fields(string(out)) {
		if dep != self {
			t.Errorf("the js/wasm build imports %s; it must use only the standard library", dep)
		}
	}
}
