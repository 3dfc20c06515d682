package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// target is what a change makes the loop rebuild: a set of bits.
type target int

const (
	buildWasm target = 1 << iota
	buildServer
	buildBoth = buildWasm | buildServer
)

func (t target) String() string {
	switch t {
	case buildWasm:
		return "wasm"
	case buildServer:
		return "server"
	case buildBoth:
		return "wasm and server"
	}
	return "nothing"
}

// watched are the directories whose Go files the loop watches, and what a
// change in each rebuilds.
var watched = []struct {
	dir    string
	target target
}{
	{"wasm", buildWasm},
	{"server", buildServer},
	{"shared", buildBoth},
}

// fileState is what a poll sees of a file.
type fileState struct {
	mod  time.Time
	size int64
}

// snapshot lists the watched files under root. Test files and the
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
	for _, w := range watched {
		filepath.WalkDir(filepath.Join(root, w.dir), func(path string, d fs.DirEntry, err error) error {
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

// changed returns what the differences between two snapshots rebuild.
func changed(root string, before, after map[string]fileState) target {
	var t target
	visit := func(path string) {
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return
		}
		rel = filepath.ToSlash(rel)
		for _, w := range watched {
			if strings.HasPrefix(rel, w.dir+"/") {
				t |= w.target
				return
			}
		}
		t |= buildBoth // go.mod, go.sum
	}
	for p, st := range after {
		if old, ok := before[p]; !ok || old != st {
			visit(p)
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			visit(p)
		}
	}
	return t
}
