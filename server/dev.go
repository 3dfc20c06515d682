package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"
	"github.com/ssewasm/ssewasm/server/sse"
)

// Development mode, for `make dev` (server/cmd/devserver). It exists only
// when the server runs with -dev-build FILE; `make run` never sets it.
//
// The dev watcher rebuilds what changed, writes the result of each build
// into FILE as a devBuild, and restarts this server after every build that
// succeeded. In development mode the server
//
//   - streams FILE's content to every open page at devBuildPath, as the
//     "build" event: once when a page connects, then at every change;
//   - puts a small script into every page: it shows a failed build's
//     compiler output over the page, hides it once a build succeeds, and
//     reloads the page when the server it connects to is a new one (a new
//     build, with a new app.wasm);
//   - replaces go-app's service worker with one that caches nothing and
//     deletes the caches of earlier workers, so a reload always runs the
//     app.wasm just built.

// devBuildPath is the development-only event stream of build results.
const devBuildPath = "/_dev/build"

// devBuild is what the dev watcher writes into the -dev-build file after
// each build.
type devBuild struct {
	OK  bool   `json:"ok"`
	Log string `json:"log,omitempty"` // the compiler's output when !OK
}

// devPoll is how often the server looks at the -dev-build file.
const devPoll = 100 * time.Millisecond

func addDevFlags(fs *flag.FlagSet, file *string) {
	fs.StringVar(file, "dev-build", "", "development mode (make dev): stream the build results the dev watcher writes into this file to every page, and reload pages after a new build; never in production")
}

// devReload serves devBuildPath. One goroutine, started by newDevReload
// and ended by the service's context, watches the file; each stream waits
// for the change channel it was given to close.
type devReload struct {
	stop     <-chan struct{} // closed when the server shuts down
	file     string
	instance string // identifies this server process: a new one means a new build
	log      *slog.Logger

	mu      sync.Mutex
	data    []byte        // the file's last content, "" when missing
	changed chan struct{} // closed and replaced at every change of data
}

func newDevReload(ctx context.Context, file string, log *slog.Logger) *devReload {
	d := &devReload{
		stop:     ctx.Done(),
		file:     file,
		instance: strconv.FormatInt(time.Now().UnixNano(), 36),
		log:      log,
		changed:  make(chan struct{}),
	}
	d.read()
	go func() {
		t := time.NewTicker(devPoll)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				d.read()
			}
		}
	}()
	return d
}

// read loads the file, and wakes the streams when its content changed.
func (d *devReload) read() {
	b, err := os.ReadFile(d.file)
	if err != nil {
		b = nil
	}
	var v devBuild
	if len(b) > 0 && json.Unmarshal(b, &v) != nil {
		return // a partial write; the watcher renames, so this is someone else's
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if bytes.Equal(b, d.data) {
		return
	}
	d.data = b
	close(d.changed)
	d.changed = make(chan struct{})
}

// current returns the build event's data and the channel that closes at
// the next change.
func (d *devReload) current() (string, <-chan struct{}) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var v devBuild
	if len(d.data) == 0 {
		v.OK = true // no file yet: nothing to report
	} else {
		json.Unmarshal(d.data, &v)
	}
	b, _ := json.Marshal(struct {
		devBuild
		Instance string `json:"instance"`
	}{v, d.instance})
	return string(b), d.changed
}

// ServeHTTP streams the build results until the client leaves or the
// server shuts down.
func (d *devReload) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s, err := sse.NewStream(w, r)
	if err != nil {
		http.Error(w, "this server cannot stream responses: "+err.Error(), http.StatusInternalServerError)
		return
	}
	s.SetWriteTimeout(5 * time.Second)
	// A restarted server is back within a few hundred milliseconds.
	if err := s.Retry(200 * time.Millisecond); err != nil {
		return
	}
	for {
		data, changed := d.current()
		if err := s.Send(sse.Event{Name: "build", Data: data}); err != nil {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-d.stop: // Shutdown does not cancel request contexts
			return
		case <-changed:
		}
	}
}

// configure turns h into the development handler: the reload script in
// every page, a service worker that caches nothing, and a version of its
// own.
func (d *devReload) configure(h *app.Handler) {
	// go-app answers 304 to any request that brings its version's ETag:
	// a new version per server keeps a changed CSS file from staying
	// cached (the watcher restarts the server when web/ changes).
	h.Version += "-" + d.instance
	h.RawHeaders = append(h.RawHeaders, "<script>"+strings.ReplaceAll(devScript, "{{.Instance}}", d.instance)+"</script>")
	h.ServiceWorkerTemplate = devServiceWorker
}

// devScript runs in every page in development mode. The overlay hangs
// from <html>, not <body>: go-app removes what others add to the body.
const devScript = `(() => {
  const instance = "{{.Instance}}";
  const es = new EventSource("` + devBuildPath + `");
  es.addEventListener("build", (e) => {
    const b = JSON.parse(e.data);
    if (b.instance !== instance) { es.close(); location.reload(); return; }
    let o = document.getElementById("dev-build-errors");
    if (b.ok) { if (o) o.remove(); return; }
    if (!o) {
      o = document.createElement("div");
      o.id = "dev-build-errors";
      o.style.cssText = "position:fixed;inset:0;z-index:2147483647;overflow:auto;margin:0;padding:1.5rem;" +
        "background:rgba(20,0,0,.93);color:#ffd6d6;font:14px/1.5 ui-monospace,monospace;white-space:pre-wrap";
      document.documentElement.appendChild(o);
    }
    o.textContent = "The build failed; this page reloads once it builds again.\n\n" + b.log;
  });
})();`

// devServiceWorker replaces go-app's worker in development mode: no
// cache, no fetch handler (every request goes to the network), and the
// caches of a production worker deleted.
const devServiceWorker = `self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});`
