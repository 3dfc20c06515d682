//go:build unix

package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/ssewasm/ssewasm/internal/testlog"
)

// copyRepo copies the repository's files (committed or not, minus what
// .gitignore leaves out, such as built binaries) into a temporary
// directory, so a test may edit them.
func copyRepo(t *testing.T) string {
	t.Helper()
	root := repoRoot(t)
	out, err := exec.Command("git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	dst := t.TempDir()
	for _, rel := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		b, err := os.ReadFile(filepath.Join(root, rel))
		if os.IsNotExist(err) {
			continue // deleted, not yet committed
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dst, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// devLoop is `make dev` running in a directory.
type devLoop struct {
	URL string
	cmd *exec.Cmd
	log *testlog.Buffer
}

// startDev runs `make dev` in dir on a free port and waits until it
// serves. The whole process group (make, go run, devserver, server) is
// ended when the test ends.
func startDev(t *testing.T, dir string) *devLoop {
	t.Helper()
	cmd := exec.Command("make", "--no-print-directory", "dev", "ADDR=127.0.0.1:0")
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	d := &devLoop{cmd: cmd, log: &testlog.Buffer{}}
	cmd.Stderr = d.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1) // buffered: Wait's result is read at most once
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
			t.Errorf("make dev did not stop within 15s of SIGTERM")
		}
	})
	urls := make(chan string, 1) // buffered: the reader never waits for us
	go func() {
		sc := bufio.NewScanner(stdout)
		sent := false
		for sc.Scan() {
			d.log.Write([]byte(sc.Text() + "\n"))
			if _, url, ok := strings.Cut(sc.Text(), "serving on "); ok && !sent {
				urls <- url
				sent = true
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case d.URL = <-urls:
	case err := <-done:
		t.Fatalf("make dev exited before serving: %v\n%s", err, d.log)
	case <-time.After(10 * time.Minute): // a cold build cache, on a busy machine
		t.Fatalf("make dev did not serve within 10 minutes\n%s", d.log)
	}
	return d
}

// editFile replaces old with new in the file, which must contain old once.
func editFile(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(b), old) != 1 {
		t.Fatalf("%s does not contain %q exactly once", path, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// pollAcrossReloads evaluates the JS condition every 20 ms until it is
// true, through the page's reloads (chromedp's Poll ends at a reload).
func pollAcrossReloads(ctx context.Context, d time.Duration, cond string) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var last error
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](cond))
		if err == nil && ok {
			return nil
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %v)", ctx.Err(), last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestDevReload follows the `make dev` loop of the README in a copy of the
// repository: the page shows a string changed in wasm/ui without a manual
// reload; a compile error shows over the page; fixing it brings the page
// back, with the fix; a changed CSS file reaches the page. Then it follows the README's "Start your own app"
// (e2e/startapp_test.go) under the same make dev, and sees the new page
// show the new event type. It logs the time from saving to the page
// showing each change.
func TestDevReload(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs make dev, which builds the app, in a copy of the repository")
	}
	dir := copyRepo(t)
	dev := startDev(t, dir)
	ctx := chromiumContext(t, browserOptions{})

	// The wasm app runs: only it writes "Connection open ...".
	heading := func(text string) string {
		return fmt.Sprintf(`document.querySelector("h1")?.textContent === %q && !document.getElementById("dev-build-errors") &&
			[...document.querySelectorAll("#log .line")].some(e => e.textContent === "Connection open ...")`, text)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(dev.URL)); err != nil {
		t.Fatal(err)
	}
	const original = "Server-Sent Events, in Go on both ends"
	if err := pollAcrossReloads(ctx, 60*time.Second, heading(original)); err != nil {
		t.Fatalf("the page did not run: %v\n%s", err, dev.log)
	}
	classic := filepath.Join(dir, "wasm", "ui", "classic.go")
	steps := []struct {
		what, old, new string
		want           string // the JS condition that shows the step worked
	}{
		{"change a string in wasm/ui", `"` + original + `"`, `"Edited while make dev runs"`,
			heading("Edited while make dev runs")},
		{"introduce a compile error", `"Edited while make dev runs"`, `"Edited while make dev runs" + undefinedName`,
			`(document.getElementById("dev-build-errors")?.textContent || "").includes("undefined: undefinedName")`},
		{"fix it", `"Edited while make dev runs" + undefinedName`, `"Fixed while make dev runs"`,
			heading("Fixed while make dev runs")},
	}
	for _, s := range steps {
		start := time.Now()
		editFile(t, classic, s.old, s.new)
		if err := pollAcrossReloads(ctx, 3*time.Minute, s.want); err != nil {
			page, _ := within(t, ctx, 5*time.Second, chromedp.Evaluate[string](`document.documentElement.innerText`))
			t.Fatalf("%s: the page did not show it: %v\npage:\n%s\nmake dev:\n%s", s.what, err, page, dev.log)
		}
		t.Logf("%s: saved to visible in the page in %v", s.what, time.Since(start).Round(10*time.Millisecond))
	}

	// A static file: nothing builds, the page reloads with the new CSS.
	start := time.Now()
	css := filepath.Join(dir, "web", "app.css")
	b, err := os.ReadFile(css)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(css, append(b, "\nh1 { letter-spacing: 3px; }\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := pollAcrossReloads(ctx, time.Minute, `getComputedStyle(document.querySelector("h1")).letterSpacing === "3px"`); err != nil {
		t.Fatalf("the page did not take the changed CSS: %v\nmake dev:\n%s", err, dev.log)
	}
	t.Logf("change web/app.css: saved to visible in the page in %v", time.Since(start).Round(10*time.Millisecond))

	// The README's "Start your own app", under the same make dev.
	start = time.Now()
	followStartYourOwnApp(t, dir)
	// As a reader would: the open page reloads with the new build, its
	// menu has the new page, a click opens it (go-app routes it in the
	// browser).
	const linked = `!!document.querySelector('nav a[href="/hello"]')`
	if err := pollAcrossReloads(ctx, 3*time.Minute, linked); err != nil {
		page, _ := within(t, ctx, 5*time.Second, chromedp.Evaluate[string](`document.documentElement.innerText`))
		t.Fatalf("the page did not reload with the README's page in its menu: %v\npage:\n%s\nmake dev:\n%s", err, page, dev.log)
	}
	if _, err := within(t, ctx, 10*time.Second, chromedp.Evaluate[any](`document.querySelector('nav a[href="/hello"]').click()`)); err != nil {
		t.Fatal(err)
	}
	const greeted = `/^Hello from the server #[1-9]/.test(document.getElementById("greeting")?.textContent) &&
		/^event ID: .+-[0-9]+$/.test(document.getElementById("event-id")?.textContent)`
	if err := pollAcrossReloads(ctx, 3*time.Minute, greeted); err != nil {
		page, _ := within(t, ctx, 5*time.Second, chromedp.Evaluate[string](`document.documentElement.innerText`))
		t.Fatalf("the README's /hello page shows no greeting: %v\npage:\n%s\nmake dev:\n%s", err, page, dev.log)
	}
	t.Logf("the README's Start your own app: saved to greetings shown in %v", time.Since(start).Round(10*time.Millisecond))
}
