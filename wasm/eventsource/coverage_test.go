//go:build !(js && wasm)

package eventsource_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBrowserTestsCoverSharedEvents fails when shared/demo has a type with
// an EventName method that the browser test of typed decoding
// (typed_js_test.go) does not name, so a new shared event cannot ship
// without a test that decodes it in the browser.
func TestBrowserTestsCoverSharedEvents(t *testing.T) {
	dir := filepath.Join("..", "..", "shared", "demo")
	fset := token.NewFileSet()
	var types []string
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Go files in %s: %v", dir, err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Name.Name != "EventName" || fn.Recv == nil || len(fn.Recv.List) != 1 {
				continue
			}
			typ := fn.Recv.List[0].Type
			if star, ok := typ.(*ast.StarExpr); ok {
				typ = star.X
			}
			if id, ok := typ.(*ast.Ident); ok && id.IsExported() {
				types = append(types, id.Name)
			}
		}
	}
	if len(types) < 2 {
		t.Fatalf("found %v in shared/demo, want at least ConnectTime and Ping: is the parse broken?", types)
	}
	src, err := os.ReadFile("typed_js_test.go")
	if err != nil {
		t.Fatal(err)
	}
	body := string(src)
	i := strings.Index(body, "func TestSubscribeDecodes(")
	if i < 0 {
		t.Fatal("typed_js_test.go has no TestSubscribeDecodes")
	}
	body = body[i:]
	if j := strings.Index(body[1:], "\nfunc "); j >= 0 {
		body = body[:j+1]
	}
	for _, typ := range types {
		if !strings.Contains(body, "subscribe[demo."+typ+"]") {
			t.Errorf("shared/demo.%s is not decoded by TestSubscribeDecodes in typed_js_test.go: add it there", typ)
		}
	}
}
