package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// countLines is a JS expression counting the classic log's lines of a kind.
func countLines(kind string) string {
	return fmt.Sprintf(`document.querySelectorAll("#log .line.%s").length`, kind)
}

// TestClassicDemo loads the real page from the real server in each
// browser and watches the classic demo run: open, start time, pings; then
// stops the server (the page says "Connection close."), starts it again on
// the same address, and watches the browser reconnect and the pings resume.
// The browsers run side by side, each with its own server: each spends
// most of its run waiting out the stream's retry of 10 s.
func TestClassicDemo(t *testing.T) {
	dir := buildApp(t)
	forEachBrowser(t, func(t *testing.T, b browserKind) {
		t.Parallel()
		srv := startServer(t, dir, "127.0.0.1:0")
		tab := openBrowser(t, b)
		if err := tab.navigate(srv.URL); err != nil {
			t.Fatal(err)
		}
		// performance.now() counts from the start of the navigation.
		firstPing, err := pollJS[float64](tab, 60*time.Second, countLines("ping")+` > 0 ? performance.now() : 0`)
		if err != nil {
			t.Fatalf("no Ping: line within 60s: %v\nserver log:\n%s", err, srv.log)
		}
		t.Logf("navigation to first Ping: line: %.0f ms", firstPing)

		if _, err := pollJS[bool](tab, 10*time.Second, countLines("ping")+` >= 2`); err != nil {
			t.Fatalf("fewer than two Ping: lines: %v", err)
		}
		lines, err := evalJS[[]string](tab, `[...document.querySelectorAll("#log .line")].map(e => e.textContent)`)
		if err != nil {
			t.Fatal(err)
		}
		if len(lines) < 4 {
			t.Fatalf("log has %d lines, want at least 4: %q", len(lines), lines)
		}
		if lines[0] != "Connection open ..." {
			t.Errorf("first line = %q, want %q", lines[0], "Connection open ...")
		}
		if !strings.HasPrefix(lines[1], "Start time: ") || strings.Contains(lines[1], "undecodable") {
			t.Errorf("second line = %q, want a decoded start time", lines[1])
		}
		for _, l := range lines[2:] {
			if !strings.HasPrefix(l, "Ping: ") || strings.Contains(l, "undecodable") {
				t.Errorf("line %q, want a decoded ping", l)
			}
		}
		if state, err := tab.text("#state"); err != nil || state != "open" {
			t.Errorf("state badge = %q, %v; want open", state, err)
		}
		if b == chromium {
			saveScreenshot(t, tab, "classic.png") // the README's, in one browser
		}

		// Stop the server with the stream open: it must exit on its own
		// (stop fails the test if it had to kill it), although the open
		// stream never ends by itself, and the page must say the
		// connection closed.
		srv.stop(t)
		if _, err := pollJS[bool](tab, 10*time.Second, countLines("close")+` > 0`); err != nil {
			t.Fatalf("no \"Connection close.\" after the server stopped: %v", err)
		}
		pings, err := evalJS[int](tab, countLines("ping"))
		if err != nil {
			t.Fatal(err)
		}

		// Bring it back on the same address: the browser reconnects on its
		// own after the server's retry (10 s) and the lines resume.
		startServer(t, dir, srv.Addr)
		if _, err := pollJS[bool](tab, 30*time.Second, countLines("open")+` >= 2`); err != nil {
			t.Fatalf("the browser did not reconnect within 30s: %v", err)
		}
		if _, err := pollJS[bool](tab, 10*time.Second, fmt.Sprintf("%s > %d", countLines("ping"), pings)); err != nil {
			t.Fatalf("pings did not resume after the reconnect: %v", err)
		}
	})
}
