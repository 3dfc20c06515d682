package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// target is what a change makes the loop rebuild: a set of bits.
type target int

const (
	buildWasm target = 1 << iota
	buildServer
	// staticFiles changed (web/): nothing builds, the server restarts so
	// that pages load them anew.
	staticFiles
	buildBoth = buildWasm | buildServer
)

func (t target) String() string {
	var parts []string
	for _, p := range []struct {
		t    target
		name string
	}{{buildWasm, "wasm"}, {buildServer, "server"}, {staticFiles, "web/ files"}} {
		if t&p.t != 0 {
			parts = append(parts, p.name)
		}
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, " and ")
}

// watched are the directories whose Go files the loop watches.
var watched = []string{"wasm", "server", "shared"}

// binaries says which binaries compile each Go file: a file of wasm/ui
// is in both, since the server registers the pages and prerenders them.
type binaries struct {
	files map[string]target // by absolute path
	dirs  map[string]target // by package directory, for files not listed yet
}

// listBinaries asks the go command which files each binary compiles.
func listBinaries(ctx context.Context, goCmd, root string) (binaries, error) {
	b := binaries{files: make(map[string]target), dirs: make(map[string]target)}
	for _, bin := range []struct {
		t   target
		pkg string
		env []string
	}{
		{buildWasm, "./wasm", []string{"GOOS=js", "GOARCH=wasm"}},
		{buildServer, "./server", nil},
	} {
		cmd := exec.CommandContext(ctx, goCmd, "list", "-e", "-deps", "-f",
			`{{if not .Standard}}{{$d := .Dir}}{{$d}}{{"\n"}}{{range .GoFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{end}}`, bin.pkg)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), bin.env...)
		out, err := cmd.Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				err = fmt.Errorf("%w: %s", err, ee.Stderr)
			}
			return b, fmt.Errorf("go list %s: %w", bin.pkg, err)
		}
		for line := range strings.Lines(string(out)) {
			line = strings.TrimSpace(line)
			if strings.HasSuffix(line, ".go") {
				b.files[line] |= bin.t
			} else if line != "" {
				b.dirs[line] |= bin.t
			}
		}
	}
	return b, nil
}

// of returns what a change to the file at path rebuilds.
func (b binaries) of(root, path string) target {
	switch filepath.Base(path) {
	case "go.mod", "go.sum":
		if filepath.Dir(path) == root {
			return buildBoth
		}
	}
	if strings.HasSuffix(path, "_test.go") {
		return 0
	}
	if filepath.Dir(path) == filepath.Join(root, "web") {
		return staticFiles
	}
	if t, ok := b.files[path]; ok {
		return t
	}
	return b.dirs[filepath.Dir(path)] // a new file builds with its package
}

// fileState is what a poll sees of a file.
type fileState struct {
	mod  time.Time
	size int64
}

// snapshot lists the watched files under root: the Go files and web/.
// Test files and the
// separate benchmark module (server/bench) do not go into a binary, so
// they are left out.
func snapshot(root string) map[string]fileState {
	files := make(map[string]fileState)
	add := func(path string) {
		if st, err := os.Stat(path); err == nil {
			files[path] = fileState{st.ModTime(), st.Size()}
		}
	}
	add(filepath.Join(root, "go.mod"))
	add(filepath.Join(root, "go.sum"))
	// The static files (CSS, icons), but not the app.wasm the loop builds.
	if entries, err := os.ReadDir(filepath.Join(root, "web")); err == nil {
		for _, e := range entries {
			if !e.IsDir() && !strings.HasPrefix(e.Name(), "app.wasm") {
				add(filepath.Join(root, "web", e.Name()))
			}
		}
	}
	for _, dir := range watched {
		filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil // a directory removed meanwhile
			}
			if d.IsDir() {
				if path == filepath.Join(root, "server", "bench") || strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" {
					return filepath.SkipDir
				}
				return nil
			}
			if strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
				add(path)
			}
			return nil
		})
	}
	return files
}

// changed returns what the differences between two snapshots rebuild,
// with of saying what each changed file rebuilds.
func changed(before, after map[string]fileState, of func(path string) target) target {
	var t target
	for p, st := range after {
		if old, ok := before[p]; !ok || old != st {
			t |= of(p)
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			t |= of(p)
		}
	}
	return t
}
