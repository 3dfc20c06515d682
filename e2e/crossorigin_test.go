package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// classicPage is the classic demo's original plain-JavaScript page: no Go,
// no wasm, an EventSource on the server's /stream from wherever the page
// is served.
const classicPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>EventSource</title></head>
<body><h1>EventSource</h1><div id="log"></div>
<script>
  const log = document.getElementById("log");
  function line(text) {
    const p = document.createElement("p");
    p.textContent = text;
    log.appendChild(p);
  }
  const source = new EventSource(%q);
  source.onopen = () => line("Connection open ...");
  source.addEventListener("connecttime", e => line("Start time: " + e.data));
  source.onmessage = e => line("Ping: " + e.data);
  source.onerror = () => line("Connection close.");
</script></body></html>`

// TestClassicPageCrossOrigin serves the classic plain-JavaScript page from
// another origin (a server on another port) and sees, in each browser, the
// stream open, the start time and pings: /stream answers any origin.
func TestClassicPageCrossOrigin(t *testing.T) {
	dir := buildApp(t)
	srv := startServer(t, dir, "127.0.0.1:0")
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, classicPage, srv.URL+"stream")
	}))
	defer page.Close()

	forEachBrowser(t, func(t *testing.T, b browserKind) {
		tab := openBrowser(t, b)
		if err := tab.navigate(page.URL); err != nil {
			t.Fatal(err)
		}
		origin, err := evalJS[string](tab, `location.origin`)
		if err != nil {
			t.Fatal(err)
		}
		if origin+"/" == srv.URL {
			t.Fatalf("the page is served from the stream's origin %s: the test would prove nothing", origin)
		}
		// performance.now() counts from the start of the navigation.
		firstPing, err := pollJS[float64](tab, 10*time.Second,
			`[...document.querySelectorAll("#log p")].some(p => p.textContent.startsWith("Ping: ")) ? performance.now() : 0`)
		if err != nil {
			lines, _ := evalJS[[]string](tab, `[...document.querySelectorAll("#log p")].map(p => p.textContent)`)
			t.Fatalf("no Ping: line from page %s reading %sstream: %v; the page shows %q", origin, srv.URL, err, lines)
		}
		t.Logf("%s: page on %s, stream on %s: navigation to first Ping: line %.0f ms", b, origin, srv.Addr, firstPing)

		lines, err := pollJS[[]string](tab, 10*time.Second,
			`(l => l.length >= 4 ? l : null)([...document.querySelectorAll("#log p")].map(p => p.textContent))`)
		if err != nil {
			t.Fatalf("fewer than two pings: %v", err)
		}
		if lines[0] != "Connection open ..." {
			t.Errorf("first line %q, want %q", lines[0], "Connection open ...")
		}
		if !strings.HasPrefix(lines[1], "Start time: ") || len(lines[1]) <= len("Start time: ") {
			t.Errorf("second line %q, want the start time", lines[1])
		}
		for _, l := range lines[2:] {
			if !strings.HasPrefix(l, "Ping: ") || len(l) <= len("Ping: ") {
				t.Errorf("line %q, want a ping with its time", l)
			}
		}
	})
}
