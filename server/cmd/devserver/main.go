// Command devserver is the development loop behind `make dev`: it builds
// the app, serves it, and after every saved change rebuilds what changed
// and reloads every open page.
//
//	make dev                       # the same as:
//	go run ./server/cmd/devserver -addr 127.0.0.1:8844
//
// It polls the modification times of the Go files under wasm/, shared/
// and server/ (and go.mod, go.sum, and the static files of web/), waits
// until saving settles, then
// rebuilds the binaries that compile a changed file, as `go list` says:
// the wasm alone for a file only it compiles (wasm/main.go, the browser
// side of wasm/eventsource), the server alone for server/, both for
// shared/, the module, and wasm/ui, which the server also compiles to
// register and prerender the pages. Two builds run side by side. A
// change in web/ builds nothing; the server restarts and pages reload. The
// builds are the Makefile's (`make wasm-build`, `make server`), so they
// share its flags and Go's build cache.
//
// After a build that succeeds it restarts the server (a new app.wasm is a
// new app version), which runs in development mode (-dev-build): every
// open page is told through a development-only event stream, and
// reloads, past go-app's service worker, which in development mode caches
// nothing. After a build that fails, the compiler's output shows in every
// open page, over the content, and in the terminal; the page reloads
// once the code builds again.
//
// Arguments after -- go to the server: `go run ./server/cmd/devserver --
// -log-level DEBUG`.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "devserver:", err)
		os.Exit(1)
	}
}

type config struct {
	addr       string
	root       string
	make       []string
	goCmd      string
	poll       time.Duration
	settle     time.Duration
	serverArgs []string
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("devserver", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8844", "address to serve on (port 0: a free port, chosen once)")
	fs.StringVar(&c.root, "root", ".", "the repository's root directory")
	makeCmd := fs.String("make", "make --no-print-directory", "the make command that runs the Makefile's wasm-build and server targets")
	fs.StringVar(&c.goCmd, "go", "go", "the go command, to list which files each binary compiles")
	fs.DurationVar(&c.poll, "poll", 200*time.Millisecond, "how often to look for changed files")
	fs.DurationVar(&c.settle, "settle", 150*time.Millisecond, "how long files must stay unchanged before a build starts")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	root, err := filepath.Abs(c.root)
	if err != nil {
		return c, err
	}
	c.root = root
	c.make = strings.Fields(*makeCmd)
	if len(c.make) == 0 {
		return c, errors.New("-make is empty: give the make command, such as \"make\"")
	}
	c.serverArgs = fs.Args()
	if len(c.serverArgs) > 0 && c.serverArgs[0] == "--" {
		c.serverArgs = c.serverArgs[1:]
	}
	return c, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	addr, err := fixPort(cfg.addr)
	if err != nil {
		return err
	}
	statusDir, err := os.MkdirTemp("", "ssewasm-dev-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(statusDir)

	l := &loop{
		cfg:    cfg,
		addr:   addr,
		status: statusDir + "/build.json",
		stdout: stdout,
		stderr: stderr,
	}
	return l.run(ctx)
}

// fixPort resolves port 0 to a free port once, so that the restarted
// server keeps the address the pages use.
func fixPort(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("-addr %q: want host:port: %w", addr, err)
	}
	if port != "0" {
		return addr, nil
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", fmt.Errorf("finding a free port on %s: %w", host, err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// devBuild is what the server's -dev-build file holds (server/dev.go).
type devBuild struct {
	OK  bool   `json:"ok"`
	Log string `json:"log,omitempty"`
}

// writeStatus writes the build result where the server watches it,
// through a rename so the server never reads half a file.
func writeStatus(path string, b devBuild) error {
	data, err := json.Marshal(b)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
