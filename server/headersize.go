package main

import (
	"net"

	"github.com/ssewasm/ssewasm/server/sse"
)

// answer431 is what net/http writes to the connection, in one Write and
// before any handler runs, when a request's line and headers are over
// MaxHeaderBytes (-max-header-bytes; net/http's server.go: TestHostile's
// 431 cases fail if it changes). No handler sees such a request, so it
// is counted at the connection, as refusedHeaderSize.
const answer431 = "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n431 Request Header Fields Too Large"

// countHeaderSize counts net/http's 431 answers on ln's connections.
// Only plain HTTP/1.1 is counted: over TLS the connections seen here
// carry ciphertext, and HTTP/2 answers oversized headers on a stream of
// its own.
func countHeaderSize(ln net.Listener, ref *refusals) net.Listener {
	return headerSizeListener{Listener: ln, ref: ref}
}

type headerSizeListener struct {
	net.Listener
	ref *refusals
}

func (l headerSizeListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &headerSizeConn{Conn: c, ref: l.ref}, nil
}

// headerSizeConn counts the answer431 written to it.
type headerSizeConn struct {
	net.Conn
	ref *refusals
}

// NetConn returns the connection wrapped, so that the broker can reach
// the socket of a hijacked stream (its writers and hang-up watcher need
// the file descriptor, which a wrapper hides).
func (c *headerSizeConn) NetConn() net.Conn { return c.Conn }

// Detach lets the broker hold a hijacked stream's socket alone
// (sse.Detacher): nothing is counted after the headers.
func (c *headerSizeConn) Detach() (release func()) { return nil }

// Write counts net/http's 431 answers: a comparison of lengths for
// every other write.
func (c *headerSizeConn) Write(p []byte) (int, error) {
	if len(p) == len(answer431) && string(p) == answer431 {
		c.ref.add(refusedHeaderSize)
	}
	return c.Conn.Write(p)
}

var _ sse.Detacher = (*headerSizeConn)(nil)
