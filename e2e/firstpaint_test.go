package e2e

import (
	"context"
	"fmt"
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

// loadMarks navigates a Chromium tab to url and returns the milestones,
// once the first "Ping:" showed.
func loadMarks(t *testing.T, ctx context.Context, url string) map[string]float64 {
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

// firefoxMarks loads url in a new Firefox (a fresh profile) and returns
// the milestones, once the first "Ping:" showed.
func firefoxMarks(t *testing.T, url string) map[string]float64 {
	t.Helper()
	tab := openBrowser(t, firefox)
	ff := tab.d.(*firefoxTab).ff
	ctx, cancel := context.WithTimeout(context.Background(), evalTimeout)
	defer cancel()
	if err := ff.Call(ctx, "script.addPreloadScript", map[string]any{"functionDeclaration": "() => {" + paintMarks + "}"}, nil); err != nil {
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

// TestFirstPaint logs, for 5 cold loads of / (a new browser profile each)
// in Chromium and in Firefox ESR, and 5 repeat visits in Chromium (one
// profile, wasm cached and compiled), how long
// after navigation the page paints, app.wasm is requested, the stream
// opens ("Connection open ..."), the named connecttime event shows
// ("Start time:") and the first "Ping:" shows; and whether the loading
// indicator covers the prerendered page. It asserts no timing (the machine
// is shared): only that the milestones come in order and that nothing
// covers the content.
func TestFirstPaint(t *testing.T) {
	dir := buildApp(t)
	srv := startServer(t, dir, "127.0.0.1:0")
	keys := []string{"firstPaint", "content", "wasmRequest", "wasmLoaded", "wasmInstantiated", "Connection open", "Start time:", "Ping:"}
	report := func(what string, runs []map[string]float64) {
		var b strings.Builder
		for _, k := range keys {
			var vs []float64
			for _, m := range runs {
				if v, ok := m[k]; ok {
					vs = append(vs, v)
				}
			}
			if len(vs) == 0 {
				continue
			}
			slices.Sort(vs)
			fmt.Fprintf(&b, "\n  %-16s median %4.0f ms (all: %.0f)", k, vs[len(vs)/2], vs)
		}
		t.Logf("%s, navigation to:%s", what, b.String())
	}
	check := func(m map[string]float64) {
		t.Helper()
		if m["covered"] != 0 {
			t.Errorf("the loading indicator covers the prerendered page")
		}
		if m["Connection open"] > m["Start time:"] || m["Start time:"] > m["Ping:"] {
			t.Errorf("milestones out of order: %v", m)
		}
	}

	var cold []map[string]float64
	for range 5 {
		ctx := newBrowser(t)
		if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: paintMarks}); err != nil {
			t.Fatal(err)
		}
		m := loadMarks(t, ctx, srv.URL)
		check(m)
		cold = append(cold, m)
	}
	report("Chromium, 5 cold loads of /", cold)

	var ffCold []map[string]float64
	for range 5 {
		m := firefoxMarks(t, srv.URL)
		check(m)
		ffCold = append(ffCold, m)
	}
	report("Firefox ESR, 5 cold loads of /", ffCold)

	ctx := newBrowser(t)
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: paintMarks}); err != nil {
		t.Fatal(err)
	}
	loadMarks(t, ctx, srv.URL)
	if _, err := within(t, ctx, 30*time.Second, chromedp.Evaluate[bool](
		`navigator.serviceWorker.ready.then(() => true)`, chromedp.EvalAwaitPromise)); err != nil {
		t.Fatalf("the service worker did not become ready: %v", err)
	}
	var repeat []map[string]float64
	for i := range 6 {
		m := loadMarks(t, ctx, srv.URL)
		check(m)
		if i > 0 { // the first reload installs the worker's cache
			repeat = append(repeat, m)
		}
	}
	report("Chromium, 5 repeat visits of /", repeat)
}
