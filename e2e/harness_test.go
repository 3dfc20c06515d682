package e2e

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/ssewasm/ssewasm/internal/testlog"
)

var screenshots = flag.String("screenshots", "", "directory to write page screenshots into (for the README)")

// built holds the binaries every test shares: building the wasm app takes
// seconds with warm caches and minutes without, so it is done once per
// test binary.
var built struct {
	once   sync.Once
	dir    string // holds server and web/
	err    error
	output string
}

// repoRoot is the module's root directory.
func repoRoot(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// buildApp builds the server and the wasm app into a temporary directory
// (never into the source tree) and copies the static files beside them.
//
// Every test that needs the built app skips under -short, from here: the
// build alone takes seconds with a warm cache and a minute without.
func buildApp(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: needs the wasm app and server built")
	}
	root := repoRoot(t)
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "ssewasm-e2e-")
		if err != nil {
			built.err = err
			return
		}
		built.dir = dir
		web := filepath.Join(dir, "web")
		if err := copyStatic(filepath.Join(root, "web"), web); err != nil {
			built.err = err
			return
		}
		built.output, built.err = buildInto(root, dir)
	})
	if built.err != nil {
		t.Fatalf("building the app: %v\n%s", built.err, built.output)
	}
	return built.dir
}

// buildInto builds the server and the wasm app of the module at root
// into dir and dir/web, the wasm exactly as make build makes it; it
// returns the output of the step that failed.
func buildInto(root, dir string) (output string, err error) {
	run := func(args ...string) error {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			output = string(out)
		}
		return err
	}
	wasm := filepath.Join(dir, "web", "app.wasm")
	if err := run("make", "--no-print-directory", "wasm-build", "WASM_OUT="+wasm); err != nil {
		return output, err
	}
	if !compressedFromCache(wasm) {
		// make wasm: the same build (from Go's cache), then precompress.
		if err := run("make", "--no-print-directory", "wasm", "WASM_OUT="+wasm); err != nil {
			return output, err
		}
		storeCompressed(wasm)
	}
	// -trimpath, as make server builds it, so that make dev's builds
	// (TestDevReload) find Go's build cache warm.
	return output, run("go", "build", "-trimpath", "-o", filepath.Join(dir, "server"), "./server")
}

// compressedFiles are what precompress writes beside app.wasm: its brotli
// and gzip copies and the stamp of the app.wasm they were made from.
var compressedFiles = []string{".br", ".gz", ".sha256"}

// compressedCacheDir is where buildApp keeps precompress's output, in a
// directory named for the SHA-256 of app.wasm: brotli at its best takes
// most of a minute of CPU, for the same bytes every time app.wasm is
// the same.
func compressedCacheDir(wasm []byte) (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(wasm)
	return filepath.Join(base, "ssewasm", "e2e-compressed", hex.EncodeToString(sum[:])), nil
}

// compressedFromCache copies the cached compressed copies of the app.wasm
// at path beside it, if the cache has them.
func compressedFromCache(path string) bool {
	raw, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	dir, err := compressedCacheDir(raw)
	if err != nil {
		return false
	}
	for _, suffix := range compressedFiles {
		b, err := os.ReadFile(filepath.Join(dir, "app.wasm"+suffix))
		// Written after app.wasm, so the server takes them as current.
		if err != nil || os.WriteFile(path+suffix, b, 0o644) != nil {
			return false
		}
	}
	now := time.Now()
	os.Chtimes(dir, now, now) // recently used: kept by the pruning
	return true
}

// storeCompressed keeps the compressed copies beside the app.wasm at path
// in the cache, and removes all but the newest few entries. Several test
// processes may do this at once: each entry appears whole, by rename, or
// not at all. A cache that cannot be written costs time only.
func storeCompressed(path string) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return
	}
	dir, err := compressedCacheDir(raw)
	if err != nil || os.MkdirAll(filepath.Dir(dir), 0o755) != nil {
		return
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "tmp-")
	if err != nil {
		return
	}
	defer os.RemoveAll(tmp) // gone after the rename, unless another process stored it first
	for _, suffix := range compressedFiles {
		b, err := os.ReadFile(path + suffix)
		if err != nil || os.WriteFile(filepath.Join(tmp, "app.wasm"+suffix), b, 0o644) != nil {
			return
		}
	}
	if os.Rename(tmp, dir) != nil {
		return
	}
	entries, _ := os.ReadDir(filepath.Dir(dir))
	type entry struct {
		path string
		used time.Time
	}
	var kept []entry
	for _, e := range entries {
		info, err := e.Info()
		switch {
		case err != nil || !e.IsDir():
		case !strings.HasPrefix(e.Name(), "tmp-"):
			kept = append(kept, entry{filepath.Join(filepath.Dir(dir), e.Name()), info.ModTime()})
		case time.Since(info.ModTime()) > time.Hour: // left by a process that died
			os.RemoveAll(filepath.Join(filepath.Dir(dir), e.Name()))
		}
	}
	slices.SortFunc(kept, func(a, b entry) int { return b.used.Compare(a.used) })
	const keep = 4 // a few builds: this branch's and the last ones of others
	for _, e := range kept[min(keep, len(kept)):] {
		os.RemoveAll(e.path)
	}
}

// copyStatic copies the committed static files (not a stale app.wasm).
func copyStatic(from, to string) error {
	if err := os.MkdirAll(to, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(from)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), "app.wasm") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// server is a running server binary.
type server struct {
	URL  string
	Addr string
	cmd  *exec.Cmd
	done chan error
	log  *testlog.Buffer
}

// startServer runs the built server on addr ("127.0.0.1:0" for any free
// port) and waits for it to print its URL.
func startServer(t testing.TB, dir, addr string, args ...string) *server {
	t.Helper()
	cmd := exec.Command(filepath.Join(dir, "server"), append([]string{"-addr", addr, "-web", filepath.Join(dir, "web")}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logs := &testlog.Buffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, done: make(chan error, 1), log: logs}
	urls := make(chan string, 1) // buffered: the reader never waits for us
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if _, url, ok := strings.Cut(sc.Text(), "serving on "); ok {
				urls <- url
				break
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	go func() { s.done <- cmd.Wait() }()
	t.Cleanup(func() { s.stop(t) })
	select {
	case s.URL = <-urls:
		s.Addr = strings.TrimSuffix(strings.TrimPrefix(s.URL, "http://"), "/")
	case err := <-s.done:
		t.Fatalf("server exited before serving: %v\n%s", err, logs)
	case <-time.After(20 * time.Second):
		t.Fatalf("server printed no URL within 20s\n%s", logs)
	}
	return s
}

// stop sends SIGTERM and waits for the server to exit on its own; after
// 10 s it kills it and fails the test.
func (s *server) stop(t testing.TB) {
	t.Helper()
	if s.cmd.ProcessState != nil {
		return
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("SIGTERM: %v", err)
	}
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("server exited with %v\n%s", err, s.log)
		}
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
		t.Errorf("server did not exit within 10s of SIGTERM\n%s", s.log)
	}
}

// within runs a with a context bounded by d, derived from a browser
// context that has already run.
func within[T any](t testing.TB, ctx context.Context, d time.Duration, a chromedp.Action[T]) (T, error) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return chromedp.Run(c, a)
}
