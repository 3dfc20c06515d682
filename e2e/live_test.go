package e2e

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/ssewasm/ssewasm/e2e/internal/bidi"
)

// boardTexts is a JS expression listing the board's messages.
const boardTexts = `[...document.querySelectorAll("#board .message")].map(e => e.textContent)`

func hasMessage(text string) string {
	return fmt.Sprintf(`%s.includes(%q)`, boardTexts, text)
}

func badge(t *testing.T, p *tab) string {
	s, err := p.text("#state")
	if err != nil {
		t.Fatalf("reading the state badge: %v", err)
	}
	return s
}

func publish(t *testing.T, base, text string) {
	t.Helper()
	resp, err := http.Post(base+"publish?topic=board&event=board", "text/plain", strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("publish %q: %s", text, resp.Status)
	}
}

// TestLivePage opens /live in two tabs: the chart fills, a message posted
// from one tab appears on the other, and a stop and start of the server is
// shown as closed then open again, with no message posted while the second
// tab was reconnecting missing afterwards.
func TestLivePage(t *testing.T) {
	dir := buildApp(t)
	forEachBrowser(t, func(t *testing.T, b browserKind) {
		begin := time.Now()
		step := func(what string) { t.Logf("%6.1fs %s", time.Since(begin).Seconds(), what) }
		srv := startServer(t, dir, "127.0.0.1:0", "-retry", "1s")
		tab1 := openBrowser(t, b)
		tab2, err := tab1.newTab()
		if err != nil {
			t.Fatal(err)
		}
		tabs := []*tab{tab1, tab2}

		for _, tab := range tabs {
			if err := tab.navigate(srv.URL + "live"); err != nil {
				t.Fatal(err)
			}
		}
		for i, tab := range tabs {
			if _, err := pollJS[bool](tab, 30*time.Second, `document.querySelector("#state")?.textContent === "open"`); err != nil {
				t.Fatalf("tab %d: the stream did not open: %v", i+1, err)
			}
		}

		step("both tabs open")
		// The chart has data points after 3 seconds.
		time.Sleep(3 * time.Second)
		for _, id := range []string{"clients", "eps", "mem", "goroutines"} {
			n, err := evalJS[int](tab1, fmt.Sprintf(`Number(document.querySelector("#chart-%s").dataset.points)`, id))
			if err != nil || n < 2 {
				t.Errorf("chart %s has %d points after 3 s (%v), want at least 2", id, n, err)
			}
			pts, _ := evalJS[string](tab1, fmt.Sprintf(`document.querySelector("#chart-%s polyline").getAttribute("points")`, id))
			if strings.Count(pts, ",") < 2 {
				t.Errorf("chart %s draws %q", id, pts)
			}
		}
		if clients, _ := tab1.text("#chart-clients .value"); clients != "2" {
			t.Errorf("the chart says %q clients, want 2 (two tabs)", clients)
		}

		// A message typed in tab 1 appears in tab 2, as text.
		msg := `<b>hello</b> from tab 1 & "friends"`
		start := time.Now()
		if err := tab1.sendKeys("#message", msg); err != nil {
			t.Fatal(err)
		}
		if err := tab1.click("#send"); err != nil {
			t.Fatal(err)
		}
		if _, err := pollJS[bool](tab2, 5*time.Second, hasMessage(msg)); err != nil {
			t.Fatalf("tab 2 did not show the message: %v", err)
		}
		t.Logf("typed in tab 1, shown in tab 2 after %v", time.Since(start).Round(time.Millisecond))
		if v, _ := evalJS[string](tab1, `document.querySelector("#message").value`); v != "" {
			t.Errorf("the message field still holds %q after sending", v)
		}
		if n, _ := evalJS[int](tab2, `document.querySelectorAll("#board b").length`); n != 0 {
			t.Errorf("the message was rendered as HTML")
		}
		if b == chromium {
			saveScreenshot(t, tab1, "live.png") // the README's, in one browser
		}

		// Stop the server: both tabs show the stream closed.
		step("message shown")
		srv.stop(t)
		step("server stopped")
		for i, tab := range tabs {
			if _, err := pollJS[bool](tab, 10*time.Second, `document.querySelector("#state").textContent.startsWith("closed")`); err != nil {
				t.Fatalf("tab %d: still %q after the server stopped: %v", i+1, badge(t, tab), err)
			}
		}
		// Start it again and publish at once, while the tabs are still
		// waiting to reconnect.
		step("both tabs show closed")
		srv = startServer(t, dir, srv.Addr, "-retry", "1s")
		var during []string
		for i := range 3 {
			text := fmt.Sprintf("posted while reconnecting %d", i)
			publish(t, srv.URL, text)
			during = append(during, text)
		}
		for i, tab := range tabs {
			if _, err := pollJS[bool](tab, 20*time.Second, `document.querySelector("#state").textContent === "open"`); err != nil {
				t.Fatalf("tab %d did not reopen: %q, %v", i+1, badge(t, tab), err)
			}
		}
		step("both tabs open again")
		for _, text := range during {
			if _, err := pollJS[bool](tab2, 10*time.Second, hasMessage(text)); err != nil {
				board, _ := evalJS[[]string](tab2, boardTexts)
				t.Fatalf("tab 2 misses %q after reconnecting; board: %q", text, board)
			}
		}
		board, err := evalJS[[]string](tab2, boardTexts)
		if err != nil {
			t.Fatal(err)
		}
		for _, text := range append([]string{msg}, during...) {
			if n := countOf(board, text); n != 1 {
				t.Errorf("tab 2 shows %q %d times, want once; board: %q", text, n, board)
			}
		}
	})
}

func countOf(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

// TestLiveLoadsOffline loads /live in each browser, which resolves
// loopback names only (as every browser of the package: Chromium by host
// resolver rules, Firefox through a dead proxy for every other host), and
// checks in the browser's request log that every request went to the
// server.
func TestLiveLoadsOffline(t *testing.T) {
	dir := buildApp(t)
	srv := startServer(t, dir, "127.0.0.1:0")
	forEachBrowser(t, func(t *testing.T, b browserKind) {
		tab := openBrowser(t, b, logRequests())
		if err := tab.navigate(srv.URL + "live"); err != nil {
			t.Fatal(err)
		}
		if _, err := pollJS[bool](tab, 30*time.Second, `Number(document.querySelector("#chart-clients")?.dataset.points) > 0`); err != nil {
			t.Fatalf("the page did not come live: %v", err)
		}
		urls := tab.requests()
		if len(urls) < 3 {
			t.Fatalf("the request log has %d entries: %q", len(urls), urls)
		}
		var hosts []string
		for _, u := range urls {
			p, err := url.Parse(u)
			if err != nil || (p.Scheme != "data" && p.Host != srv.Addr) {
				t.Errorf("a request left the server: %s", u)
			}
			if err == nil && !slices.Contains(hosts, p.Host) {
				hosts = append(hosts, p.Host)
			}
		}
		t.Logf("%d requests, to %q", len(urls), hosts)
	})
}

// coldLoadLive loads /live of srv in a tab of browser b on a fresh
// profile and returns the time from navigation to the first event on the
// page and the bytes app.wasm took on the wire, which must be its brotli
// size.
func coldLoadLive(t testing.TB, b browserKind, srv *server) (firstMS, wasmBytes float64) {
	t.Helper()
	tab := openBrowser(t, b)
	if err := tab.navigate(srv.URL + "live"); err != nil {
		t.Fatal(err)
	}
	first, err := pollJS[float64](tab, 30*time.Second,
		`Number(document.querySelector("#chart-clients")?.dataset.points) > 0 ? performance.now() : 0`)
	if err != nil {
		t.Fatalf("no event on /live: %v", err)
	}
	transfer, err := evalJS[float64](tab,
		`performance.getEntriesByType("resource").filter(`+isWasmEntry+`).map(e => e.transferSize)[0] || 0`)
	if err != nil {
		t.Fatal(err)
	}
	if transfer == 0 || transfer > 1_500_000 {
		t.Errorf("the wasm transferred %.0f bytes, want its brotli size", transfer)
	}
	return first, transfer
}

// TestLiveColdLoad loads /live cold (a fresh profile) in each browser:
// the first event shows and app.wasm comes as brotli.
// BenchmarkLiveColdLoad measures how long the first event takes.
func TestLiveColdLoad(t *testing.T) {
	dir := buildApp(t)
	srv := startServer(t, dir, "127.0.0.1:0")
	forEachBrowser(t, func(t *testing.T, b browserKind) { coldLoadLive(t, b, srv) })
}

// BenchmarkLiveColdLoad reports, per browser, the median time from
// navigation to the first event on /live over b.N cold loads (a fresh
// profile each), and the bytes app.wasm took on the wire:
//
//	go test ./e2e -run NONE -bench LiveColdLoad -benchtime 5x
func BenchmarkLiveColdLoad(b *testing.B) {
	dir := buildApp(b)
	srv := startServer(b, dir, "127.0.0.1:0")
	for _, kind := range browsers {
		b.Run(string(kind), func(b *testing.B) {
			var firsts []float64
			var wasm float64
			for b.Loop() {
				first, transfer := coldLoadLive(b, kind, srv)
				firsts = append(firsts, first)
				wasm = transfer
			}
			slices.Sort(firsts)
			b.ReportMetric(firsts[len(firsts)/2], "first-event-ms")
			b.ReportMetric(wasm, "wasm-bytes")
		})
	}
}

// TestServiceWorkerLeavesStreams: once go-app's service worker controls
// the page, it serves the app's files, but the event stream still goes to
// the network, past the worker. Chromium's request log says which
// responses the worker gave; Firefox's (WebDriver BiDi) says which came
// from a cache, the worker's included, and which from the network.
func TestServiceWorkerLeavesStreams(t *testing.T) {
	dir := buildApp(t)
	srv := startServer(t, dir, "127.0.0.1:0")
	forEachBrowser(t, func(t *testing.T, b browserKind) {
		tab := openBrowser(t, b)
		if err := tab.navigate(srv.URL + "live"); err != nil {
			t.Fatal(err)
		}
		if _, err := pollJS[bool](tab, 30*time.Second,
			`(navigator.serviceWorker.ready.then(() => { window.workerReady = true }), window.workerReady === true)`); err != nil {
			t.Fatalf("the service worker did not become ready: %v", err)
		}
		// path -> answered without the network: by the worker (Chromium),
		// from a cache with no headers received (Firefox).
		var notNetwork func() map[string]bool
		switch d := tab.d.(type) {
		case *chromiumTab:
			notNetwork = logFromWorker(t, d.ctx)
		case *firefoxTab:
			notNetwork = logFromCache(t, d.uc)
		}
		// Reload: now the worker controls the page.
		if err := tab.navigate(srv.URL + "live"); err != nil {
			t.Fatal(err)
		}
		if _, err := pollJS[bool](tab, 30*time.Second, `document.querySelector("#state")?.textContent === "open"`); err != nil {
			t.Fatalf("the stream did not open under the service worker: %v", err)
		}
		controlled, err := evalJS[bool](tab, `!!navigator.serviceWorker.controller`)
		if err != nil || !controlled {
			t.Fatalf("the page is not controlled by the service worker (%v): the test would prove nothing", err)
		}
		text := "through the network in " + string(b)
		publish(t, srv.URL, text)
		if _, err := pollJS[bool](tab, 10*time.Second, hasMessage(text)); err != nil {
			t.Fatalf("no live event under the service worker: %v", err)
		}
		log := notNetwork()
		worker, seen := log["/events"]
		if !seen {
			t.Fatalf("no response for /events in the log: %v", log)
		}
		if worker {
			t.Errorf("the event stream did not come from the network: %v", log)
		}
		if !log["/web/app.css"] && !log["/app.js"] {
			t.Errorf("the service worker answered none of the app's files, so it is not in the path: %v", log)
		}
	})
}

// logFromCache logs, from now on, which responses Firefox got without the
// network (from a cache, with no headers received), by path.
func logFromCache(t *testing.T, uc *bidi.UserContext) func() map[string]bool {
	ctx, cancel := context.WithTimeout(context.Background(), evalTimeout)
	defer cancel()
	l, err := uc.LogResponses(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Stop)
	return func() map[string]bool {
		m := map[string]bool{}
		for _, r := range l.Responses() {
			if u, err := url.Parse(r.URL); err == nil {
				m[u.Path] = r.FromCache && r.HeadersSize == 0
			}
		}
		return m
	}
}

// logFromWorker logs, from now on, which responses of a Chromium tab the
// service worker gave, by path.
func logFromWorker(t *testing.T, ctx context.Context) func() map[string]bool {
	var mu sync.Mutex
	fromWorker := map[string]bool{}
	chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventResponseReceived); ok {
			if u, err := url.Parse(e.Response.URL); err == nil {
				mu.Lock()
				fromWorker[u.Path] = e.Response.FromServiceWorker
				mu.Unlock()
			}
		}
	})
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	return func() map[string]bool {
		mu.Lock()
		defer mu.Unlock()
		return maps.Clone(fromWorker)
	}
}
