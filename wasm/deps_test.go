//go:build !(js && wasm)

package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestWasmImportsNoServerCode fails when the wasm binary's import graph
// reaches server code: linking it would double app.wasm and ship server
// internals to every browser.
func TestWasmImportsNoServerCode(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", ".")
	cmd.Env = append(cmd.Environ(), "GOOS=js", "GOARCH=wasm")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, exitStderr(err))
	}
	deps := strings.Fields(string(out))
	forbidden := []string{
		"github.com/ssewasm/ssewasm/server",
		"net/http/httptest",
		"github.com/prometheus/",
		"github.com/nats-io/",
	}
	var seen bool
	for _, d := range deps {
		if d == "github.com/ssewasm/ssewasm/wasm/eventsource" {
			seen = true
		}
		for _, f := range forbidden {
			if d == f || strings.HasPrefix(d, strings.TrimSuffix(f, "/")+"/") {
				t.Errorf("the wasm binary imports %s (forbidden: %s); move shared code to shared/", d, f)
			}
		}
	}
	// Guard against a vacuous pass: the list must be the real graph.
	if !seen {
		t.Fatalf("go list -deps did not list wasm/eventsource; got %d packages", len(deps))
	}
}

func exitStderr(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}
