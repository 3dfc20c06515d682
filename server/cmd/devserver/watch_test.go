package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestListBinaries asks the go command about this repository: a file
// that only the wasm binary compiles rebuilds the wasm alone, server code
// the server alone, shared/ and wasm/ui (which the server compiles for
// its routes and prerendering) both; test files and the load tool nothing.
func TestListBinaries(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		t.Fatal(err)
	}
	root := strings.TrimSpace(string(out))
	b, err := listBinaries(context.Background(), "go", root)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		file string
		want target
	}{
		{"wasm/main.go", buildWasm},
		{"wasm/eventsource/eventsource_js.go", buildWasm},
		{"wasm/eventsource/eventsource_other.go", buildServer},
		{"wasm/ui/classic.go", buildBoth},
		{"wasm/ui/new_page.go", buildBoth}, // not there yet: built with its package
		{"shared/event/event.go", buildBoth},
		{"server/main.go", buildServer},
		{"server/sse/broker.go", buildServer},
		{"server/cmd/ssebench/main.go", 0},
		{"server/main_test.go", 0},
		{"go.mod", buildBoth},
		{"web/app.css", staticFiles},
	}
	for _, tt := range tests {
		if got := b.of(root, filepath.Join(root, tt.file)); got != tt.want {
			t.Errorf("a change to %s rebuilds %v, want %v", tt.file, got, tt.want)
		}
	}
}

// TestChanged: new, changed and removed Go files count, test files and
// other files do not, and what each rebuilds is combined.
func TestChanged(t *testing.T) {
	root := t.TempDir()
	of := func(path string) target {
		switch {
		case strings.Contains(path, "/wasm/"):
			return buildWasm
		case strings.Contains(path, "/server/"):
			return buildServer
		}
		return buildBoth
	}
	write := func(f string) {
		p := filepath.Join(root, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("package x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"go.mod", "wasm/ui/ui.go", "wasm/ui/ui_test.go", "server/main.go",
		"server/bench/adapter/adapter.go", "shared/event/event.go", "web/app.css", "web/app.wasm"} {
		write(f)
	}
	at := time.Now()
	tests := []struct {
		touch []string
		want  target
	}{
		{nil, 0},
		{[]string{"wasm/ui/ui.go"}, buildWasm},
		{[]string{"server/main.go"}, buildServer},
		{[]string{"wasm/ui/ui.go", "server/main.go"}, buildBoth},
		{[]string{"shared/event/event.go"}, buildBoth},
		{[]string{"go.mod"}, buildBoth},
		{[]string{"wasm/ui/ui_test.go"}, 0},
		{[]string{"server/bench/adapter/adapter.go"}, 0},
		{[]string{"web/app.css"}, buildBoth}, // what the test's of says; listBinaries says staticFiles
		{[]string{"web/app.wasm"}, 0},
		{[]string{"wasm/ui/new.go"}, buildWasm},
	}
	for _, tt := range tests {
		before := snapshot(root)
		at = at.Add(time.Second)
		for _, f := range tt.touch {
			if _, err := os.Stat(filepath.Join(root, f)); os.IsNotExist(err) {
				write(f)
			}
			if err := os.Chtimes(filepath.Join(root, f), at, at); err != nil {
				t.Fatal(err)
			}
		}
		if got := changed(before, snapshot(root), of); got != tt.want {
			t.Errorf("touching %q rebuilds %v, want %v", tt.touch, got, tt.want)
		}
	}
	before := snapshot(root)
	os.Remove(filepath.Join(root, "wasm/ui/new.go"))
	if got := changed(before, snapshot(root), of); got != buildWasm {
		t.Errorf("removing a wasm file rebuilds %v, want wasm", got)
	}
}

func TestFixPort(t *testing.T) {
	addr, err := fixPort("127.0.0.1:0")
	if err != nil || addr == "127.0.0.1:0" {
		t.Errorf("fixPort(:0) = %q, %v: want a chosen port", addr, err)
	}
	if addr, err := fixPort("127.0.0.1:8844"); err != nil || addr != "127.0.0.1:8844" {
		t.Errorf("fixPort kept %q, %v", addr, err)
	}
	if _, err := fixPort("8844"); err == nil {
		t.Errorf("fixPort accepted an address without a host part")
	}
}
