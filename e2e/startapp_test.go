package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// startAppSection is the README section that TestDevReload follows.
const startAppSection = "## Start your own app"

// snippet is a Go block of the README: the file its first line names, and
// where it goes.
type snippet struct {
	file   string // relative to the repository
	insert bool   // insert into the file, after the anchor, instead of creating it
	code   string
}

// readmeSnippets returns the Go blocks of a README section. A block's
// first line is a comment naming its file ("// shared/event/greeting.go"),
// or a file and a place in it ("// wasm/ui/ui.go, in Pages, ...").
func readmeSnippets(t *testing.T, readme, section string) []snippet {
	t.Helper()
	_, rest, ok := strings.Cut(readme, "\n"+section+"\n")
	if !ok {
		t.Fatalf("the README has no %q section", section)
	}
	if i := strings.Index(rest, "\n## "); i >= 0 {
		rest = rest[:i]
	}
	var out []snippet
	lines := strings.Split(rest, "\n")
	for i := 0; i < len(lines); i++ {
		fence := strings.TrimLeft(lines[i], " ")
		if fence != "```go" {
			continue
		}
		indent := lines[i][:len(lines[i])-len(fence)]
		var code []string
		for i++; i < len(lines) && strings.TrimLeft(lines[i], " ") != "```"; i++ {
			code = append(code, strings.TrimPrefix(lines[i], indent))
		}
		if len(code) == 0 || !strings.HasPrefix(code[0], "// ") {
			t.Fatalf("a Go block of %q does not start with a comment naming its file: %q", section, code)
		}
		name, place, _ := strings.Cut(strings.TrimPrefix(code[0], "// "), ",")
		s := snippet{file: name, insert: place != "", code: strings.Join(code[1:], "\n") + "\n"}
		if !s.insert {
			s.code = strings.Join(code, "\n") + "\n" // a new file keeps its heading comment
		}
		out = append(out, s)
	}
	return out
}

// followStartYourOwnApp applies the README's "Start your own app" to the
// repository copy in dir, as a reader would: new files as they are, the
// line for Pages after the Live page's.
func followStartYourOwnApp(t *testing.T, dir string) {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	snippets := readmeSnippets(t, string(readme), startAppSection)
	if len(snippets) < 4 {
		t.Fatalf("the README's %q has %d Go blocks, want the event type, the publisher, the page and the route", startAppSection, len(snippets))
	}
	for _, s := range snippets {
		p := filepath.Join(dir, s.file)
		if !s.insert {
			if _, err := os.Stat(p); err == nil {
				t.Fatalf("the README creates %s, which exists", s.file)
			}
			if err := os.WriteFile(p, []byte(s.code), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		const anchor = "{Path: LivePath,"
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		i := strings.Index(string(b), anchor)
		if i < 0 {
			t.Fatalf("%s has no %q to insert the README's line after", s.file, anchor)
		}
		end := i + strings.IndexByte(string(b[i:]), '\n') + 1
		b = append(b[:end:end], append([]byte(s.code), b[end:]...)...)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
