// Package jstest runs NATS JetStream servers on loopback for tests of the
// JetStream engine and of clusters of ssewasm servers: the nats-server
// linked into the test process (the newest we support), and the
// nats-server program installed on the machine (Debian's 2.9, the oldest
// we support: make deps installs it).
//
//	jstest.Run(t, func(t *testing.T, n *jstest.Server) { // once per server
//		nc, err := nats.Connect(n.URL())
//		n.Stop()  // an outage…
//		n.Start() // …and recovery, on the same port and storage
//	})
//
// Start runs the linked server alone; StartBinary the installed program.
// A test whose program is missing fails; go test -short skips it.
package jstest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// program is the nats-server program StartBinary looks for in PATH, and
// then where Debian installs it (not in an ordinary user's PATH).
const (
	program       = "nats-server"
	debianProgram = "/usr/sbin/nats-server"
)

// readyWithin bounds a server's start.
const readyWithin = 10 * time.Second

// Server is a JetStream server on a fixed loopback port and storage
// directory, so that it can be stopped and started again in place.
type Server struct {
	t    testing.TB
	dir  string
	port int
	path string // the program's path; "" for the linked server

	srv *server.Server // the linked server while running

	cmd  *exec.Cmd       // the program while running
	done <-chan struct{} // closed when cmd has exited
}

// Run runs f as two subtests, each with a server of its own: "embedded",
// the nats-server linked into the test process, and "binary", the
// nats-server program (see binaryPath). The second fails if the program is
// missing, and is skipped under go test -short.
func Run(t *testing.T, f func(t *testing.T, n *Server)) {
	t.Helper()
	t.Run("embedded", func(t *testing.T) { f(t, Start(t)) })
	t.Run("binary", func(t *testing.T) {
		if testing.Short() {
			t.Skip("-short: skipping the test against the nats-server program")
		}
		f(t, StartBinary(t))
	})
}

// Start runs the linked JetStream server, storing in a new temporary
// directory; t's cleanup shuts it down.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{t: t, dir: t.TempDir(), port: freePort(t)}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// StartBinary runs the nats-server program (see binaryPath) with JetStream,
// storing in a new temporary directory; t's cleanup stops it. A missing
// program fails the test.
func StartBinary(t testing.TB) *Server {
	t.Helper()
	path, err := binaryPath()
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{t: t, dir: t.TempDir(), port: freePort(t), path: path}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// binaryPath returns the path of the nats-server program, or an error
// that says how to install it.
func binaryPath() (string, error) {
	path, err := exec.LookPath(program)
	if err == nil {
		return path, nil
	}
	if _, serr := exec.LookPath(debianProgram); serr == nil {
		return debianProgram, nil
	}
	return "", fmt.Errorf("jstest: %s is not installed (%w, nor is there %s): run make deps, or apt-get install nats-server; go test -short skips the tests against it", program, err, debianProgram)
}

// freePort returns a loopback port nothing listens on now.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// URL is the server's client URL.
func (s *Server) URL() string { return "nats://127.0.0.1:" + strconv.Itoa(s.port) }

// Version is the server's version, such as "2.9.10".
func (s *Server) Version() string {
	if s.path == "" {
		return server.VERSION
	}
	return binaryVersion(s.t, s.path)
}

var versions sync.Map // program path → its version

// binaryVersion asks the program at path for its version, once.
func binaryVersion(t testing.TB, path string) string {
	if v, ok := versions.Load(path); ok {
		return v.(string)
	}
	ctx, cancel := context.WithTimeout(context.Background(), readyWithin)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		t.Fatalf("jstest: %s --version: %v", path, err)
	}
	// "nats-server: v2.9.10"
	_, v, _ := strings.Cut(strings.TrimSpace(string(out)), ": v")
	versions.Store(path, v)
	return v
}

// Start (re)starts the server on its port and directory; it does nothing
// if the server is running.
func (s *Server) Start() {
	s.t.Helper()
	if s.srv != nil || s.cmd != nil {
		return
	}
	if s.path != "" {
		s.startBinary()
		return
	}
	srv, err := server.NewServer(&server.Options{
		Host:      "127.0.0.1",
		Port:      s.port,
		JetStream: true,
		StoreDir:  s.dir,
		NoSigs:    true,
		NoLog:     true,
	})
	if err != nil {
		s.t.Fatal(err)
	}
	srv.Start()
	if !srv.ReadyForConnections(readyWithin) {
		srv.Shutdown()
		s.t.Fatalf("jstest: NATS was not ready within %v", readyWithin)
	}
	s.srv = srv
}

// readyLine is what nats-server logs once it accepts clients, JetStream
// recovered.
const readyLine = "Server is ready"

// startBinary starts the program and waits until it is ready.
func (s *Server) startBinary() {
	s.t.Helper()
	cmd := exec.Command(s.path, "-a", "127.0.0.1", "-p", strconv.Itoa(s.port), "-js", "-sd", s.dir)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("jstest: starting %s: %v", s.path, err)
	}
	done := make(chan struct{})
	ready := make(chan struct{})
	var logs bytes.Buffer // written by the reader until ready, then read here
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logs.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), readyLine) {
				close(ready)
				break
			}
		}
		io.Copy(io.Discard, stderr) // until the program exits
		cmd.Wait()
	}()
	select {
	case <-ready:
		s.cmd, s.done = cmd, done
	case <-done:
		s.t.Fatalf("jstest: %s exited before it was ready:\n%s", s.path, logs.String())
	case <-time.After(readyWithin):
		cmd.Process.Kill()
		<-done
		s.t.Fatalf("jstest: %s was not ready within %v:\n%s", s.path, readyWithin, logs.String())
	}
}

// Stop shuts the server down and waits for it; it may be called again.
func (s *Server) Stop() {
	switch {
	case s.srv != nil:
		s.srv.Shutdown()
		s.srv.WaitForShutdown()
		s.srv = nil
	case s.cmd != nil:
		s.cmd.Process.Signal(syscall.SIGTERM) // nats-server shuts down cleanly on it
		select {
		case <-s.done:
		case <-time.After(readyWithin):
			s.cmd.Process.Kill()
			<-s.done
			s.t.Errorf("jstest: %s did not exit within %v of SIGTERM; killed", s.path, readyWithin)
		}
		s.cmd = nil
	}
}

// StartFake runs a stand-in for a NATS server that says it is
// nats-server version, with JetStream, and answers the connection
// handshake only (INFO, CONNECT, PING): enough for a client to connect
// and read the version, and for a test to see a program refuse it. It
// returns its URL; t's cleanup stops it.
func StartFake(t testing.TB, version string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	info := fmt.Sprintf(`INFO {"server_id":"FAKE","server_name":"fake","version":%q,"proto":1,"host":"127.0.0.1","port":%d,"headers":true,"max_payload":1048576,"jetstream":true}`+"\r\n", version, port)
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]struct{}{}
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed by the cleanup
			}
			mu.Lock()
			conns[c] = struct{}{}
			mu.Unlock()
			wg.Go(func() {
				defer c.Close()
				io.WriteString(c, info)
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					if strings.HasPrefix(sc.Text(), "PING") {
						io.WriteString(c, "PONG\r\n")
					}
				}
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return "nats://" + ln.Addr().String()
}
