package e2e

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

var screenshots = flag.String("screenshots", "", "directory to write page screenshots into (for the README)")

const chromiumPath = "/usr/bin/chromium"

// built holds the binaries every test shares: building the wasm app takes
// about a minute, so it is done once per test binary.
var built struct {
	once   sync.Once
	dir    string // holds server and web/
	err    error
	output string
}

// repoRoot is the module's root directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// buildApp builds the server and the wasm app into a temporary directory
// (never into the source tree) and copies the static files beside them.
func buildApp(t *testing.T) string {
	t.Helper()
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
		steps := [][]string{
			// The wasm app exactly as make build makes it.
			{"make", "--no-print-directory", "wasm", "WASM_OUT=" + filepath.Join(web, "app.wasm")},
			// -trimpath, as make server builds it, so that make dev's
			// builds (e2e/dev_test.go) find Go's build cache warm.
			{"go", "build", "-trimpath", "-o", filepath.Join(dir, "server"), "./server"},
		}
		for _, s := range steps {
			cmd := exec.Command(s[0], s[1:]...)
			cmd.Dir = root
			out, err := cmd.CombinedOutput()
			if err != nil {
				built.err = err
				built.output = string(out)
				return
			}
		}
	})
	if built.err != nil {
		t.Fatalf("building the app: %v\n%s", built.err, built.output)
	}
	return built.dir
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
	log  *lockedBuffer
}

// startServer runs the built server on addr ("127.0.0.1:0" for any free
// port) and waits for it to print its URL.
func startServer(t *testing.T, dir, addr string, args ...string) *server {
	t.Helper()
	cmd := exec.Command(filepath.Join(dir, "server"), append([]string{"-addr", addr, "-web", filepath.Join(dir, "web")}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
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

// stop sends SIGTERM and returns how long the server took to exit.
func (s *server) stop(t *testing.T) time.Duration {
	t.Helper()
	if s.cmd.ProcessState != nil {
		return 0
	}
	start := time.Now()
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
	return time.Since(start)
}

// newBrowser starts a headless Chromium with the flags this machine needs
// and returns a tab's context.
func newBrowser(t *testing.T, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("browser tests need Chromium at %s: run `make test` (it installs it) or `apt-get install -y chromium`", chromiumPath)
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
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1000, 760),
	)
	opts = append(opts, extra...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// Start the browser now, without a timeout (a timeout on the first
	// run would stop the whole browser).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	return ctx
}

// within runs a with a context bounded by d, derived from a browser
// context that has already run.
func within[T any](t *testing.T, ctx context.Context, d time.Duration, a chromedp.Action[T]) (T, error) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return chromedp.Run(c, a)
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
