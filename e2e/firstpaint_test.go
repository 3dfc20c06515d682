package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// paintMarks runs in every document before its own scripts (Chromium:
// Page.addScriptToEvaluateOnNewDocument; Firefox: BiDi's
// script.addPreloadScript), so no milestone can be missed or seen late by
// polling: it records,
// in performance.now() milliseconds from the start of the navigation, when
// each milestone of the classic demo first shows and when the page
// created its first EventSource, and whether go-app's
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
// When the page creates its first EventSource: with the HTML, or once the
// app runs.
window.EventSource = new Proxy(EventSource, {construct(target, args) { mark("stream"); return new target(...args); }});
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

// isWasmEntry is a JavaScript function that tells whether a resource
// timing entry is app.wasm's, under any name the server gives it:
// /web/app.wasm or a versioned one such as /web/app.0123abcd.wasm.
const isWasmEntry = `(e => /^\/web\/app(\.[0-9a-f]+)?\.wasm$/.test(new URL(e.name).pathname))`

// collectMarks is the expression that returns the milestones, with when
// app.wasm's request started and when the page first painted content.
const collectMarks = `(() => {
	const m = Object.assign({}, window.__marks);
	const w = performance.getEntriesByType("resource").find(` + isWasmEntry + `);
	if (w) { m.wasmRequest = w.startTime; m.wasmLoaded = w.responseEnd; }
	const i = performance.getEntriesByName("wasm-instantiated")[0];
	if (i) m.wasmInstantiated = i.startTime;
	const p = performance.getEntriesByName("first-contentful-paint")[0];
	if (p) m.firstPaint = p.startTime;
	return m;
})()`

// markPaints makes every document p loads from now on run paintMarks
// first.
func markPaints(t testing.TB, p *tab) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), evalTimeout)
	defer cancel()
	switch d := p.d.(type) {
	case *chromiumTab:
		bctx, cancel := d.bounded(ctx)
		defer cancel()
		if _, err := chromedp.Call(bctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: paintMarks}); err != nil {
			t.Fatal(err)
		}
	case *firefoxTab:
		if err := d.uc.AddPreloadScript(ctx, "() => {"+paintMarks+"}"); err != nil {
			t.Fatalf("firefox: adding the preload script: %v", err)
		}
	default:
		t.Fatalf("no paint marks for a %T", p.d)
	}
}

// loadPaint navigates p to url and returns the milestones, once the
// first "Ping:" showed.
func loadPaint(t testing.TB, p *tab, url string) map[string]float64 {
	t.Helper()
	if err := p.navigate(url); err != nil {
		t.Fatal(err)
	}
	if _, err := pollJS[bool](p, 30*time.Second, `"Ping:" in window.__marks`); err != nil {
		t.Fatalf("no Ping: line within 30s: %v", err)
	}
	marks, err := evalJS[map[string]float64](p, collectMarks)
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

// link is the network between the browser and the server.
type link string

const (
	loopback link = "loopback"
	// slowLink is a real link, as Chromium's DevTools emulate it: 20
	// Mbit/s down, 5 Mbit/s up, 40 ms from each request to its answer's
	// headers (one round trip).
	slowLink link = "20mbit"
)

// networkDomain returns a context for DevTools' Network commands on
// Chromium tab p, bounded by evalTimeout, with the domain enabled; what
// names the command for the error if p is not Chromium's.
func networkDomain(t testing.TB, p *tab, what string) (context.Context, context.CancelFunc) {
	t.Helper()
	d, ok := p.d.(*chromiumTab)
	if !ok {
		t.Fatalf("only Chromium can %s, not %s", what, p.kind)
	}
	ctx, cancel := context.WithTimeout(context.Background(), evalTimeout)
	bctx, bcancel := d.bounded(ctx)
	stop := func() { bcancel(); cancel() }
	if _, err := chromedp.Call(bctx, network.Enable, network.EnableParams{}); err != nil {
		stop()
		t.Fatal(err)
	}
	return bctx, stop
}

// throttle makes Chromium tab p's requests go as over slowLink.
func throttle(t testing.TB, p *tab) {
	t.Helper()
	ctx, cancel := networkDomain(t, p, "emulate a slow link")
	defer cancel()
	if _, err := chromedp.Call(ctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
		MatchedNetworkConditions: []*network.Conditions{{ // no URLPattern: every request
			Latency:            40,
			DownloadThroughput: 20e6 / 8,
			UploadThroughput:   5e6 / 8,
		}},
	}); err != nil {
		t.Fatalf("emulating a 20 Mbit/s link: %v", err)
	}
}

// paintSeries is one row of the first-paint table: a browser, a link, and
// a cold visit (a fresh profile each load) or a repeat one (one profile,
// loaded before: app.wasm cached, and compiled where the browser keeps
// compiled code, the service worker in charge, or, with noWorker, the
// browser's HTTP cache alone).
type paintSeries struct {
	browser  browserKind
	link     link
	repeat   bool
	noWorker bool // Chromium only: requests bypass the service worker
}

// paintTable are the rows, in order. Only Chromium emulates a slow link
// and bypasses the service worker.
var paintTable = []paintSeries{
	{chromium, loopback, false, false},
	{chromium, loopback, true, false},
	{firefox, loopback, false, false},
	{firefox, loopback, true, false},
	{chromium, slowLink, false, false},
	{chromium, slowLink, true, false},
	{chromium, slowLink, true, true},
}

func (s paintSeries) visit() string {
	switch {
	case s.noWorker:
		return "repeat-http-cache"
	case s.repeat:
		return "repeat"
	}
	return "cold"
}

func (s paintSeries) String() string {
	return fmt.Sprintf("%s-%s-%s", s.browser, s.link, s.visit())
}

// repeatTab returns a tab for repeat visits to url: loaded once, its
// service worker ready, and loaded again so that the worker caches the
// app. A Chromium one runs in a browser of its own, on a profile on disk:
// Chromium caches compiled wasm only there, not in the shared browser's
// fresh profiles, which live in memory.
func (s paintSeries) repeatTab(t testing.TB, url string) *tab {
	t.Helper()
	var p *tab
	if s.browser == chromium {
		ctx, cancel, err := launchChromium()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cancel)
		p = &tab{t: t, kind: chromium, d: &chromiumTab{ctx: ctx, t: t}}
	} else {
		p = openBrowser(t, s.browser)
	}
	s.prepare(t, p)
	checkMarks(t, loadPaint(t, p, url))
	if _, err := evalJS[bool](p, `navigator.serviceWorker.ready.then(() => true)`); err != nil {
		t.Fatalf("the service worker did not become ready: %v", err)
	}
	checkMarks(t, loadPaint(t, p, url)) // installs the worker's cache
	return p
}

// prepare marks the paints of tab p, throttles it to s's link and makes
// it bypass the service worker if s says so.
func (s paintSeries) prepare(t testing.TB, p *tab) {
	t.Helper()
	markPaints(t, p)
	if s.link == slowLink {
		throttle(t, p)
	}
	if s.noWorker {
		ctx, cancel := networkDomain(t, p, "bypass the service worker")
		defer cancel()
		if _, err := chromedp.Call(ctx, network.SetBypassServiceWorker, network.SetBypassServiceWorkerParams{Bypass: true}); err != nil {
			t.Fatalf("bypassing the service worker: %v", err)
		}
	}
}

// measure loads url as s says while more returns true (b.Loop, or once),
// checks each load as TestFirstPaint does, and returns the milestones of
// each.
func (s paintSeries) measure(t testing.TB, url string, more func() bool) []map[string]float64 {
	t.Helper()
	var p *tab
	if s.repeat {
		p = s.repeatTab(t, url)
	}
	var runs []map[string]float64
	for more() {
		if !s.repeat {
			p = openBrowser(t, s.browser)
			s.prepare(t, p)
		}
		m := loadPaint(t, p, url)
		checkMarks(t, m)
		runs = append(runs, m)
	}
	return runs
}

// paintKeys are the milestones reported, in order: "visible" is when the
// page first painted content (first contentful paint, or the heading in
// the page where the browser does not report it).
var paintKeys = []string{"visible", "stream", "wasmRequest", "wasmLoaded", "wasmInstantiated", "Connection open", "Start time:", "Ping:"}

// medians returns the median of each of paintKeys over runs.
func medians(runs []map[string]float64) map[string]float64 {
	med := map[string]float64{}
	for _, k := range paintKeys {
		var vs []float64
		for _, m := range runs {
			v, ok := m[k]
			if k == "visible" {
				v, ok = m["firstPaint"]
				if !ok {
					v, ok = m["content"]
				}
			}
			if ok {
				vs = append(vs, v)
			}
		}
		if len(vs) > 0 {
			slices.Sort(vs)
			med[k] = vs[len(vs)/2]
		}
	}
	return med
}

// metricName is k as a benchmark unit: "Ping:" is "Ping-ms".
func metricName(k string) string {
	return strings.ReplaceAll(strings.TrimSuffix(k, ":"), " ", "-") + "-ms"
}

// logPaints logs the medians of runs as one line to grep for:
//
//	firstpaint browser=chromium link=20mbit visit=cold loads=5 visible-ms=… ping-ms=… wasm-loaded-ms=… instantiated-ms=…
func logPaints(t testing.TB, s paintSeries, runs []map[string]float64) {
	t.Helper()
	m := medians(runs)
	t.Logf("firstpaint browser=%s link=%s visit=%s loads=%d visible-ms=%.0f ping-ms=%.0f stream-ms=%.0f wasm-request-ms=%.0f wasm-loaded-ms=%.0f instantiated-ms=%.0f open-ms=%.0f",
		s.browser, s.link, s.visit(), len(runs), m["visible"], m["Ping:"], m["stream"], m["wasmRequest"], m["wasmLoaded"], m["wasmInstantiated"], m["Connection open"])
}

// TestFirstPaint loads / once per row of the first-paint table: cold (a
// fresh profile) and as a repeat visit, in Chromium and Firefox ESR on
// loopback, and in Chromium over an emulated 20 Mbit/s link. Each time,
// the page's content is not covered by the loading indicator when first
// painted, and the stream opens, then the named connecttime event shows
// ("Start time:"), then the first "Ping:". It logs each load's
// milestones (grep firstpaint); BenchmarkFirstPaint measures their
// medians.
func TestFirstPaint(t *testing.T) {
	dir := buildApp(t)
	srv := startServer(t, dir, "127.0.0.1:0")
	for _, s := range paintTable {
		t.Run(s.String(), func(t *testing.T) {
			once := true
			logPaints(t, s, s.measure(t, srv.URL, func() bool {
				defer func() { once = false }()
				return once
			}))
		})
	}
}

// BenchmarkFirstPaint measures, per load of / (b.N of them, per row of
// the first-paint table), how long after navigation the page paints
// (visible), app.wasm is requested, loaded and instantiated, the stream
// opens ("Connection open ..."), the named connecttime event shows ("Start
// time:") and the first "Ping:" shows, as medians in ms, and logs each
// row as TestFirstPaint does. It checks each load as TestFirstPaint does.
// docs/design.md's table comes from
//
//	go test ./e2e -run NONE -bench FirstPaint -benchtime 5x
func BenchmarkFirstPaint(b *testing.B) {
	dir := buildApp(b)
	srv := startServer(b, dir, "127.0.0.1:0")
	for _, s := range paintTable {
		b.Run(s.String(), func(b *testing.B) {
			runs := s.measure(b, srv.URL, b.Loop)
			for k, v := range medians(runs) {
				b.ReportMetric(v, metricName(k))
			}
			logPaints(b, s, runs)
		})
	}
}

// TestEarlyStream: the page at / opens its stream with the HTML, before
// app.wasm is instantiated, and the app takes that stream over instead of
// opening a second one: one request to the stream's path, none left
// waiting, and the milestones in order.
func TestEarlyStream(t *testing.T) {
	dir := buildApp(t)
	srv := startServer(t, dir, "127.0.0.1:0")
	forEachBrowser(t, func(t *testing.T, b browserKind) {
		tab := openBrowser(t, b, logRequests())
		markPaints(t, tab)
		m := loadPaint(t, tab, srv.URL)
		checkMarks(t, m)
		if m["stream"] == 0 || m["stream"] > m["wasmInstantiated"] {
			t.Errorf("the stream was created at %.0f ms, app.wasm instantiated at %.0f ms: want the stream first", m["stream"], m["wasmInstantiated"])
		}
		n := 0
		for _, u := range tab.requests() {
			if strings.HasPrefix(u, srv.URL+"stream") {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d requests to /stream, want 1 (the early stream, taken over by the app)", n)
		}
		waiting, err := evalJS[int](tab, `Object.keys(globalThis.ssewasmEarlyStreams || {}).length`)
		if err != nil {
			t.Fatal(err)
		}
		if waiting != 0 {
			t.Errorf("%d early streams still wait for the app", waiting)
		}
	})
}
