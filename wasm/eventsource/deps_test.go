//go:build !(js && wasm)

package eventsource_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestWasmDeps checks that the js/wasm build of the package links only the
// standard library, shared/event, shared/protocol and shared/topic (all
// three standard-library only), so it adds nothing but itself, the shared
// types, the protocol's names and the topic declarations to the app's wasm
// binary.
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
	allowed := map[string]bool{
		"github.com/ssewasm/ssewasm/wasm/eventsource": true,
		"github.com/ssewasm/ssewasm/shared/event":     true,
		"github.com/ssewasm/ssewasm/shared/protocol":  true,
		"github.com/ssewasm/ssewasm/shared/topic":     true,
	}
	for _, dep := range strings.Fields(string(out)) {
		if !allowed[dep] {
			t.Errorf("the js/wasm build imports %s; it must use only the standard library, shared/event, shared/protocol and shared/topic", dep)
		}
	}
}
