package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssewasm/ssewasm/server/sse"
)

// get returns the status and body of a GET.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestDevModeOnlyWithFlag: without -dev-build there is no development
// stream, no reload script and go-app's own service worker.
func TestDevModeOnlyWithFlag(t *testing.T) {
	ts, _ := newTestService(t, defaults(t))
	if code, _ := get(t, ts.URL+devBuildPath); code != http.StatusNotFound {
		t.Errorf("GET %s answers %d without -dev-build, want 404", devBuildPath, code)
	}
	if _, page := get(t, ts.URL+"/"); strings.Contains(page, devBuildPath) {
		t.Errorf("the page loads the development script without -dev-build")
	}
	if _, worker := get(t, ts.URL+"/app-worker.js"); !strings.Contains(worker, "fetchWithCache") {
		t.Errorf("the service worker is not go-app's without -dev-build")
	}
}

// TestDevBuildStream: with -dev-build, a page connecting to the development
// stream gets the current build result at once and every later one; the
// page carries the script that reloads it, and the service worker caches
// nothing.
func TestDevBuildStream(t *testing.T) {
	file := filepath.Join(t.TempDir(), "build.json")
	if err := os.WriteFile(file, []byte(`{"ok":true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	ts, _ := newTestService(t, defaults(t, "-dev-build", file))

	_, page := get(t, ts.URL+"/")
	if !strings.Contains(page, devBuildPath) || !strings.Contains(page, "location.reload()") {
		t.Errorf("the page lacks the reload script")
	}
	if _, worker := get(t, ts.URL+"/app-worker.js"); worker != devServiceWorker {
		t.Errorf("the service worker is not the development one:\n%s", worker)
	}

	resp := openStream(t, ts.URL+devBuildPath)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("Content-Type %q", ct)
	}
	d := sse.NewDecoder(resp.Body)
	type build struct {
		OK       bool   `json:"ok"`
		Log      string `json:"log"`
		Instance string `json:"instance"`
	}
	next := func() build {
		t.Helper()
		e, err := d.Next()
		if err != nil {
			t.Fatal(err)
		}
		var b build
		if e.Name != "build" || json.Unmarshal([]byte(e.Data), &b) != nil {
			t.Fatalf("got %q %q, want a build event", e.Name, e.Data)
		}
		return b
	}
	first := next()
	if !first.OK || first.Instance == "" || !strings.Contains(page, `"`+first.Instance+`"`) {
		t.Errorf("first build event %+v: want ok, and the instance the page was served with", first)
	}

	const log = "wasm/ui/classic.go:1:2: undefined: x"
	tmp := file + ".tmp"
	os.WriteFile(tmp, []byte(`{"ok":false,"log":"`+log+`"}`), 0o644)
	if err := os.Rename(tmp, file); err != nil {
		t.Fatal(err)
	}
	if b := next(); b.OK || b.Log != log || b.Instance != first.Instance {
		t.Errorf("after a failed build: %+v, want the compiler's output", b)
	}
}
