package e2e

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestLiveFailedState opens /live on a topic the real server refuses with
// 400 in each browser: the browser's EventSource gives up, the page's
// client probes the status once, shows the failed state with the status
// in words, and requests the stream no more (the server's access log and
// the browser's request log agree: the stream and one probe), where it
// used to reopen forever.
func TestLiveFailedState(t *testing.T) {
	dir := buildApp(t)
	srv := startServer(t, dir, "127.0.0.1:0")
	forEachBrowser(t, func(t *testing.T, b browserKind) {
		// Each browser its own refused topic, so that the server's log
		// tells their requests apart.
		topic := "no such topic! " + string(b)
		tab := openBrowser(t, b, logRequests())
		if err := tab.navigate(srv.URL + "live?" + url.Values{"topic": {topic}}.Encode()); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if _, err := pollJS[bool](tab, 30*time.Second, `document.querySelector("#state")?.textContent.startsWith("failed")`); err != nil {
			t.Fatalf("the page does not show the failed state: %q, %v", badge(t, tab), err)
		}
		t.Logf("failed state shown %v after the page loaded", time.Since(start).Round(time.Millisecond))
		if got, want := badge(t, tab), "failed: 400 Bad Request"; got != want {
			t.Errorf("badge %q, want %q", got, want)
		}
		if b == chromium {
			saveScreenshot(t, tab, "live-failed.png") // with -screenshots
		}
		notice, err := tab.text("#notice")
		if err != nil || !strings.Contains(notice, "400 Bad Request") || !strings.Contains(notice, "not reconnecting") {
			t.Errorf("notice %q (%v), want the status in words and that it stopped", notice, err)
		}
		// The default backoff would reopen within 1 s, then within 2 s.
		time.Sleep(4 * time.Second)
		if got := badge(t, tab); got != "failed: 400 Bad Request" {
			t.Errorf("badge %q after 4 s, want it still failed", got)
		}
		q := url.Values{"topic": {topic}}.Encode() // as the page's URL encodes it
		var browserSaw int
		for _, u := range tab.requests() {
			if strings.Contains(u, "/events?") && strings.Contains(u, q) {
				browserSaw++
			}
		}
		serverSaw := strings.Count(srv.log.String(), "path=/events") // every browser so far
		t.Logf("requests for the stream: %d in the browser's log, %d at the server (both browsers so far)", browserSaw, serverSaw)
		if browserSaw != 2 {
			t.Errorf("the browser requested the stream %d times, want 2: the EventSource and one probe", browserSaw)
		}
		if want := 2 * (1 + indexOf(browsers, b)); serverSaw != want {
			t.Errorf("the server saw %d stream requests, want %d (two per browser)\n%s", serverSaw, want, srv.log)
		}
	})
}

func indexOf[T comparable](list []T, v T) int {
	for i, x := range list {
		if x == v {
			return i
		}
	}
	return -1
}
