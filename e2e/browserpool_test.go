package e2e

// The browsers the package's tests share. Starting a browser takes
// seconds (Firefox most, on a busy machine ten), a fresh profile inside a
// running one milliseconds: a Chromium browser context or a Firefox user
// context has cookies, storage, HTTP cache and service workers of its own,
// so each test still starts as on a new profile. A browser is started
// the first time a test asks for one (for Chromium, one with
// insecureCerts' flag and one without) and kept until TestMain closes
// them all; one that died is started again. Every browser resolves
// loopback names only, so no test can reach outside the machine.

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/ssewasm/ssewasm/e2e/internal/bidi"
	"github.com/ssewasm/ssewasm/internal/testlog"
)

const chromiumPath = "/usr/bin/chromium"

// chromiumFlags are the settings Chromium takes on its command line only.
type chromiumFlags struct {
	insecureCerts bool
}

// sharedBrowsers is the package's pool.
var sharedBrowsers browserPool

type browserPool struct {
	mu        sync.Mutex
	chromiums map[chromiumFlags]*runningChromium
	ff        *runningFirefox // the one Firefox: its settings are every test's
	// template is the profile every Firefox starts from (a copy each):
	// making a profile takes Firefox seconds.
	template string
}

type runningChromium struct {
	ctx    context.Context // the browser's first tab
	cancel context.CancelFunc
}

type runningFirefox struct {
	ff      *bidi.Firefox
	log     *testlog.Buffer // its standard error
	profile string          // its profile directory
}

// close closes Firefox and removes its profile.
func (b *runningFirefox) close() {
	b.ff.Close()
	os.RemoveAll(b.profile)
}

// chromium returns the context of the first tab of the shared Chromium
// with flags f, starting it if needed.
func (p *browserPool) chromium(t testing.TB, f chromiumFlags) context.Context {
	t.Helper()
	skipBrowserUnderShort(t)
	p.mu.Lock()
	defer p.mu.Unlock()
	if b := p.chromiums[f]; b != nil && b.ctx.Err() == nil {
		return b.ctx
	}
	var extra []chromedp.ExecAllocatorOption
	if f.insecureCerts {
		extra = append(extra, chromedp.Flag("ignore-certificate-errors", true))
	}
	ctx, cancel, err := launchChromium(extra...)
	if err != nil {
		t.Fatal(err)
	}
	if p.chromiums == nil {
		p.chromiums = map[chromiumFlags]*runningChromium{}
	}
	p.chromiums[f] = &runningChromium{ctx: ctx, cancel: cancel}
	return ctx
}

// launchChromium starts a headless Chromium on a new temporary profile,
// with the flags this machine needs, resolving loopback names only
// (host resolver rules), and returns its first tab's context;
// cancel closes the browser and removes the profile. A missing Chromium
// is an error that says how to install it.
func launchChromium(extra ...chromedp.ExecAllocatorOption) (context.Context, context.CancelFunc, error) {
	if _, err := os.Stat(chromiumPath); err != nil {
		return nil, nil, fmt.Errorf("browser tests need Chromium at %s: run `make test` (it installs it) or `apt-get install -y chromium`", chromiumPath)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
		chromedp.WindowSize(1000, 760),
	)
	opts = append(opts, extra...)
	// Without chromedp.UserDataDir, chromedp makes a temporary profile
	// and removes it when the browser has exited.
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	cancel := func() { cancelCtx(); cancelAlloc() }
	// Start the browser now, without a timeout (a timeout on the first
	// run would stop the whole browser).
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		return nil, nil, fmt.Errorf("starting Chromium: %w", err)
	}
	return ctx, cancel, nil
}

// firefox returns the shared Firefox, starting it if needed. If the test
// fails, its cleanup logs what Firefox wrote while the test ran.
func (p *browserPool) firefox(t testing.TB) *bidi.Firefox {
	t.Helper()
	skipBrowserUnderShort(t)
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.ff
	if b == nil || isDone(b.ff.Exited()) || isDone(b.ff.Done()) {
		if b != nil {
			b.close()
		}
		var err error
		if b, err = p.launchFirefox(); err != nil {
			t.Fatal(err)
		}
		p.ff = b
	}
	since := len(b.log.String())
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("Firefox's output during the test:\n%s", b.log.String()[since:])
		}
	})
	return b.ff
}

// skipBrowserUnderShort skips the test under -short, and only there: a
// browser test whose browser is missing fails.
func skipBrowserUnderShort(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: needs a browser")
	}
}

func isDone(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// launchFirefox starts a Firefox on a copy of the template profile, with
// LoopbackOnlyPrefs. p.mu is held.
func (p *browserPool) launchFirefox() (*runningFirefox, error) {
	if _, err := os.Stat(bidi.FirefoxPath); err != nil {
		return nil, fmt.Errorf("browser tests need Firefox ESR at %s: run `make test` (it installs it) or `apt-get install -y firefox-esr`", bidi.FirefoxPath)
	}
	ctx, cancel := context.WithTimeout(context.Background(), navigateTimeout)
	defer cancel()
	if p.template == "" {
		dir, err := os.MkdirTemp("", "ssewasm-firefox-")
		if err != nil {
			return nil, err
		}
		if err := bidi.MakeTemplate(ctx, bidi.FirefoxPath, dir); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("making Firefox's template profile: %w", err)
		}
		p.template = dir
	}
	profile, err := os.MkdirTemp("", "ssewasm-firefox-profile-")
	if err != nil {
		return nil, err
	}
	logs := &testlog.Buffer{}
	opts := bidi.Options{ProfileDir: profile, Template: p.template, Width: 1000, Height: 760, Prefs: bidi.LoopbackOnlyPrefs, Log: logs}
	ff, err := bidi.Launch(ctx, opts)
	if err != nil {
		os.RemoveAll(profile)
		return nil, fmt.Errorf("starting Firefox: %v\n%s", err, logs)
	}
	return &runningFirefox{ff: ff, log: logs, profile: profile}, nil
}

// closeAll closes every shared browser and removes their profiles.
func (p *browserPool) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, b := range p.chromiums {
		b.cancel()
	}
	if p.ff != nil {
		p.ff.close()
	}
	if p.template != "" {
		os.RemoveAll(p.template)
	}
	p.chromiums, p.ff, p.template = nil, nil, ""
}
