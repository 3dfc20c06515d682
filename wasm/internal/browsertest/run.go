//go:build !(js && wasm)

package browsertest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	// envBrowserRun, if set, is the -run pattern for the wasm tests.
	envBrowserRun = "SSEWASM_BROWSER_RUN"
	// envBrowserBench, if set, is the -bench pattern for the wasm
	// benchmarks, which then run after the tests (SSEWASM_BROWSER_RUN=NONE
	// runs the benchmarks alone); their results are in the test's log.
	envBrowserBench = "SSEWASM_BROWSER_BENCH"

	installHint = "`make test` installs them; by hand: go install github.com/agnivade/wasmbrowsertest@v0.11.0 && apt-get install chromium"
)

// Run runs the wasm tests of the package in the current directory in
// headless Chromium through wasmbrowsertest, and fails t if they fail.
// start, called once the browser is known to be there, starts what the
// tests need (a test server) and returns the variables ("NAME=value")
// that tell the wasm tests where it is: wasmbrowsertest passes them into
// the page, where os.Getenv reads them. Run fails t when wasmbrowsertest
// or Chromium is missing; it skips under -short, and only there.
func Run(t *testing.T, start func(t *testing.T) (env []string)) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: runs the wasm tests in Chromium")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is not in PATH: %v", err)
	}
	// The wasm tests' bound, and the whole run's: the build and the
	// browser's start come on top.
	inner, bench := 150*time.Second, os.Getenv(envBrowserBench)
	if bench != "" {
		inner = 10 * time.Minute
	}
	ctx, cancel := context.WithTimeout(t.Context(), inner+30*time.Second)
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
		t.Fatal(strings.Join(missing, "; ") + "; " + installHint)
	}

	env := start(t)

	home := os.Getenv("HOME")
	if home == "" {
		home = t.TempDir()
	}
	run := os.Getenv(envBrowserRun)
	if run == "" {
		run = "."
	}
	args := []string{"test", "-count=1", "-timeout=" + inner.String(), "-exec=" + wbt, "-run=" + run}
	if bench != "" {
		args = append(args, "-bench="+bench)
	}
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
	}
	cmd.Env = append(cmd.Env, env...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	killProcessGroupOnCancel(cmd) // Chromium too, not only the go command
	cmd.WaitDelay = 10 * time.Second

	began := time.Now()
	err = cmd.Run()
	took := time.Since(began).Round(time.Millisecond)
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
