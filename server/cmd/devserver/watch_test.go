package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestChanged: a change under wasm/ rebuilds the wasm alone, under
// server/ the server alone, under shared/ or in go.mod both; test files
// and the benchmark module rebuild nothing.
func TestChanged(t *testing.T) {
	root := t.TempDir()
	files := []string{
		"go.mod",
		"wasm/ui/ui.go",
		"wasm/ui/ui_test.go",
		"server/main.go",
		"server/bench/adapter/adapter.go",
		"shared/event/event.go",
		"web/app.css",
	}
	for _, f := range files {
		p := filepath.Join(root, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("package x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
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
		{[]string{"web/app.css"}, 0},
		{[]string{"wasm/ui/new.go"}, buildWasm}, // a new file
	}
	at := time.Now()
	for _, tt := range tests {
		before := snapshot(root)
		at = at.Add(time.Second)
		for _, f := range tt.touch {
			p := filepath.Join(root, f)
			if _, err := os.Stat(p); os.IsNotExist(err) {
				os.WriteFile(p, []byte("package x\n"), 0o644)
			}
			if err := os.Chtimes(p, at, at); err != nil {
				t.Fatal(err)
			}
		}
		if got := changed(root, before, snapshot(root)); got != tt.want {
			t.Errorf("touching %q rebuilds %v, want %v", tt.touch, got, tt.want)
		}
	}

	// A removed file counts as a change.
	before := snapshot(root)
	os.Remove(filepath.Join(root, "wasm/ui/new.go"))
	if got := changed(root, before, snapshot(root)); got != buildWasm {
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
