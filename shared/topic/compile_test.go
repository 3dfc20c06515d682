package topic_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The snippets of TestWrongPayloadDoesNotBuild: each is the body of a
// package that declares a topic of A and a family of A, and generic
// publish and subscribe helpers as the server and the browser client
// write them; a client snippet also imports the browser client's
// packages, whose OnTopic functions subscribe by declaration.
const (
	compileHeader = `package p

import (
	"github.com/ssewasm/ssewasm/shared/event"
	"github.com/ssewasm/ssewasm/shared/topic"
)
`
	clientImports = `
import (
	"github.com/maxence-charriere/go-app/v10/pkg/app"
	"github.com/ssewasm/ssewasm/wasm/eventsource"
	"github.com/ssewasm/ssewasm/wasm/eventsource/appstream"
)

var (
	_ *eventsource.Source
	_ app.Context
	_ appstream.Handler
)
`
	compilePrelude = `
type A struct{ N int }

func (A) EventName() string { return "a" }

type B struct{ N int }

func (B) EventName() string { return "b" }

var (
	t = topic.New[A]("a", topic.Public)
	f = topic.NewFamily[A]("f/", topic.NewKeySyntax("key", "a-z", "a-z", 8), topic.Owner)
)

func publish[T event.Named](t topic.Topic[T], v T) {
	_, _, _ = t.Encode(v)
}

func subscribe[T event.Named](t topic.Topic[T], h func(T)) {
	v, _ := t.Decode("{}")
	h(v)
}

var _ = f
`
)

// TestWrongPayloadDoesNotBuild compiles snippets that publish or
// subscribe with the wrong payload type and checks that each fails with
// the type error, and that the right type builds. The snippets are
// packages of this module that exist only in a go build -overlay.
func TestWrongPayloadDoesNotBuild(t *testing.T) {
	cases := []struct {
		name, body, want string // want "": it builds; a name "client: ..." adds clientImports
	}{
		{"right types", `func x() {
	publish(t, A{N: 1})
	subscribe(t, func(A) {})
	u, _ := f.For("alice")
	publish(u, A{})
	_, _, _ = t.Encode(A{})
	var a A
	a, _ = t.Decode("{}")
	_ = a
}`, ""},
		{"publish", `func x() { publish(t, B{}) }`, "type B of B{} does not match inferred type A for T"},
		{"publish to a family's topic", `func x() { u, _ := f.For("alice"); publish(u, B{}) }`, "type B of B{} does not match inferred type A for T"},
		{"encode", `func x() { _, _, _ = t.Encode(B{}) }`, "cannot use B{} (value of struct type B) as A value in argument to t.Encode"},
		{"subscribe", `func x() { subscribe(t, func(B) {}) }`, "does not match inferred type func(A) for func(T)"},
		{"decode", `func x() { var b B; b, _ = t.Decode("{}"); _ = b }`, "cannot use t.Decode(\"{}\") (value of struct type A) as B value in assignment"},
		{"topic of another type", `func x() { var u topic.Topic[B] = t; _ = u }`, "cannot use t (variable of struct type topic.Topic[A]) as topic.Topic[B] value in variable declaration"},
		{"payload without a name", `var _ = topic.New[int]("i", topic.Public)`, "int does not satisfy event.Named (missing method EventName)"},
		{"client: right types", `func x(s *eventsource.Source) {
	u, _ := f.For("alice")
	eventsource.OnTopic(s, t, func(v A, id string) {}, nil)
	eventsource.OnTopic(s, u, func(v A, id string) {}, nil)
	_ = appstream.OnTopic(t, func(ctx app.Context, v A, id string) {})
	_ = appstream.OnTopic(u, func(ctx app.Context, v A, id string) {})
	_ = eventsource.TopicsURL("/events", t, u)
}`, ""},
		{"client: eventsource.OnTopic", `func x(s *eventsource.Source) { eventsource.OnTopic(s, t, func(v B, id string) {}, nil) }`,
			"type func(v B, id string) of func(v B, id string) {} does not match inferred type func(v A, id string) for func(v T, id string)"},
		{"client: eventsource.OnTopic of a family's topic", `func x(s *eventsource.Source) { u, _ := f.For("alice"); eventsource.OnTopic(s, u, func(v B, id string) {}, nil) }`,
			"does not match inferred type func(v A, id string) for func(v T, id string)"},
		{"client: appstream.OnTopic", `var _ = appstream.OnTopic(t, func(ctx app.Context, v B, id string) {})`,
			"does not match inferred type func(ctx app.Context, v A, id string) for func(ctx app.Context, v T, id string)"},
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is not in PATH: %v", err)
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	// Virtual package directories: they exist only in the overlay.
	virtual := filepath.Join(root, "shared", "topic", "internal", "compiletest_overlay_only")
	tmp := t.TempDir()
	overlay := map[string]string{}
	pkgs := make([]string, len(cases))
	for i, c := range cases {
		real := filepath.Join(tmp, fmt.Sprintf("case%d.go", i))
		src := compileHeader
		if strings.HasPrefix(c.name, "client: ") {
			src += clientImports
		}
		src += compilePrelude + "\n" + c.body + "\n"
		if err := os.WriteFile(real, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(virtual, "case"+string(rune('a'+i)))
		overlay[filepath.Join(dir, "p.go")] = real
		pkgs[i] = dir
	}
	js, _ := json.Marshal(map[string]any{"Replace": overlay})
	overlayFile := filepath.Join(tmp, "overlay.json")
	if err := os.WriteFile(overlayFile, js, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), gobin, append([]string{"build", "-overlay=" + overlayFile}, pkgs...)...)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("every snippet built; want type errors:\n%s", out)
	}
	// go build prints "# <import path>" above each package's errors.
	byPkg := map[string]string{}
	var cur string
	for line := range strings.Lines(string(out)) {
		if p, ok := strings.CutPrefix(line, "# "); ok {
			cur = strings.TrimSpace(p)
			continue
		}
		byPkg[cur] += line
	}
	for i, c := range cases {
		path := "github.com/ssewasm/ssewasm/shared/topic/internal/compiletest_overlay_only/case" + string(rune('a'+i))
		errs, failed := byPkg[path]
		switch {
		case c.want == "" && failed:
			t.Errorf("%s: does not build:\n%s", c.name, errs)
		case c.want != "" && !failed:
			t.Errorf("%s: builds; want %q\n(go build said:\n%s)", c.name, c.want, out)
		case c.want != "" && !strings.Contains(errs, c.want):
			t.Errorf("%s: errors do not say %q:\n%s", c.name, c.want, errs)
		}
	}
}

// moduleRoot returns the directory of the go.mod above the working
// directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
}
