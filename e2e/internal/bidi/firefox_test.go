package bidi

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

const testPage = `<!doctype html><title>bidi test</title>
<input id="in"><button id="go" onclick="document.querySelector('#out').textContent = document.querySelector('#in').value">go</button>
<p id="out"></p><img src="/pixel.png">
<script>setTimeout(() => { window.late = "here" }, 200)</script>`

// launch starts Firefox for a test; a missing Firefox fails the test,
// which skips under -short.
func launch(t *testing.T, o Options) *Firefox {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: starts Firefox")
	}
	if _, err := os.Stat(FirefoxPath); err != nil {
		t.Fatalf("this test needs Firefox at %s: run `make test` (it installs it) or `apt-get install -y firefox-esr`", FirefoxPath)
	}
	o.ProfileDir = t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ff, err := Launch(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ff.Close)
	return ff
}

// TestFirefox drives a real headless Firefox through every call of the
// package.
func TestFirefox(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/pixel.png" {
			http.Error(w, "none", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(testPage))
	}))
	defer srv.Close()
	ff := launch(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	log, err := ff.LogRequests(ctx)
	if err != nil {
		t.Fatal(err)
	}
	responses, err := ff.LogResponses(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tab, err := ff.FirstTab(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tab.Navigate(ctx, srv.URL+"/page"); err != nil {
		t.Fatal(err)
	}

	t.Run("evaluate", func(t *testing.T) {
		var title string
		if err := tab.Evaluate(ctx, `document.title`, &title); err != nil || title != "bidi test" {
			t.Errorf("title = %q, %v", title, err)
		}
		var got struct {
			N    float64
			S    []string
			Nest map[string]bool
			Nil  *int
		}
		if err := tab.Evaluate(ctx, `const x = 1; ({n: x + 1.5, s: ["a", "b"], nest: {ok: true}, nil: null})`, &got); err != nil {
			t.Fatal(err)
		}
		if got.N != 2.5 || !slices.Equal(got.S, []string{"a", "b"}) || !got.Nest["ok"] || got.Nil != nil {
			t.Errorf("got %+v", got)
		}
		var awaited string
		if err := tab.Evaluate(ctx, `new Promise(r => setTimeout(() => r("later"), 10))`, &awaited); err != nil || awaited != "later" {
			t.Errorf("awaited %q, %v", awaited, err)
		}
		var se *ScriptError
		if err := tab.Evaluate(ctx, `throw new Error("boom")`, nil); !errors.As(err, &se) || !strings.Contains(se.Text, "boom") {
			t.Errorf("a throw gave %v, want a ScriptError with boom", err)
		}
		if err := tab.Evaluate(ctx, `document.body`, &title); !errors.Is(err, ErrNotSerializable) {
			t.Errorf("decoding a node gave %v, want ErrNotSerializable", err)
		}
	})

	t.Run("poll", func(t *testing.T) {
		var late string
		if err := tab.Poll(ctx, `window.late`, &late); err != nil || late != "here" {
			t.Errorf("poll = %q, %v", late, err)
		}
		short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		if err := tab.Poll(short, `window.never`, nil); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("a poll that never succeeds gave %v", err)
		}
	})

	t.Run("input", func(t *testing.T) {
		if err := tab.SendKeys(ctx, "#in", `<b>hi</b> & "you" ✓`); err != nil {
			t.Fatal(err)
		}
		if err := tab.Click(ctx, "#go"); err != nil {
			t.Fatal(err)
		}
		var out string
		if err := tab.Poll(ctx, `document.querySelector("#out").textContent`, &out); err != nil || out != `<b>hi</b> & "you" ✓` {
			t.Errorf("typed and clicked: %q, %v", out, err)
		}
	})

	t.Run("screenshot", func(t *testing.T) {
		png, err := tab.Screenshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
			t.Errorf("screenshot is not a PNG: %.16q", png)
		}
	})

	t.Run("second tab", func(t *testing.T) {
		tab2, err := ff.NewTab(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := tab2.Navigate(ctx, srv.URL+"/other"); err != nil {
			t.Fatal(err)
		}
		var visible1, visible2 string
		tab.Evaluate(ctx, `document.visibilityState`, &visible1)
		tab2.Evaluate(ctx, `document.visibilityState`, &visible2)
		if visible1 != "visible" || visible2 != "visible" {
			t.Errorf("the tabs are %q and %q, want both visible", visible1, visible2)
		}
		var path1, path2 string
		tab.Evaluate(ctx, `location.pathname`, &path1)
		tab2.Evaluate(ctx, `location.pathname`, &path2)
		if path1 != "/page" || path2 != "/other" {
			t.Errorf("tabs at %q and %q, want /page and /other", path1, path2)
		}
		if err := tab2.Close(ctx); err != nil {
			t.Error(err)
		}
	})

	t.Run("user contexts", func(t *testing.T) {
		tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<p>over TLS</p>"))
		}))
		defer tlsSrv.Close()
		// One plain, one that takes the TLS server's self-signed certificate.
		plain, err := ff.NewUserContext(ctx, UserContextOptions{})
		if err != nil {
			t.Fatal(err)
		}
		insecure, err := ff.NewUserContext(ctx, UserContextOptions{AcceptInsecureCerts: true})
		if err != nil {
			t.Fatal(err)
		}
		ucLog, err := plain.LogRequests(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := plain.AddPreloadScript(ctx, `() => { window.preloaded = "yes" }`); err != nil {
			t.Fatal(err)
		}
		a, err := plain.NewTab(ctx)
		if err != nil {
			t.Fatal(err)
		}
		b, err := insecure.NewTab(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, tb := range []*Tab{a, b} {
			if err := tb.Navigate(ctx, srv.URL+"/uc"); err != nil {
				t.Fatal(err)
			}
		}
		var size struct{ W, H int }
		if err := a.Evaluate(ctx, `({w: innerWidth, h: innerHeight})`, &size); err != nil || size.W != 1000 || size.H != 760 {
			t.Errorf("a user context's tab is %dx%d (%v), want Firefox's 1000x760", size.W, size.H, err)
		}
		// Storage is the user context's own.
		if err := a.Evaluate(ctx, `localStorage.setItem("k", "a"); document.cookie = "c=a"`, nil); err != nil {
			t.Fatal(err)
		}
		var other struct{ K, Cookie string }
		if err := b.Evaluate(ctx, `({k: localStorage.getItem("k") || "", cookie: document.cookie})`, &other); err != nil || other.K != "" || other.Cookie != "" {
			t.Errorf("the other user context sees storage %q and cookies %q (%v), want none", other.K, other.Cookie, err)
		}
		var pre [2]string
		a.Evaluate(ctx, `window.preloaded || ""`, &pre[0])
		b.Evaluate(ctx, `window.preloaded || ""`, &pre[1])
		if pre != [2]string{"yes", ""} {
			t.Errorf("the preload script ran as %q, want in its user context only", pre)
		}
		// The log has its user context's requests only.
		if err := tab.Navigate(ctx, srv.URL+"/not-mine"); err != nil {
			t.Fatal(err)
		}
		urls := ucLog.URLs()
		if !slices.Contains(urls, srv.URL+"/uc") || slices.ContainsFunc(urls, func(u string) bool { return strings.HasSuffix(u, "/not-mine") }) {
			t.Errorf("the user context's log holds %q, want /uc and not /not-mine", urls)
		}
		ucLog.Stop()
		// Certificates: only the insecure user context takes the test's.
		if err := b.Navigate(ctx, tlsSrv.URL); err != nil {
			t.Errorf("the user context that accepts insecure certificates: %v", err)
		}
		if err := a.Navigate(ctx, tlsSrv.URL); err == nil {
			t.Errorf("a plain user context loaded a page with a self-signed certificate")
		}
		// Close removes the user context's tabs.
		for _, uc := range []*UserContext{plain, insecure} {
			if err := uc.Close(ctx); err != nil {
				t.Error(err)
			}
		}
		if err := a.Evaluate(ctx, `1`, nil); err == nil {
			t.Errorf("a tab of a closed user context still answers")
		}
	})

	t.Run("response log", func(t *testing.T) {
		var found bool
		for _, r := range responses.Responses() {
			if r.URL == srv.URL+"/pixel.png" {
				found = true
				if r.Status != 404 || r.FromCache || r.HeadersSize == 0 {
					t.Errorf("pixel.png: %+v, want a 404 from the network", r)
				}
			}
		}
		if !found {
			t.Errorf("no response for pixel.png: %+v", responses.Responses())
		}
	})

	t.Run("request log", func(t *testing.T) {
		urls := log.URLs()
		for _, want := range []string{srv.URL + "/page", srv.URL + "/pixel.png", srv.URL + "/other"} {
			if !slices.Contains(urls, want) {
				t.Errorf("the log misses %s: %q", want, urls)
			}
		}
	})
}

// TestLoopbackOnly: with LoopbackOnlyPrefs a request for a name outside
// the machine goes to the (dead) proxy, here a listener standing in for
// it, and a request for 127.0.0.1 goes straight to its server. As every
// request for the internet goes to that proxy, it also shows QuietPrefs
// at work: in the seconds after start, nothing but the page's own
// request reaches it (without MOZ_REMOTE_SETTINGS_DEVTOOLS, dozens of
// requests for firefox.settings.services.mozilla.com did).
func TestLoopbackOnly(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<p>local</p>"))
	}))
	defer srv.Close()
	proxy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	seen := make(chan string, 16) // request lines; buffered so the accept loop never waits
	go func() {
		for {
			c, err := proxy.Accept()
			if err != nil {
				return
			}
			line, _ := bufio.NewReader(c).ReadString('\n')
			seen <- strings.TrimSpace(line)
			// A proxy that reaches nothing.
			c.Write([]byte("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
			c.Close()
		}
	}()
	prefs := maps.Clone(LoopbackOnlyPrefs)
	port := proxy.Addr().(*net.TCPAddr).Port
	for _, k := range []string{"network.proxy.http_port", "network.proxy.ssl_port", "network.proxy.socks_port"} {
		prefs[k] = port
	}
	ff := launch(t, Options{Prefs: prefs})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tab, err := ff.FirstTab(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tab.Navigate(ctx, srv.URL); err != nil {
		t.Fatalf("loopback: %v", err)
	}
	var text, result string
	if err := tab.Evaluate(ctx, `document.body.textContent`, &text); err != nil || text != "local" {
		t.Fatalf("the loopback page shows %q, %v", text, err)
	}
	// Background connections come in the first seconds after start.
	select {
	case line := <-seen:
		t.Fatalf("Firefox made a connection of its own: %q", line)
	case <-time.After(3 * time.Second):
	}
	if err := tab.Evaluate(ctx, `fetch("http://example.com/").then(r => "status " + r.status, e => "failed: " + e)`, &result); err != nil {
		t.Fatal(err)
	}
	// Firefox turns a proxy's 502 into a network error.
	if !strings.HasPrefix(result, "failed") {
		t.Errorf("fetch of example.com: %s, want a failure", result)
	}
	select {
	case line := <-seen:
		if !strings.Contains(line, "example.com") {
			t.Errorf("the proxy got %q, want the request for example.com", line)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the request for example.com did not go to the proxy")
	}
	select {
	case line := <-seen:
		if strings.Contains(line, "127.0.0.1") {
			t.Errorf("a loopback request went to the proxy: %q", line)
		}
	default:
	}
}

// TestLaunchErrors: what is missing is said.
func TestLaunchErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := Launch(ctx, Options{Path: "/nonexistent/firefox", ProfileDir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "apt-get install -y firefox-esr") {
		t.Errorf("a missing binary gave %v", err)
	}
	if _, err := Launch(ctx, Options{Path: FirefoxPath}); err == nil || !strings.Contains(err.Error(), "ProfileDir") {
		t.Errorf("no profile gave %v", err)
	}
}

// TestTemplate: a Firefox started from a template profile works, and the
// template is left as it was, so every copy starts the same.
func TestTemplate(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts Firefox twice")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tmpl := t.TempDir()
	if err := MakeTemplate(ctx, FirefoxPath, tmpl); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadDir(tmpl)
	if err != nil || len(before) == 0 {
		t.Fatalf("the template holds %d entries (%v)", len(before), err)
	}
	ff := launch(t, Options{Template: tmpl})
	tab, err := ff.FirstTab(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var two int
	if err := tab.Evaluate(ctx, `1 + 1`, &two); err != nil || two != 2 {
		t.Fatalf("1 + 1 = %d, %v", two, err)
	}
	after, _ := os.ReadDir(tmpl)
	if len(after) != len(before) {
		t.Errorf("the template changed from %d to %d entries while a copy ran", len(before), len(after))
	}
}
