package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fastest is the brotli quality the tests use: they check the counting,
// not the compression.
const fastest = 1

func TestPackageOf(t *testing.T) {
	tests := []struct{ fn, pkg string }{
		{"runtime.mallocgc", "runtime"},
		{"internal_runtime_maps.__Iter_.Next", "internal_runtime_maps"},
		{"github.com_maxence_charriere_go_app_v10_pkg_app.__Handler_.ServeHTTP", "github.com_maxence_charriere_go_app_v10_pkg_app"},
		{"golang.org_x_net_http2.init", "golang.org_x_net_http2"},
		{"type_.eq.sync_atomic.Pointer_internal_sync.entry", "type_"},
		{"fmt.__pp_.doPrint", "fmt"},
		{"unique.clone_go.shape.string", "unique"},
		{"time.parseRFC3339_go.shape.string", "time"},
		{"go.uber.org_goleak.Find", "go.uber.org_goleak"},
		{"vendor_golang.org_x_net_http2_hpack.init", "vendor_golang.org_x_net_http2_hpack"},
		{"vendor.init", "vendor"},
		{"go_buildid", "go_buildid"},
		{"", "(unnamed)"},
	}
	for _, tt := range tests {
		if got := packageOf(tt.fn); got != tt.pkg {
			t.Errorf("packageOf(%q) = %q, want %q", tt.fn, got, tt.pkg)
		}
	}
}

// buildHello builds testdata/hello for js/wasm into a temporary
// directory, with symbols or without, and returns the binary's path.
func buildHello(t *testing.T, ldflags string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: builds a wasm binary")
	}
	out := filepath.Join(t.TempDir(), "hello.wasm")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags="+ldflags, "-o", out, "./testdata/hello")
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building testdata/hello: %v\n%s", err, b)
	}
	return out
}

// TestRun lists a real binary's packages: every function body is counted
// once, in its package, and comparing a binary with itself lists nothing.
func TestRun(t *testing.T) {
	path := buildHello(t, "")
	bin, err := load(path)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, n := range bin.sizes {
		total += n
	}
	sum := 0
	for _, r := range bin.packages(fastest) {
		sum += r.code
		if r.brotli <= 0 || r.brotli > r.code+64 {
			t.Errorf("package %s: %d bytes, %d in brotli", r.name, r.code, r.brotli)
		}
	}
	// The code section holds the bodies and, before each, its length.
	if sum != total || total == 0 || total >= len(bin.code) {
		t.Errorf("packages add up to %d bytes, function bodies to %d, code section %d", sum, total, len(bin.code))
	}
	for _, p := range []string{"runtime", "fmt", "main"} {
		if len(bin.pkgs[p]) == 0 {
			t.Errorf("no code of package %s", p)
		}
	}

	var out bytes.Buffer
	if err := run(&out, path, "", 5, fastest); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(out.String()), "\n"); len(lines) != 7 || !strings.HasPrefix(lines[2], "runtime ") {
		t.Errorf("the top 5 packages, runtime first:\n%s", out.String())
	}
	out.Reset()
	if err := run(&out, path, path, 0, fastest); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(out.String()), "\n"); len(lines) != 3 {
		t.Errorf("a binary compared with itself lists packages:\n%s", out.String())
	}
}

// TestRefused: a binary without symbols, or not wasm at all, gets an
// error that says what to do.
func TestRefused(t *testing.T) {
	if _, err := load(buildHello(t, "-s -w")); !errors.Is(err, errNoNames) {
		t.Errorf("a stripped binary: %v, want %v", err, errNoNames)
	}
	for _, b := range [][]byte{nil, []byte("\x7fELF\x02\x01\x01\x00"), []byte("\x00asm\x01\x00\x00\x00\x0a\x05\x01")} {
		if _, err := parse(b); err == nil {
			t.Errorf("parse(%q) succeeded", b)
		}
	}
}

// FuzzParse: no input makes parse panic.
func FuzzParse(f *testing.F) {
	f.Add([]byte("\x00asm\x01\x00\x00\x00"))
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x02\x07\x01\x01m\x01f\x00\x00\x0a\x04\x01\x02\x00\x0b"))
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x00\x0a\x04name\x01\x03\x01\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		parse(b)
	})
}
