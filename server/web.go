package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/maxence-charriere/go-app/v10/pkg/app"
)

// webDir serves the static files of the app (app.wasm, icons, CSS) at /web/
// from a directory anywhere on disk. It is go-app's ResourceResolver: unlike
// app.LocalDir, the directory's path never leaks into page URLs, so the
// server can run from any working directory.
type webDir struct {
	dir     string
	files   http.Handler
	version string // content hash of app.wasm: a new build is a new version
}

// openWebDir checks that dir holds a built app and derives the app's
// version from the content of app.wasm.
func openWebDir(dir string) (*webDir, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(abs, "app.wasm"))
	if err != nil {
		return nil, fmt.Errorf("the browser app is not built: %w (run `make build`, or point -web at the directory holding app.wasm)", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, fmt.Errorf("reading app.wasm: %w", err)
	}
	return &webDir{
		dir:     abs,
		files:   http.StripPrefix("/web", http.FileServer(http.Dir(abs))),
		version: hex.EncodeToString(h.Sum(nil))[:16],
	}, nil
}

// Resolve maps a /web/ path to the URL the page uses: the path itself.
func (w *webDir) Resolve(location string) string {
	if location == "" || location == "/" {
		return "/"
	}
	if strings.Contains(location, "://") || !strings.HasPrefix(location, "/web/") && location != "/web" {
		return location
	}
	return "/" + strings.Trim(location, "/")
}

// ServeHTTP serves files under /web/.
func (w *webDir) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	w.files.ServeHTTP(rw, r)
}

var _ app.ResourceResolver = (*webDir)(nil)

// serviceWorker is go-app's service worker, changed so that it never
// answers an event stream: EventSource requests (Accept: text/event-stream)
// go straight to the network instead of through the worker, which would
// otherwise hold them open and could serve them from its cache.
var serviceWorker = mustReplace(app.DefaultAppWorkerJS,
	`self.addEventListener("fetch", (event) => {
  event.respondWith(fetchWithCache(event.request));
});`,
	`self.addEventListener("fetch", (event) => {
  // Event streams are never cached nor proxied by the worker.
  if ((event.request.headers.get("Accept") || "").includes("text/event-stream")) {
    return;
  }
  event.respondWith(fetchWithCache(event.request));
});`)

func mustReplace(s, old, new string) string {
	if strings.Count(s, old) != 1 {
		panic("go-app's service worker changed: update serviceWorker in server/web.go")
	}
	return strings.Replace(s, old, new, 1)
}
