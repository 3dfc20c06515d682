// Package depstest lists what a build imports, for tests that keep a
// package's import graph small: the wasm binary must not link server
// code, and shared/ uses the standard library only.
//
//	for _, dep := range depstest.NonStandard(t, "js", "wasm", ".") {
//		if !allowed[dep] {
//			t.Errorf("the js/wasm build imports %s", dep)
//		}
//	}
package depstest

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// NonStandard returns the import paths, outside the standard library, of
// the packages matching patterns and of everything they import, built
// for goos and goarch, from `go list -deps` in the working directory. It
// fails t when the go command fails.
func NonStandard(t testing.TB, goos, goarch string, patterns ...string) []string {
	t.Helper()
	args := append([]string{"list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}"}, patterns...)
	cmd := exec.CommandContext(t.Context(), "go", args...)
	cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch)
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("go list -deps %s (GOOS=%s GOARCH=%s): %v\n%s", strings.Join(patterns, " "), goos, goarch, err, stderr)
	}
	return strings.Fields(string(out))
}
