package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ssewasm/ssewasm/server/sse"
)

// dialer opens event streams: a raw TCP connection, a minimal HTTP/1.1
// GET, and the response read with a small buffer. This keeps each client
// to a goroutine, a socket and a few KB, so one process holds 10,000s.
//
// Over https:// the connection is wrapped in TLS (HTTP/1.1 by ALPN); with
// -http2 the streams go through an http.Transport instead, one per
// connection (client.h2), so that -streams-per-conn streams share it.
type dialer struct {
	addr        string // host:port to dial
	host        string // Host header
	eventsPath  string
	headers     string // the GET request's headers, without the request line and the blank line
	dialTimeout time.Duration
	readBuf     int
	tls         *tls.Config // nil: plain TCP
}

// own is what one client's request adds to everyone's (-own-topic,
// -sign-in): a topic of its own, as a query suffix ("&topic=user/b7"),
// and its session cookie ("ssewasm_session=…").
type own struct {
	query  string
	cookie string
}

// tlsConfig is the client TLS configuration of an https:// run.
func (c *config) tlsConfig() (*tls.Config, error) {
	conf := &tls.Config{InsecureSkipVerify: c.tlsInsecure} //nolint:gosec // only with -tls-insecure, for test certificates
	if c.tlsCA != "" {
		pem, err := os.ReadFile(c.tlsCA)
		if err != nil {
			return nil, fmt.Errorf("-tls-ca: %w", err)
		}
		conf.RootCAs = x509.NewCertPool()
		if !conf.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-tls-ca %s: no PEM certificate in it", c.tlsCA)
		}
	} else if !c.tlsInsecure {
		return nil, fmt.Errorf("an https:// -url needs -tls-ca FILE or -tls-insecure (for a self-signed test certificate)")
	}
	return conf, nil
}

// h2Transport returns a transport for one HTTP/2 connection, dialled from
// the source address of client i.
func (d *dialer) h2Transport(srcs []netip.Addr, i int) *http.Transport {
	nd := &net.Dialer{Timeout: d.dialTimeout}
	if len(srcs) > 0 {
		nd.LocalAddr = &net.TCPAddr{IP: srcs[i%len(srcs)].AsSlice()}
	}
	conf := d.tls.Clone()
	conf.NextProtos = []string{"h2"}
	return &http.Transport{
		DialContext:        nd.DialContext,
		TLSClientConfig:    conf,
		ForceAttemptHTTP2:  true,
		DisableCompression: true,
		MaxConnsPerHost:    1, // every stream of this transport on one connection
	}
}

// h2Stream is a stream opened over HTTP/2: the response, or why not.
type h2Stream struct{ resp *http.Response }

func (s *h2Stream) Close() error { return s.resp.Body.Close() }

func newDialer(u urlParts, dialTimeout time.Duration) *dialer {
	headers := fmt.Sprintf("Host: %s\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\nUser-Agent: ssebench\r\n", u.host)
	return &dialer{addr: u.dialAddr, host: u.host, eventsPath: u.eventsPath, headers: headers, dialTimeout: dialTimeout, readBuf: 2048}
}

// dial connects from src (if valid) and sends the GET request, with what
// the client adds to it (o); over HTTP/2 (h2 not nil) it sends the
// request on h2's connection and waits for the response headers.
func (d *dialer) dial(ctx context.Context, src netip.Addr, o own, lastID string, h2 *http.Transport) (io.Closer, error) {
	if h2 != nil {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+d.host+d.eventsPath+o.query, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "text/event-stream")
		if o.cookie != "" {
			req.Header.Set("Cookie", o.cookie)
		}
		if lastID != "" && !strings.ContainsAny(lastID, "\r\n\x00") {
			req.Header.Set("Last-Event-ID", lastID)
		}
		resp, err := h2.RoundTrip(req)
		if err != nil {
			return nil, err
		}
		if resp.ProtoMajor != 2 {
			resp.Body.Close()
			return nil, fmt.Errorf("the server answered over %s, not HTTP/2", resp.Proto)
		}
		return &h2Stream{resp}, nil
	}
	nd := net.Dialer{Timeout: d.dialTimeout}
	if src.IsValid() {
		nd.LocalAddr = &net.TCPAddr{IP: src.AsSlice()}
	}
	conn, err := nd.DialContext(ctx, "tcp", d.addr)
	if err != nil {
		return nil, err
	}
	if d.tls != nil {
		conf := d.tls.Clone()
		conf.NextProtos = []string{"http/1.1"}
		tc := tls.Client(conn, conf)
		hctx, cancel := context.WithTimeout(ctx, d.dialTimeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("TLS handshake: %w", err)
		}
		conn = tc
	}
	req := "GET " + d.eventsPath + o.query + " HTTP/1.1\r\n" + d.headers
	if o.cookie != "" {
		req += "Cookie: " + o.cookie + "\r\n"
	}
	if lastID != "" && !strings.ContainsAny(lastID, "\r\n\x00") {
		req += "Last-Event-ID: " + lastID + "\r\n"
	}
	req += "\r\n"
	conn.SetWriteDeadline(time.Now().Add(d.dialTimeout))
	if _, err := io.WriteString(conn, req); err != nil {
		conn.Close()
		return nil, fmt.Errorf("send GET: %w", err)
	}
	conn.SetWriteDeadline(time.Time{})
	return conn, nil
}

// handshake reads the response headers and returns the event stream body
// if the server answered 200 text/event-stream. It has no deadline: some
// servers (go-sse) send the headers only with the first event.
func (d *dialer) handshake(conn io.Closer) (io.Reader, error) {
	var resp *http.Response
	if s, ok := conn.(*h2Stream); ok {
		resp = s.resp
	} else {
		var err error
		br := bufio.NewReaderSize(conn.(net.Conn), d.readBuf)
		if resp, err = http.ReadResponse(br, nil); err != nil {
			return nil, fmt.Errorf("read response headers: %w", err)
		}
	}
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		return nil, fmt.Errorf("GET answered %s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/event-stream" {
		return nil, fmt.Errorf("GET answered Content-Type %q, want text/event-stream", resp.Header.Get("Content-Type"))
	}
	return resp.Body, nil
}

// client is one SSE subscriber. Its goroutine owns the tally.
type client struct {
	src         netip.Addr
	own         own             // its own topic and cookie (-own-topic, -sign-in)
	h2          *http.Transport // the HTTP/2 connection of the stream (-http2); nil otherwise
	tally       tally
	lastID      string
	disconnects int64 // times the server ended the stream
	warmed      atomic.Bool
	// connectedOnce is set when the first stream opened: only such
	// clients are expected to receive the events.
	connectedOnce atomic.Bool
}

func (c *client) everConnected() bool { return c.connectedOnce.Load() }

// run connects, reports the first attempt through opened (once the
// request is sent), then reads events until ctx is done, reconnecting
// with Last-Event-ID after the server ends the stream.
func (c *client) run(ctx context.Context, r *runner, opened func(error)) {
	conn, err := r.dialer.dial(ctx, c.src, c.own, "", c.h2)
	opened(err)
	if err != nil {
		return
	}
	first := true
	for {
		stop := context.AfterFunc(ctx, func() { conn.Close() })
		body, err := r.dialer.handshake(conn)
		if first {
			first = false
			if err != nil {
				stop()
				conn.Close()
				r.connected.Add(-1)
				if ctx.Err() == nil {
					r.handshakeFailed(err)
				}
				return
			}
			c.connectedOnce.Store(true)
		}
		if err == nil {
			c.read(r, c.pausing(r, body))
		}
		stop()
		conn.Close()
		r.connected.Add(-1)
		if ctx.Err() != nil {
			return
		}
		c.disconnects++
		r.disconnects.Add(1)
		if r.cfg.noReconnect {
			<-ctx.Done() // stays counted as a client that should have received everything
			return
		}
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(r.cfg.reconnectDelay):
			}
			conn, err = r.dialer.dial(ctx, c.src, c.own, c.lastID, c.h2)
			if err == nil {
				break
			}
			r.reconnectFailures.Add(1)
		}
		r.reconnects.Add(1)
		r.connected.Add(1)
	}
}

// pausing wraps body so that reads stop for cfg.pause once every
// cfg.pauseEvery, at a phase of the client's own (none when pause is 0).
func (c *client) pausing(r *runner, body io.Reader) io.Reader {
	if r.cfg.pause <= 0 {
		return body
	}
	phase := time.Duration(rand.Int64N(int64(r.cfg.pauseEvery)))
	return &pausingReader{r: body, pause: r.cfg.pause, every: r.cfg.pauseEvery, next: time.Now().Add(phase)}
}

// pausingReader is a reader that stops reading for pause once every
// period: the server's writes to it back up meanwhile.
type pausingReader struct {
	r            io.Reader
	pause, every time.Duration
	next         time.Time // when the next pause starts
}

func (p *pausingReader) Read(b []byte) (int, error) {
	if now := time.Now(); !now.Before(p.next) {
		time.Sleep(p.pause)
		p.next = now.Add(p.every)
	}
	return p.r.Read(b)
}

// read decodes events until the stream ends.
func (c *client) read(r *runner, body io.Reader) {
	dec := sse.NewDecoder(body)
	for {
		ev, err := dec.Next()
		if err != nil {
			return
		}
		c.lastID = ev.ID
		if strings.HasPrefix(ev.Data, warmPrefix) {
			c.warmed.Store(true)
		}
		c.tally.observe(ev.Name, ev.Data, r.now(), r.table, r.cfg.event)
	}
}
