package bidi

import (
	"bytes"
	"context"
	"errors"
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

// launch starts Firefox for a test; a missing Firefox fails the test.
func launch(t *testing.T, o Options) *Firefox {
	t.Helper()
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

	t.Run("request log", func(t *testing.T) {
		urls := log.URLs()
		for _, want := range []string{srv.URL + "/page", srv.URL + "/pixel.png", srv.URL + "/other"} {
			if !slices.Contains(urls, want) {
				t.Errorf("the log misses %s: %q", want, urls)
			}
		}
	})
}

// TestLoopbackOnly: with LoopbackOnlyPrefs a page cannot reach a name
// outside the machine, and loopback still works.
func TestLoopbackOnly(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<p>local</p>"))
	}))
	defer srv.Close()
	ff := launch(t, Options{Prefs: LoopbackOnlyPrefs})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tab, err := ff.FirstTab(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tab.Navigate(ctx, srv.URL); err != nil {
		t.Fatalf("loopback: %v", err)
	}
	var result string
	if err := tab.Evaluate(ctx, `fetch("http://example.com/").then(() => "reached", e => "failed: " + e)`, &result); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(result, "failed") {
		t.Errorf("fetch of example.com: %s, want a failure", result)
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
