package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// paintMarks runs in every document before its own scripts (Chromium:
// Page.addScriptToEvaluateOnNewDocument; Firefox: BiDi's
// script.addPreloadScript), so no milestone can be missed or seen late by
// polling: it records,
// in performance.now() milliseconds from the start of the navigation, when
// each milestone of the classic demo first shows, and whether go-app's
// loading indicator covers the page's content when it is first painted.
const paintMarks = `
window.__marks = {};
const mark = (k) => { if (!(k in __marks)) __marks[k] = performance.now(); };
const check = () => {
	for (const li of document.querySelectorAll("#log .line")) {
		for (const k of ["Connection open", "Start time:", "Ping:"]) {
			if (li.textContent.startsWith(k)) mark(k);
		}
	}
	if (document.querySelector("h1")) mark("content");
};
new MutationObserver(check).observe(document, {childList: true, subtree: true, characterData: true});
document.addEventListener("DOMContentLoaded", () => {
	check();
	// Is the heading visible, or is something (the loader) on top of it?
	const h = document.querySelector("h1");
	if (h) {
		const r = h.getBoundingClientRect();
		const top = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
		__marks.covered = top && !h.contains(top) ? 1 : 0;
	}
});
`

// collectMarks is the expression that returns the milestones, with when
// app.wasm's request started and when the page first painted content.
const collectMarks = `(() => {
	const m = Object.assign({}, window.__marks);
	const w = performance.getEntriesByType("resource").find(e => e.name.endsWith("/web/app.wasm"));
	if (w) { m.wasmRequest = w.startTime; m.wasmLoaded = w.responseEnd; }
	const i = performance.getEntriesByName("wasm-instantiated")[0];
	if (i) m.wasmInstantiated = i.startTime;
	const p = performance.getEntriesByName("first-contentful-paint")[0];
	if (p) m.firstPaint = p.startTime;
	return m;
})()`

// loadMarks navigates a Chromium tab, on which markPaint has run, to url
// and returns the milestones, once the first "Ping:" showed.
func loadMarks(t testing.TB, ctx context.Context, url string) map[string]float64 {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatal(err)
	}
	if _, err := within(t, ctx, 30*time.Second, chromedp.Poll[bool](`"Ping:" in window.__marks`)); err != nil {
		t.Fatalf("no Ping: line within 30s: %v", err)
	}
	marks, err := within(t, ctx, 5*time.Second, chromedp.Evaluate[map[string]float64](collectMarks))
	if err != nil {
		t.Fatal(err)
	}
	return marks
}

// markPaint makes every document the Chromium tab loads from now on run
// paintMarks first.
func markPaint(t testing.TB, ctx context.Context) {
	t.Helper()
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: paintMarks}); err != nil {
		t.Fatal(err)
	}
}

// firefoxMarks loads url in a Firefox tab on a fresh profile and returns
// the milestones, once the first "Ping:" showed.
func firefoxMarks(t testing.TB, url string) map[string]float64 {
	t.Helper()
	tab := openBrowser(t, firefox)
	ctx, cancel := context.WithTimeout(context.Background(), evalTimeout)
	defer cancel()
	if err := tab.d.(*firefoxTab).uc.AddPreloadScript(ctx, "() => {"+paintMarks+"}"); err != nil {
		t.Fatalf("firefox: adding the preload script: %v", err)
	}
	if err := tab.navigate(url); err != nil {
		t.Fatal(err)
	}
	if _, err := pollJS[bool](tab, 30*time.Second, `"Ping:" in window.__marks`); err != nil {
		t.Fatalf("no Ping: line within 30s: %v", err)
	}
	marks, err := evalJS[map[string]float64](tab, collectMarks)
	if err != nil {
		t.Fatal(err)
	}
	return marks
}

// checkMarks fails t if the loading indicator covered the prerendered
// page or the classic demo's milestones came out of order.
func checkMarks(t testing.TB, m map[string]float64) {
	t.Helper()
	if m["covered"] != 0 {
		t.Errorf("the loading indicator covers the prerendered page")
	}
	if m["Connection open"] > m["Start time:"] || m["Start time:"] > m["Ping:"] {
		t.Errorf("milestones out of order: %v", m)
	}
}

// repeatVisit makes the service worker of the Chromium tab, which has
// loaded url once, ready, and reloads url once so that the worker caches
// the app: the next load is a repeat visit.
func repeatVisit(t testing.TB, ctx context.Context, url string) {
	t.Helper()
	if _, err := within(t, ctx, 30*time.Second, chromedp.Evaluate[bool](
		`navigator.serviceWorker.ready.then(() => true)`, chromedp.EvalAwaitPromise)); err != nil {
		t.Fatalf("the service worker did not become ready: %v", err)
	}
	checkMarks(t, loadMarks(t, ctx, url)) // installs the worker's cache
}

// TestFirstPaint loads / cold (a fresh profile) in Chromium and in
// Firefox ESR, and once more in Chromium as a repeat visit (wasm cached
// and compiled, the service worker in charge): each time, the page's
// content is not covered by the loading indicator when first painted, and
// the stream opens, then the named connecttime event shows ("Start
// time:"), then the first "Ping:". BenchmarkFirstPaint measures how long
// each milestone takes.
func TestFirstPaint(t *testing.T) {
	dir := buildApp(t)
	srv := startServer(t, dir, "127.0.0.1:0")
	ctx := chromiumContext(t, browserOptions{})
	markPaint(t, ctx)
	checkMarks(t, loadMarks(t, ctx, srv.URL))
	repeatVisit(t, ctx, srv.URL)
	checkMarks(t, loadMarks(t, ctx, srv.URL))
	checkMarks(t, firefoxMarks(t, srv.URL))
}

// paintKeys are the milestones BenchmarkFirstPaint reports, in order.
var paintKeys = []string{"firstPaint", "content", "wasmRequest", "wasmLoaded", "wasmInstantiated", "Connection open", "Start time:", "Ping:"}

// BenchmarkFirstPaint measures, per load of / (b.N of them), how long
// after navigation the page paints, app.wasm is requested, loaded and
// instantiated, the stream opens ("Connection open ..."), the named
// connecttime event shows ("Start time:") and the first "Ping:" shows, as
// medians in ms: cold loads in Chromium and in Firefox ESR (a fresh
// profile each), and repeat visits in Chromium (one profile, wasm cached
// and compiled). It checks each load as TestFirstPaint does. The README's
// table comes from
//
//	go test ./e2e -run NONE -bench FirstPaint -benchtime 5x
func BenchmarkFirstPaint(b *testing.B) {
	dir := buildApp(b)
	srv := startServer(b, dir, "127.0.0.1:0")
	report := func(b *testing.B, runs []map[string]float64) {
		for _, k := range paintKeys {
			var vs []float64
			for _, m := range runs {
				if v, ok := m[k]; ok {
					vs = append(vs, v)
				}
			}
			if len(vs) > 0 {
				slices.Sort(vs)
				b.ReportMetric(vs[len(vs)/2], strings.ReplaceAll(strings.TrimSuffix(k, ":"), " ", "-")+"-ms")
			}
		}
	}
	b.Run("chromium-cold", func(b *testing.B) {
		var runs []map[string]float64
		for b.Loop() {
			ctx := chromiumContext(b, browserOptions{})
			markPaint(b, ctx)
			m := loadMarks(b, ctx, srv.URL)
			checkMarks(b, m)
			runs = append(runs, m)
		}
		report(b, runs)
	})
	b.Run("firefox-cold", func(b *testing.B) {
		var runs []map[string]float64
		for b.Loop() {
			m := firefoxMarks(b, srv.URL)
			checkMarks(b, m)
			runs = append(runs, m)
		}
		report(b, runs)
	})
	b.Run("chromium-repeat", func(b *testing.B) {
		// A browser of its own, on a profile on disk: Chromium caches
		// compiled wasm only there, not in the shared browser's fresh
		// profiles, which live in memory.
		ctx, cancel, err := launchChromium()
		if err != nil {
			b.Fatal(err)
		}
		defer cancel()
		markPaint(b, ctx)
		loadMarks(b, ctx, srv.URL)
		repeatVisit(b, ctx, srv.URL)
		var runs []map[string]float64
		for b.Loop() {
			m := loadMarks(b, ctx, srv.URL)
			checkMarks(b, m)
			runs = append(runs, m)
		}
		report(b, runs)
	})
}
