//go:build !(js && wasm)

package eventsource_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	// envRequireBrowser=1 turns a missing wasmbrowsertest or Chromium into a
	// failure instead of a skip (CI and `make test` set it).
	envRequireBrowser = "SSEWASM_REQUIRE_BROWSER"
	// envBrowserRun, if set, is the -run pattern for the wasm tests.
	envBrowserRun = "SSEWASM_BROWSER_RUN"

	installHint = "`make test` installs them; by hand: go install github.com/agnivade/wasmbrowsertest@v0.11.0 && apt-get install chromium"
)

// TestBrowser runs the wasm tests of this package (eventsource_js_test.go)
// in headless Chromium through wasmbrowsertest, against an SSE server
// started here. It is the only way those tests run: they need the server's
// URL, which it passes in envSSEURL.
func TestBrowser(t *testing.T) {
	require := os.Getenv(envRequireBrowser) == "1"
	if testing.Short() && !require {
		t.Skip("-short: skipping the browser run (" + envRequireBrowser + "=1 forces it)")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is not in PATH: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	goenv := goEnv(ctx, t, gobin)

	var missing []string
	wbt, err := findWasmBrowserTest(goenv)
	if err != nil {
		missing = append(missing, err.Error())
	}
	if err := findChrome(); err != nil {
		missing = append(missing, err.Error())
	}
	if len(missing) > 0 {
		msg := strings.Join(missing, "; ") + "; " + installHint
		if require {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}

	srv := startSSEServer(t)

	home := os.Getenv("HOME")
	if home == "" {
		home = t.TempDir()
	}
	run := os.Getenv(envBrowserRun)
	if run == "" {
		run = "."
	}
	args := []string{"test", "-count=1", "-timeout=150s", "-exec=" + wbt, "-run=" + run}
	if testing.Verbose() {
		args = append(args, "-v")
	}
	args = append(args, ".")
	cmd := exec.CommandContext(ctx, gobin, args...)
	// wasmbrowsertest copies its whole environment into the test page and
	// fails when it grows past about 8 KB: pass only what the build needs.
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"GOROOT=" + goenv.GOROOT, // wasmbrowsertest serves this GOROOT's wasm_exec.js
		"GOPATH=" + goenv.GOPATH,
		"GOCACHE=" + goenv.GOCACHE,
		"GOMODCACHE=" + goenv.GOMODCACHE,
		"GOTOOLCHAIN=local",
		"GOOS=js",
		"GOARCH=wasm",
		envSSEURL + "=" + srv.URL,
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	killProcessGroupOnCancel(cmd) // Chromium too, not only the go command
	cmd.WaitDelay = 10 * time.Second

	start := time.Now()
	err = cmd.Run()
	took := time.Since(start).Round(time.Millisecond)
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", err, ctx.Err())
		}
		t.Fatalf("wasm tests in the browser failed after %v: %v\n%s", took, err, withoutNoise(out.Bytes()))
	}
	t.Logf("wasm tests passed in the browser in %v:\n%s", took, withoutNoise(out.Bytes()))
}

// withoutNoise drops the lines wasmbrowsertest logs for every request
// because its chromedp is older than this Chromium: "could not unmarshal
// event: unknown IPAddressSpace value". They are harmless.
func withoutNoise(out []byte) []byte {
	var b bytes.Buffer
	for line := range bytes.Lines(out) {
		if !bytes.Contains(line, []byte("unknown IPAddressSpace value")) {
			b.Write(line)
		}
	}
	return b.Bytes()
}

type goEnvVars struct {
	GOROOT, GOPATH, GOBIN, GOCACHE, GOMODCACHE string
}

func goEnv(ctx context.Context, t *testing.T, gobin string) goEnvVars {
	t.Helper()
	out, err := exec.CommandContext(ctx, gobin, "env", "-json", "GOROOT", "GOPATH", "GOBIN", "GOCACHE", "GOMODCACHE").Output()
	if err != nil {
		t.Fatalf("go env: %v", err)
	}
	var v goEnvVars
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("go env -json: %v", err)
	}
	return v
}

func findWasmBrowserTest(goenv goEnvVars) (string, error) {
	if p, err := exec.LookPath("wasmbrowsertest"); err == nil {
		return p, nil
	}
	dirs := []string{goenv.GOBIN}
	for _, p := range filepath.SplitList(goenv.GOPATH) {
		dirs = append(dirs, filepath.Join(p, "bin"))
	}
	for _, dir := range dirs {
		if dir == "" {
			continue
		}
		p := filepath.Join(dir, "wasmbrowsertest")
		if _, err := exec.LookPath(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("wasmbrowsertest is not installed (looked in PATH, GOBIN and GOPATH/bin)")
}

// findChrome looks for a browser where wasmbrowsertest (through chromedp)
// looks for one on Linux.
func findChrome() error {
	for _, name := range []string{
		"chromium", "chromium-browser", "google-chrome", "google-chrome-stable",
		"headless-shell", "headless_shell", "/snap/bin/chromium", "chrome",
	} {
		if _, err := exec.LookPath(name); err == nil {
			return nil
		}
	}
	return errors.New("no Chromium or Chrome in PATH (wasmbrowsertest looks for chromium, e.g. /usr/bin/chromium)")
}

// sseServer is the test server the wasm tests connect to.
//
// GET /stream?key=K streams, for the connection counted under K:
//
//	retry: 200
//	: hello
//	event: greet / id: 1 / data: hello / data: world
//	id: 2 / data: plain
//
// then, with burst=N, N unnamed events "burst i" in the same write; then,
// with end=1, it ends the response (the browser reconnects); otherwise it
// sends "tick i" every 20 ms until the client goes away. status=N answers
// that status instead; creds=0 leaves out Access-Control-Allow-Credentials.
//
// GET /stats?key=K returns the streamStats of K as JSON.
type sseServer struct {
	*httptest.Server
	done chan struct{} // closed at cleanup: ends every stream

	mu    sync.Mutex
	stats map[string]*streamStats
}

// streamStats is the JSON answer of /stats; eventsource_js_test.go decodes
// the same fields.
type streamStats struct {
	Connects     int      `json:"connects"`
	Disconnects  int      `json:"disconnects"`
	LastEventIDs []string `json:"lastEventIDs"` // the Last-Event-ID header of each connection
}

func startSSEServer(t *testing.T) *sseServer {
	s := &sseServer{done: make(chan struct{}), stats: make(map[string]*streamStats)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stream", s.stream)
	mux.HandleFunc("OPTIONS /stream", s.preflight)
	mux.HandleFunc("GET /stats", s.statsHandler)
	s.Server = httptest.NewServer(mux) // listens on 127.0.0.1
	t.Cleanup(s.Close)
	t.Cleanup(func() { close(s.done) }) // runs before s.Close, which waits for the streams
	return s
}

// allowOrigin answers CORS for the wasmbrowsertest page, which has its own
// origin.
func allowOrigin(w http.ResponseWriter, r *http.Request, credentials bool) {
	h := w.Header()
	h.Add("Vary", "Origin")
	if origin := r.Header.Get("Origin"); origin != "" {
		h.Set("Access-Control-Allow-Origin", origin)
		if credentials {
			h.Set("Access-Control-Allow-Credentials", "true")
		}
	}
}

func (s *sseServer) preflight(w http.ResponseWriter, r *http.Request) {
	allowOrigin(w, r, r.URL.Query().Get("creds") != "0")
	w.Header().Set("Access-Control-Allow-Methods", "GET")
	w.Header().Set("Access-Control-Allow-Headers", r.Header.Get("Access-Control-Request-Headers"))
	w.WriteHeader(http.StatusNoContent)
}

func (s *sseServer) stream(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	allowOrigin(w, r, q.Get("creds") != "0")
	key := q.Get("key")
	if key == "" {
		http.Error(w, "missing key", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	st := s.statsOf(key)
	st.Connects++
	st.LastEventIDs = append(st.LastEventIDs, r.Header.Get("Last-Event-ID"))
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		st.Disconnects++
		s.mu.Unlock()
	}()

	if code, _ := strconv.Atoi(q.Get("status")); code != 0 && code != http.StatusOK {
		w.WriteHeader(code)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	rc := http.NewResponseController(w)

	var b strings.Builder
	b.WriteString("retry: 200\n\n: hello\n\n")
	b.WriteString("event: greet\nid: 1\ndata: hello\ndata: world\n\n")
	b.WriteString("id: 2\ndata: plain\n\n")
	n, _ := strconv.Atoi(q.Get("burst"))
	for i := range n {
		fmt.Fprintf(&b, "data: burst %d\n\n", i)
	}
	if _, err := fmt.Fprint(w, b.String()); err != nil {
		return
	}
	if err := rc.Flush(); err != nil {
		return
	}
	if q.Get("end") == "1" {
		return
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		case <-tick.C:
		}
		if _, err := fmt.Fprintf(w, "data: tick %d\n\n", i); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

func (s *sseServer) statsHandler(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Content-Type", "application/json")
	s.mu.Lock()
	b, err := json.Marshal(s.statsOf(r.URL.Query().Get("key")))
	s.mu.Unlock()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Write(b)
}

// statsOf returns the stats of key, creating them; s.mu must be held.
func (s *sseServer) statsOf(key string) *streamStats {
	st, ok := s.stats[key]
	if !ok {
		st = &streamStats{LastEventIDs: []string{}}
		s.stats[key] = st
	}
	return st
}
