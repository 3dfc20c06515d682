//go:build !(js && wasm)

package eventsource_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestOneJSFunc fails when the package makes a js.Func anywhere but for
// the Source's drain: listeners and the status probe's promise callbacks
// are JavaScript closures, which need no Release. syscall/js cannot count
// live js.Funcs, so the browser tests check that the drain is released
// (TestOpenCloseLeak, TestProbeReleases) and this test that it is the
// only one.
func TestOneJSFunc(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var calls []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok {
				if x, ok := sel.X.(*ast.Ident); ok && x.Name == "js" && sel.Sel.Name == "FuncOf" {
					calls = append(calls, fset.Position(sel.Pos()).String())
				}
			}
			return true
		})
	}
	if len(calls) != 1 || !strings.HasPrefix(calls[0], "eventsource_js.go:") {
		t.Errorf("js.FuncOf at %v, want once, for the drain in eventsource_js.go: make callbacks JavaScript closures that queue for the drain, or release each js.Func in a test that counts it", calls)
	}
}
