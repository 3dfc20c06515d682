package e2e

// The browser abstraction: every end-to-end browser test runs in headless
// Chromium (through chromedp, over the DevTools protocol) and in headless
// Firefox ESR (through WebDriver BiDi, package e2e/internal/bidi), as
// subtests named /chromium and /firefox, one browser after the other:
//
//	func TestSomething(t *testing.T) {
//		forEachBrowser(t, func(t *testing.T, b browserKind) {
//			tab := openBrowser(t, b)               // fresh profile in a shared browser; closed by t.Cleanup
//			if err := tab.navigate(srv.URL); err != nil {
//				t.Fatal(err)
//			}
//			title, err := evalJS[string](tab, `document.title`)  // awaits promises
//			ms, err := pollJS[float64](tab, 30*time.Second,       // until truthy
//				`document.querySelector("#log .ping") ? performance.now() : 0`)
//			state, err := tab.text("#state")          // innerText of a CSS selector
//			err = tab.sendKeys("#message", "hi")      // real key presses
//			err = tab.click("#send")
//			tab2, err := tab.newTab()                 // a second tab, same browser
//			saveScreenshot(t, tab, "page.png")        // with -screenshots
//		})
//	}
//
// openBrowser takes options: insecureCerts() (any TLS certificate passes)
// and logRequests() (then tab.requests() lists every URL the browser
// requested). No browser resolves a name outside the machine. A missing
// browser fails the test with the command
// that installs it. JavaScript values come back as their JSON form,
// decoded into the Go type asked for as encoding/json would (undefined and
// null leave the zero value); a thrown exception is an error. Both
// browsers answer alike: TestBrowsers checks it.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/ssewasm/ssewasm/e2e/internal/bidi"
)

// browserKind names a browser the e2e tests run in.
type browserKind string

const (
	chromium browserKind = "chromium"
	firefox  browserKind = "firefox"
)

// browsers are the browsers every browser test runs in, in this order.
var browsers = []browserKind{chromium, firefox}

// forEachBrowser runs f as one subtest per browser, one after the other
// (each browser takes most of a CPU while it loads the wasm app).
func forEachBrowser(t *testing.T, f func(t *testing.T, b browserKind)) {
	t.Helper()
	for _, b := range browsers {
		t.Run(string(b), func(t *testing.T) { f(t, b) })
	}
}

// browserOptions are openBrowser's options.
type browserOptions struct {
	logRequests   bool
	insecureCerts bool
}

type browserOption func(*browserOptions)

// insecureCerts accepts any TLS certificate (a test's self-signed one).
func insecureCerts() browserOption { return func(o *browserOptions) { o.insecureCerts = true } }

// logRequests records the URL of every request the pages send (see
// tab.requests).
func logRequests() browserOption { return func(o *browserOptions) { o.logRequests = true } }

// tab is a browser tab, in either browser.
type tab struct {
	t    testing.TB
	kind browserKind
	d    driver
	urls func() []string // the request log; nil without logRequests
}

// driver is what each browser implements. Every call is bounded by ctx.
type driver interface {
	navigate(ctx context.Context, url string) error
	// evaluate runs a script, awaits the promise it returns, if any, and
	// decodes the value's JSON form into out.
	evaluate(ctx context.Context, script string, out any) error
	// poll evaluates an expression until it is truthy and decodes the
	// value into out.
	poll(ctx context.Context, expr string, out any) error
	click(ctx context.Context, selector string) error
	sendKeys(ctx context.Context, selector, text string) error
	screenshot(ctx context.Context) ([]byte, error)
	newTab(ctx context.Context) (driver, error)
}

// Time limits of the calls that take none.
const (
	navigateTimeout = 60 * time.Second
	evalTimeout     = 10 * time.Second
	elementTimeout  = 5 * time.Second
)

// openBrowser opens a tab of browser b on a fresh profile: a new browser
// context (Chromium) or user context (Firefox), with its own cookies,
// storage, cache and service workers, in a browser the package's tests
// share (see sharedBrowsers). The test's cleanup closes the profile.
func openBrowser(t testing.TB, b browserKind, opts ...browserOption) *tab {
	t.Helper()
	var o browserOptions
	for _, opt := range opts {
		opt(&o)
	}
	p := &tab{t: t, kind: b}
	switch b {
	case chromium:
		p.d, p.urls = openChromium(t, o)
	case firefox:
		p.d, p.urls = openFirefox(t, o)
	default:
		t.Fatalf("no browser %q", b)
	}
	return p
}

// navigate loads url and returns once the page has loaded.
func (p *tab) navigate(url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), navigateTimeout)
	defer cancel()
	if err := p.d.navigate(ctx, url); err != nil {
		return fmt.Errorf("%s: navigate to %s: %w", p.kind, url, err)
	}
	return nil
}

// evalJS evaluates a script in the tab (within 10 s, awaiting a promise)
// and decodes its value into a T.
func evalJS[T any](p *tab, script string) (T, error) {
	var v T
	ctx, cancel := context.WithTimeout(context.Background(), evalTimeout)
	defer cancel()
	err := p.d.evaluate(ctx, script, &v)
	if err != nil {
		err = fmt.Errorf("%s: evaluating %.80q: %w", p.kind, script, err)
	}
	return v, err
}

// pollJS evaluates an expression until it is truthy, for at most d, and
// decodes that value into a T.
func pollJS[T any](p *tab, d time.Duration, expr string) (T, error) {
	var v T
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	err := p.d.poll(ctx, expr, &v)
	if err != nil {
		err = fmt.Errorf("%s: %.80q not truthy within %v: %w", p.kind, expr, d, err)
	}
	return v, err
}

// text waits up to 5 s for an element matching a CSS selector and
// returns its innerText.
func (p *tab) text(selector string) (string, error) {
	sel, _ := json.Marshal(selector)
	got, err := pollJS[struct{ Text string }](p, elementTimeout,
		fmt.Sprintf(`(e => e ? {text: e.innerText} : null)(document.querySelector(%s))`, sel))
	return got.Text, err
}

// click clicks the element matching a CSS selector with the mouse.
func (p *tab) click(selector string) error {
	ctx, cancel := context.WithTimeout(context.Background(), elementTimeout)
	defer cancel()
	if err := p.d.click(ctx, selector); err != nil {
		return fmt.Errorf("%s: click %s: %w", p.kind, selector, err)
	}
	return nil
}

// sendKeys focuses the element matching a CSS selector and types text.
func (p *tab) sendKeys(selector, text string) error {
	ctx, cancel := context.WithTimeout(context.Background(), evalTimeout)
	defer cancel()
	if err := p.d.sendKeys(ctx, selector, text); err != nil {
		return fmt.Errorf("%s: typing into %s: %w", p.kind, selector, err)
	}
	return nil
}

// screenshot returns a PNG of the viewport.
func (p *tab) screenshot() ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return p.d.screenshot(ctx)
}

// newTab opens a second tab in the same browser (same profile).
func (p *tab) newTab() (*tab, error) {
	ctx, cancel := context.WithTimeout(context.Background(), navigateTimeout)
	defer cancel()
	d, err := p.d.newTab(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: new tab: %w", p.kind, err)
	}
	return &tab{t: p.t, kind: p.kind, d: d, urls: p.urls}, nil
}

// requests returns the URLs requested so far (Chromium: by the pages of
// the browser's tabs, as DevTools sees them; Firefox: by every tab and
// worker); the browser must have been opened with logRequests.
func (p *tab) requests() []string {
	if p.urls == nil {
		p.t.Fatal("tab.requests needs openBrowser(t, b, logRequests())")
	}
	return p.urls()
}

// saveScreenshot writes a PNG of the tab when -screenshots is set.
func saveScreenshot(t testing.TB, p *tab, name string) {
	t.Helper()
	if *screenshots == "" {
		return
	}
	png, err := p.screenshot()
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(*screenshots+"/"+name, png, 0o644); err != nil {
		t.Fatal(err)
	}
}

type requestLog struct {
	mu   sync.Mutex
	list []string
}

func (l *requestLog) add(url string) {
	l.mu.Lock()
	l.list = append(l.list, url)
	l.mu.Unlock()
}

func (l *requestLog) urls() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.list...)
}

// chromiumTab drives a Chromium tab through chromedp.
type chromiumTab struct {
	ctx context.Context // the tab's chromedp context
	t   testing.TB
	log *requestLog
}

func openChromium(t testing.TB, o browserOptions) (driver, func() []string) {
	t.Helper()
	c := &chromiumTab{ctx: chromiumContext(t, o), t: t}
	if !o.logRequests {
		return c, nil
	}
	c.log = &requestLog{}
	if err := c.listen(); err != nil {
		t.Fatal(err)
	}
	return c, c.log.urls
}

// chromiumContext returns the chromedp context of a new tab in a new
// browser context (a fresh profile) of the shared Chromium that has o's
// flags; the test's cleanup disposes of the browser context.
func chromiumContext(t testing.TB, o browserOptions) context.Context {
	t.Helper()
	browser := sharedBrowsers.chromium(t, chromiumFlags{insecureCerts: o.insecureCerts})
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	// Create the tab now, without a timeout (a timeout on a context's
	// first run would close the tab when it ends).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("opening a Chromium tab: %v", err)
	}
	return ctx
}

// listen logs the tab's requests when the log is on.
func (c *chromiumTab) listen() error {
	if c.log == nil {
		return nil
	}
	chromedp.Listen(c.ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			c.log.add(e.Request.URL)
		}
	})
	_, err := chromedp.Call(c.ctx, network.Enable, network.EnableParams{})
	return err
}

func (c *chromiumTab) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	// chromedp runs on the tab's context: carry the caller's deadline.
	if d, ok := ctx.Deadline(); ok {
		return context.WithDeadline(c.ctx, d)
	}
	return context.WithCancel(c.ctx)
}

func (c *chromiumTab) navigate(ctx context.Context, url string) error {
	bctx, cancel := c.bounded(ctx)
	defer cancel()
	return chromedp.Do(bctx, chromedp.Navigate(url))
}

func (c *chromiumTab) evaluate(ctx context.Context, script string, out any) error {
	bctx, cancel := c.bounded(ctx)
	defer cancel()
	raw, err := chromedp.Run(bctx, chromedp.Evaluate[[]byte](script, chromedp.EvalAwaitPromise))
	if err != nil {
		return err
	}
	return decodeJSON(raw, out)
}

func (c *chromiumTab) poll(ctx context.Context, expr string, out any) error {
	bctx, cancel := c.bounded(ctx)
	defer cancel()
	raw, err := chromedp.Run(bctx, chromedp.Poll[[]byte](expr, chromedp.WithPollingTimeout(0)))
	if err != nil {
		return err
	}
	return decodeJSON(raw, out)
}

// decodeJSON decodes a value Chromium returned by value (nil for
// undefined) into out.
func decodeJSON(raw []byte, out any) error {
	if len(raw) == 0 {
		raw = []byte("null")
	}
	return json.Unmarshal(raw, out)
}

func (c *chromiumTab) click(ctx context.Context, selector string) error {
	bctx, cancel := c.bounded(ctx)
	defer cancel()
	return chromedp.Do(bctx, chromedp.Click(chromedp.CSS(selector)))
}

func (c *chromiumTab) sendKeys(ctx context.Context, selector, text string) error {
	bctx, cancel := c.bounded(ctx)
	defer cancel()
	return chromedp.Do(bctx, chromedp.SendKeys(chromedp.CSS(selector), text))
}

func (c *chromiumTab) screenshot(ctx context.Context) ([]byte, error) {
	bctx, cancel := c.bounded(ctx)
	defer cancel()
	return chromedp.Run(bctx, chromedp.CaptureScreenshot())
}

func (c *chromiumTab) newTab(ctx context.Context) (driver, error) {
	tctx, cancel := chromedp.NewContext(c.ctx)
	c.t.Cleanup(cancel)
	// Create the tab now, without the caller's timeout (a timeout on a
	// context's first run would close the tab when it ends).
	if err := chromedp.Do(tctx); err != nil {
		return nil, err
	}
	n := &chromiumTab{ctx: tctx, t: c.t, log: c.log}
	return n, n.listen()
}

// firefoxTab drives a Firefox tab through WebDriver BiDi.
type firefoxTab struct {
	uc  *bidi.UserContext // the tab's profile
	tab *bidi.Tab
}

func openFirefox(t testing.TB, o browserOptions) (driver, func() []string) {
	t.Helper()
	ff := sharedBrowsers.firefox(t)
	ctx, cancel := context.WithTimeout(context.Background(), navigateTimeout)
	defer cancel()
	uc, err := ff.NewUserContext(ctx, bidi.UserContextOptions{AcceptInsecureCerts: o.insecureCerts})
	if err != nil {
		t.Fatalf("firefox: a new user context: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), evalTimeout)
		defer cancel()
		if err := uc.Close(ctx); err != nil {
			t.Errorf("firefox: closing the test's user context: %v", err)
		}
	})
	var urls func() []string
	if o.logRequests {
		l, err := uc.LogRequests(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(l.Stop)
		urls = l.URLs
	}
	tb, err := uc.NewTab(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return &firefoxTab{uc: uc, tab: tb}, urls
}

func (f *firefoxTab) navigate(ctx context.Context, url string) error {
	return f.tab.Navigate(ctx, url)
}

func (f *firefoxTab) evaluate(ctx context.Context, script string, out any) error {
	return f.tab.Evaluate(ctx, script, out)
}

func (f *firefoxTab) poll(ctx context.Context, expr string, out any) error {
	return f.tab.Poll(ctx, expr, out)
}

func (f *firefoxTab) click(ctx context.Context, selector string) error {
	return f.tab.Click(ctx, selector)
}

func (f *firefoxTab) sendKeys(ctx context.Context, selector, text string) error {
	return f.tab.SendKeys(ctx, selector, text)
}

func (f *firefoxTab) screenshot(ctx context.Context) ([]byte, error) {
	return f.tab.Screenshot(ctx)
}

func (f *firefoxTab) newTab(ctx context.Context) (driver, error) {
	tb, err := f.uc.NewTab(ctx)
	if err != nil {
		return nil, err
	}
	return &firefoxTab{uc: f.uc, tab: tb}, nil
}
