package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// loop owns the server process and the build state. One goroutine, run's,
// does everything: poll, build, restart.
type loop struct {
	cfg    config
	addr   string
	status string // the -dev-build file
	stdout io.Writer
	stderr io.Writer

	srv  *exec.Cmd
	done chan error // the server's Wait; buffered, read once
	bins binaries   // which binary compiles which file, listed after each build
}

// relist updates l.bins; on failure it keeps the last list.
func (l *loop) relist(ctx context.Context) {
	b, err := listBinaries(ctx, l.cfg.goCmd, l.cfg.root)
	if err != nil {
		if ctx.Err() == nil {
			fmt.Fprintf(l.stderr, "devserver: %v\n", err)
		}
		return
	}
	l.bins = b
}

func (l *loop) run(ctx context.Context) error {
	defer l.stopServer()
	files := snapshot(l.cfg.root)
	of := func(path string) target { return l.bins.of(l.cfg.root, path) }
	dirty := buildBoth // what must still build: the first round builds everything
	for {
		if dirty != 0 {
			start := time.Now()
			fmt.Fprintf(l.stdout, "devserver: building %s\n", dirty)
			failed, out := l.build(ctx, dirty)
			if ctx.Err() != nil {
				return nil
			}
			if failed != 0 {
				fmt.Fprintf(l.stderr, "devserver: the %s build failed (%v); open pages show the errors:\n%s\n", failed, time.Since(start).Round(10*time.Millisecond), out)
				if err := writeStatus(l.status, devBuild{OK: false, Log: out}); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(l.stdout, "devserver: %s ready in %v; restarting the server, open pages reload\n", dirty, time.Since(start).Round(10*time.Millisecond))
				if err := writeStatus(l.status, devBuild{OK: true}); err != nil {
					return err
				}
				if err := l.restartServer(); err != nil {
					fmt.Fprintf(l.stderr, "devserver: %v\n", err)
				}
			}
			dirty = failed // a failed part builds again at the next change, whatever it is
			l.relist(ctx)  // files and imports may have come and gone
		}

		// Wait for a change, then for the files to settle.
		var next target
		for next == 0 {
			select {
			case <-ctx.Done():
				return nil
			case err := <-l.done:
				l.srv, l.done = nil, nil
				fmt.Fprintf(l.stderr, "devserver: the server exited (%v); it starts again after the next change that builds\n", err)
			case <-time.After(l.cfg.poll):
			}
			now := snapshot(l.cfg.root)
			next = changed(files, now, of)
			files = now
		}
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(l.cfg.settle):
			}
			now := snapshot(l.cfg.root)
			more := changed(files, now, of)
			files = now
			if more == 0 {
				break
			}
			next |= more
		}
		dirty |= next
	}
}

// build runs the Makefile's targets for t, side by side, and returns what
// failed, with the output of the failed builds.
func (l *loop) build(ctx context.Context, t target) (failed target, output string) {
	steps := []struct {
		t    target
		goal string
		out  bytes.Buffer
		err  error
		vars []string
	}{
		{t: buildWasm, goal: "wasm-build"},
		// No DWARF (debuggers) in the server: linking takes a third less,
		// which is most of a wasm/ui change's wait.
		{t: buildServer, goal: "server", vars: []string{"SERVER_LDFLAGS=-w"}},
	}
	var wg sync.WaitGroup
	for i := range steps {
		step := &steps[i]
		if t&step.t == 0 {
			continue
		}
		wg.Go(func() {
			args := append(append(append([]string{}, l.cfg.make[1:]...), step.vars...), step.goal)
			cmd := exec.CommandContext(ctx, l.cfg.make[0], args...)
			cmd.Dir = l.cfg.root
			cmd.Stdout, cmd.Stderr = &step.out, &step.out
			step.err = cmd.Run()
		})
	}
	wg.Wait()
	var out strings.Builder
	for i := range steps {
		if steps[i].err != nil {
			failed |= steps[i].t
			fmt.Fprintf(&out, "%s%v\n", steps[i].out.String(), steps[i].err)
		}
	}
	return failed, out.String()
}

// restartServer stops the running server, if any, and starts the one
// just built.
func (l *loop) restartServer() error {
	l.stopServer()
	bin, err := filepath.Abs(filepath.Join(l.cfg.root, "bin", "server"))
	if err != nil {
		return err
	}
	args := append([]string{"-addr", l.addr, "-dev-build", l.status, "-shutdown-grace", "1s"}, l.cfg.serverArgs...)
	cmd := exec.Command(bin, args...)
	cmd.Dir = l.cfg.root
	cmd.Stdout, cmd.Stderr = l.stdout, l.stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the server: %w", err)
	}
	l.srv, l.done = cmd, make(chan error, 1)
	go func(done chan<- error) { done <- cmd.Wait() }(l.done)
	return nil
}

// stopServer ends the server with SIGTERM (SIGKILL after 5 s) and waits.
func (l *loop) stopServer() {
	if l.srv == nil {
		return
	}
	if err := l.srv.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		l.srv.Process.Kill()
	}
	select {
	case <-l.done:
	case <-time.After(5 * time.Second):
		l.srv.Process.Kill()
		<-l.done
	}
	l.srv, l.done = nil, nil
}
