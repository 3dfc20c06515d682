package e2e

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

const abstractionPage = `<!doctype html><title>two browsers</title>
<input id="in"><button id="go" onclick="document.querySelector('#out').textContent = document.querySelector('#in').value">go</button>
<p id="out"></p><p id="spaced">one   <b>two</b>
  three</p>
<script>setTimeout(() => { window.late = 42 }, 100)</script>`

// TestBrowsers: the browser abstraction answers alike in every browser,
// so that a test written once means the same in each.
func TestBrowsers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(abstractionPage))
	}))
	defer srv.Close()
	forEachBrowser(t, func(t *testing.T, b browserKind) {
		tab := openBrowser(t, b, logRequests())
		if err := tab.navigate(srv.URL + "/first"); err != nil {
			t.Fatal(err)
		}
		type obj struct {
			N    float64
			List []string
		}
		if got, err := evalJS[obj](tab, `const n = 1.5; ({n, list: ["a", "b"]})`); err != nil || got.N != 1.5 || !slices.Equal(got.List, []string{"a", "b"}) {
			t.Errorf("an object: %+v, %v", got, err)
		}
		if got, err := evalJS[string](tab, `new Promise(r => setTimeout(() => r("awaited"), 10))`); err != nil || got != "awaited" {
			t.Errorf("a promise: %q, %v", got, err)
		}
		for _, script := range []string{`undefined`, `null`} {
			if got, err := evalJS[int](tab, script); err != nil || got != 0 {
				t.Errorf("%s into an int: %d, %v; want 0, nil", script, got, err)
			}
		}
		if _, err := evalJS[int](tab, `throw new Error("thrown on purpose")`); err == nil {
			t.Errorf("a throw gave no error")
		}
		if got, err := pollJS[int](tab, 5*time.Second, `window.late`); err != nil || got != 42 {
			t.Errorf("poll: %d, %v", got, err)
		}
		if _, err := pollJS[bool](tab, 100*time.Millisecond, `false`); err == nil {
			t.Errorf("a poll that never succeeds gave no error")
		}
		if got, err := tab.text("#spaced"); err != nil || got != "one two three" {
			t.Errorf("text of a paragraph: %q, %v; want it as rendered", got, err)
		}
		typed := `<b>typed</b> & "quoted" ✓`
		if err := tab.sendKeys("#in", typed); err != nil {
			t.Fatal(err)
		}
		if err := tab.click("#go"); err != nil {
			t.Fatal(err)
		}
		if got, err := tab.text("#out"); err != nil || got != typed {
			t.Errorf("typed and clicked: %q, %v; want %q", got, err, typed)
		}
		png, err := tab.screenshot()
		if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
			t.Errorf("screenshot: %.8q, %v", png, err)
		}
		tab2, err := tab.newTab()
		if err != nil {
			t.Fatal(err)
		}
		if err := tab2.navigate(srv.URL + "/second"); err != nil {
			t.Fatal(err)
		}
		// A hidden page gets no animation frames and slow timers.
		v1, err1 := evalJS[string](tab, `document.visibilityState`)
		v2, err2 := evalJS[string](tab2, `document.visibilityState`)
		if v1 != "visible" || v2 != "visible" {
			t.Errorf("the tabs are %q (%v) and %q (%v), want both visible", v1, err1, v2, err2)
		}
		p1, _ := evalJS[string](tab, `location.pathname`)
		p2, _ := evalJS[string](tab2, `location.pathname`)
		if p1 != "/first" || p2 != "/second" {
			t.Errorf("tabs at %q and %q, want /first and /second", p1, p2)
		}
		var paths []string
		for _, u := range tab.requests() {
			if p, ok := strings.CutPrefix(u, srv.URL); ok {
				paths = append(paths, p)
			}
		}
		if !slices.Contains(paths, "/first") {
			t.Errorf("the request log misses /first: %q", tab.requests())
		}
	})
}
