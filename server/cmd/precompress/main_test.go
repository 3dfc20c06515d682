package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
)

func TestPrecompressRoundTrip(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "app.wasm")
	raw := bytes.Repeat([]byte("\x00asm some wasm-like bytes "), 2000)
	if err := os.WriteFile(name, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := precompress(name, &out); err != nil {
		t.Fatal(err)
	}
	br, _ := os.ReadFile(name + ".br")
	got, err := io.ReadAll(brotli.NewReader(bytes.NewReader(br)))
	if err != nil || !bytes.Equal(got, raw) {
		t.Fatalf("brotli copy does not decode to the input: %v", err)
	}
	gz, _ := os.ReadFile(name + ".gz")
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	got, err = io.ReadAll(zr)
	if err != nil || !bytes.Equal(got, raw) {
		t.Fatalf("gzip copy does not decode to the input: %v", err)
	}
	if len(br) >= len(raw)/10 {
		t.Errorf("brotli copy is %d bytes for %d repetitive bytes: not compressed", len(br), len(raw))
	}

	// Unchanged input: the copies are only marked current.
	out.Reset()
	if err := precompress(name, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "up to date") {
		t.Errorf("second run recompressed: %s", out.String())
	}

	// Changed input: compressed again.
	if err := os.WriteFile(name, append(raw, 'x'), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := precompress(name, &out); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "up to date") {
		t.Errorf("changed input was not recompressed: %s", out.String())
	}
}
