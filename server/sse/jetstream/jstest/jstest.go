// Package jstest runs a NATS JetStream server inside a test process, on
// loopback, so that tests of the JetStream engine and of clusters of
// ssewasm servers need nothing installed.
//
//	n := jstest.Start(t) // stopped by t's cleanup
//	nc, err := nats.Connect(n.URL())
//	n.Stop()             // an outage…
//	n.Start()            // …and recovery, on the same port and storage
package jstest

import (
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Server is a JetStream server on a fixed loopback port and storage
// directory, so that it can be stopped and started again in place.
type Server struct {
	t    testing.TB
	dir  string
	port int
	srv  *server.Server
}

// Start runs a JetStream server storing in a new temporary directory;
// t's cleanup shuts it down.
func Start(t testing.TB) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := &Server{t: t, dir: t.TempDir(), port: port}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// URL is the server's client URL.
func (s *Server) URL() string { return "nats://127.0.0.1:" + strconv.Itoa(s.port) }

// Start (re)starts the server on its port and directory; it does nothing
// if the server is running.
func (s *Server) Start() {
	s.t.Helper()
	if s.srv != nil {
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
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		s.t.Fatal("jstest: NATS was not ready within 10s")
	}
	s.srv = srv
}

// Stop shuts the server down and waits for it; it may be called again.
func (s *Server) Stop() {
	if s.srv == nil {
		return
	}
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
	s.srv = nil
}
