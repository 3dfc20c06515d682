package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/maxence-charriere/go-app/v10/pkg/app"
)

// webDir serves the static files of the app (app.wasm, icons, CSS) at /web/
// from a directory anywhere on disk. It is go-app's ResourceResolver: unlike
// app.LocalDir, the directory's path never leaks into page URLs, so the
// server can run from any working directory.
type webDir struct {
	files     http.Handler
	version   string     // content hash of app.wasm: a new build is a new version
	wasmSize  int64      // bytes of the uncompressed app.wasm, for go-app's progress bar
	encodings []encoding // precompressed app.wasm copies found, in order of preference
	refused   *refusals  // nil: not counted
}

// encoding is a precompressed copy of app.wasm.
type encoding struct {
	token string // Accept-Encoding / Content-Encoding token
	path  string
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
	size, err := io.Copy(h, f)
	if err != nil {
		return nil, fmt.Errorf("reading app.wasm: %w", err)
	}
	w := &webDir{
		files:    http.StripPrefix("/web", http.FileServer(http.Dir(abs))),
		version:  hex.EncodeToString(h.Sum(nil))[:16],
		wasmSize: size,
	}
	st, _ := f.Stat()
	for _, e := range []encoding{{"br", "app.wasm.br"}, {"gzip", "app.wasm.gz"}} {
		p := filepath.Join(abs, e.path)
		// A compressed copy older than app.wasm is stale: never serve it.
		if ci, err := os.Stat(p); err == nil && st != nil && !ci.ModTime().Before(st.ModTime()) {
			w.encodings = append(w.encodings, encoding{e.token, p})
		}
	}
	return w, nil
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

// ServeHTTP serves files under /web/, and app.wasm precompressed when the
// client accepts it.
func (w *webDir) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if !validWebName(r.URL.Path) {
		if w.refused != nil {
			w.refused.add(refusedWebName)
		}
		http.Error(rw, "no such file: a file name is at most 255 bytes", http.StatusNotFound)
		return
	}
	if r.URL.Path == "/web/app.wasm" {
		rw.Header().Add("Vary", "Accept-Encoding")
		for _, e := range w.encodings {
			if !acceptsEncoding(r.Header.Get("Accept-Encoding"), e.token) {
				continue
			}
			f, err := os.Open(e.path)
			if err != nil {
				break // fall back to the raw file
			}
			defer f.Close()
			st, err := f.Stat()
			if err != nil {
				break
			}
			rw.Header().Set("Content-Type", "application/wasm")
			rw.Header().Set("Content-Encoding", e.token)
			http.ServeContent(rw, r, "app.wasm", st.ModTime(), f)
			return
		}
	}
	w.files.ServeHTTP(rw, r)
}

// acceptsEncoding reports whether an Accept-Encoding header accepts token
// (with a q-value above zero).
func acceptsEncoding(header, token string) bool {
	for part := range strings.SplitSeq(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), token) {
			continue
		}
		q, ok := strings.CutPrefix(strings.TrimSpace(params), "q=")
		if !ok {
			return true // no q-value: q=1
		}
		v, err := strconv.ParseFloat(q, 64)
		return err == nil && v > 0
	}
	return false
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

// wasmPreload starts downloading app.wasm with the page, instead of after
// app.js has run. It is a fetch preload in CORS mode with same-origin
// credentials, exactly what app.js's fetch asks for, so that fetch takes
// the preloaded response. The server picks the encoding from the
// browser's Accept-Encoding, which a preload sends like any fetch.
const wasmPreload = `<link rel="preload" href="/web/app.wasm" as="fetch" type="application/wasm" crossorigin="anonymous">`

// goappFetchWasm is how go-app's app.js fetches app.wasm: it copies the
// response into a new Response, through JavaScript, to count progress.
// That copy has no URL, so the browser can never reuse the compiled
// module on a later visit, and every byte goes through a JavaScript loop.
const goappFetchWasm = `  var res = new Response(
    new ReadableStream(
      {
        async start(controller) {
          var reader = response.body.getReader();
          for (; ;) {
            var { done, value } = await reader.read();

            if (done) {
              progressHandler(total, total);
              break;
            }

            loaded += value.byteLength;
            progressHandler(loaded, total);
            controller.enqueue(value);
          }
          controller.close();
        },
      },
      {
        status: response.status,
        statusText: response.statusText,
      }
    )
  );

  for (var pair of response.headers.entries()) {
    res.headers.set(pair[0], pair[1]);
  }

  return res;
}`

// ourFetchWasm hands the fetch's own response to instantiateStreaming,
// which compiles as the bytes arrive and lets the browser cache the
// compiled code, and counts progress on a clone of it.
const ourFetchWasm = `  if (total > 0 && response.body) {
    const reader = response.clone().body.getReader();
    (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) { progressHandler(total, total); return; }
        loaded += value.byteLength;
        progressHandler(Math.min(loaded, total), total);
      }
    })().catch(() => {});
  }
  return response;
}`

// goappRunWasm starts the Go program once app.wasm is compiled and
// instantiated; ourRunWasm marks that moment on the page's performance
// timeline ("wasm-instantiated"), for e2e/firstpaint_test.go and for
// anyone looking at a page load in the browser's tools.
const (
	goappRunWasm = `    go.run(wasm.instance);`
	ourRunWasm   = `    performance.mark("wasm-instantiated");
    go.run(wasm.instance);`
)

// goappStart is how app.js starts: the service worker first. Its install
// downloads and stores every file of the app, app.wasm included, while
// the page downloads and compiles app.wasm: on a first visit both compete
// for the CPU. ourStart registers the worker once the app runs.
const (
	goappStart = `goappInitServiceWorker();
goappWatchForUpdate();
goappWatchForInstallable();
goappInitWebAssembly();`
	ourStart = `goappWatchForUpdate();
goappWatchForInstallable();
goappInitWebAssembly().finally(goappInitServiceWorker);`
)

// appJS serves go-app's app.js with its wasm fetch replaced by
// ourFetchWasm, and everything else as go-app serves it.
type appJS struct {
	*app.Handler
}

func (a appJS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/app.js" && r.URL.Path != "/goapp.js" {
		a.Handler.ServeHTTP(w, r)
		return
	}
	rec := &recorded{header: make(http.Header), code: http.StatusOK}
	a.Handler.ServeHTTP(rec, r)
	body := rec.body.String()
	if rec.code == http.StatusOK {
		body = mustReplace(body, goappFetchWasm, ourFetchWasm)
		body = mustReplace(body, goappRunWasm, ourRunWasm)
		body = mustReplace(body, goappStart, ourStart)
		rec.header.Set("Content-Length", strconv.Itoa(len(body)))
	}
	maps.Copy(w.Header(), rec.header)
	w.WriteHeader(rec.code)
	io.WriteString(w, body)
}

// recorded is a response kept in memory.
type recorded struct {
	header http.Header
	code   int
	body   strings.Builder
}

func (r *recorded) Header() http.Header         { return r.header }
func (r *recorded) WriteHeader(code int)        { r.code = code }
func (r *recorded) Write(b []byte) (int, error) { return r.body.Write(b) }

// validWebName reports whether every segment of a /web/ path fits a file
// name (255 bytes on every common file system): a longer one cannot
// exist, so it is a 404, not the 500 that ENAMETOOLONG gives.
func validWebName(path string) bool {
	for seg := range strings.SplitSeq(path, "/") {
		if len(seg) > 255 {
			return false
		}
	}
	return true
}
