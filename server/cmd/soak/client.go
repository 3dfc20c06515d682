package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ssewasm/ssewasm/server/sse"
	"github.com/ssewasm/ssewasm/shared/protocol"
)

// kind is how a client reads.
type kind int

const (
	normal  kind = iota // reads as fast as events come
	slow                // reads at most -slow-rate bytes a second
	pausing             // stops reading now and then, sometimes beyond the server's limits
)

func (k kind) String() string { return [...]string{"normal", "slow", "pausing"}[k] }

// Why a stream ended.
const (
	endDropped int32 = iota // the server (or the network) ended it
	endLeave                // the client left (churn)
	endReset                // the reset-burst fault aborted it with a RST
	endStop                 // the soak is ending
)

// chain is one client and every resumption of it: the stream is reopened
// with Last-Event-ID after the server drops it, after a reset, and after
// the client left for a while. Its goroutine owns everything but conn
// and why, which the faults touch.
type chain struct {
	soak   *soak
	id     int
	kind   kind
	src    netip.Addr
	topics []int
	acct   account
	lastID string

	conn atomic.Pointer[net.TCPConn] // the open stream's connection, nil between streams
	why  atomic.Int32                // why conn is being closed (endLeave, endReset, endStop)
	// paused is set while a pausing client is not reading.
	paused atomic.Bool
	// lastSeq is acct.last, for the end of the soak to see who has
	// caught up; startSeq the newest event when the chain's first stream
	// opened, for the report.
	lastSeq, startSeq atomic.Uint64
	started           atomic.Bool
	// openedAt is when the open stream opened (Unix ns): a chain that
	// has received no event has no Last-Event-ID to resume with, so it
	// owes only the events published while its stream is open.
	openedAt atomic.Int64
	// on is the instance of the open stream, lastAt when the last event
	// came (Unix ns), for the report on clients that did not catch up.
	on     atomic.Pointer[instance]
	lastAt atomic.Int64
}

// population runs the client chains: it starts cfg.clients of them and
// replaces each one that retires.
type population struct {
	s *soak

	mu      sync.Mutex
	live    map[int]*chain
	retired []*account
	nextID  int

	wg sync.WaitGroup

	connected    atomic.Int64 // streams open now
	connects     atomic.Int64 // streams opened
	connectFails atomic.Int64 // attempts refused or failed
	drops        atomic.Int64 // streams the server ended (evictions, kills, caps)
	pausedDrops  atomic.Int64 // of which while the client was pausing
	resets       atomic.Int64 // streams aborted by the reset burst
	leaves       atomic.Int64 // clients that left (churn)
	returns      atomic.Int64 // of which came back with Last-Event-ID
	spawned      atomic.Int64 // chains started
	resumes      atomic.Int64 // streams opened with Last-Event-ID
	misrouted    atomic.Int64 // events of a topic the client did not subscribe to
	failErrs     sync.Map     // connect failure kinds -> *atomic.Int64
}

func newPopulation(s *soak) *population {
	return &population{s: s, live: map[int]*chain{}}
}

// sources are the client addresses: 127.1.x.y, at most perSource
// clients each, so that no address reaches -max-clients-per-ip.
func sources(clients, perSource int) []netip.Addr {
	n := (clients + perSource - 1) / perSource
	out := make([]netip.Addr, 0, n)
	for i := range n {
		out = append(out, netip.AddrFrom4([4]byte{127, 1, byte(i / 250), byte(i%250 + 1)}))
	}
	return out
}

// newChain makes chain id: its kind, topics and source address.
func (p *population) newChain(id int) *chain {
	cfg := p.s.cfg
	c := &chain{soak: p.s, id: id, src: p.s.srcs[id%len(p.s.srcs)]}
	switch r := rand.Float64(); {
	case r < cfg.slowShare:
		c.kind = slow
	case r < cfg.slowShare+cfg.pauseShare:
		c.kind = pausing
	}
	c.topics = []int{rand.IntN(cfg.topics)}
	if c.kind != normal || rand.Float64() < 0.05 {
		c.topics = append(c.topics, p.s.hot)
	} else {
		other := rand.IntN(cfg.topics)
		if other != c.topics[0] {
			c.topics = append(c.topics, other)
		}
	}
	if c.kind == normal && id%cfg.floodEvery == 0 {
		c.topics = append(c.topics, p.s.flood)
	}
	for _, k := range c.topics {
		c.acct.topics |= 1 << k
	}
	c.acct.id, c.acct.kind = id, c.kind
	if cfg.trace {
		c.acct.seqs = []uint32{}
	}
	return c
}

// start launches n chains, spread over ramp.
func (p *population) start(ctx context.Context, n int, ramp time.Duration) {
	for range n {
		if !sleep(ctx, ramp/time.Duration(n)) {
			return
		}
		p.spawn(ctx)
	}
}

// spawn starts one new chain.
func (p *population) spawn(ctx context.Context) {
	p.mu.Lock()
	id := p.nextID
	p.nextID++
	c := p.newChain(id)
	p.live[id] = c
	p.mu.Unlock()
	p.spawned.Add(1)
	p.wg.Go(func() {
		retired := c.run(ctx, p)
		p.mu.Lock()
		delete(p.live, id)
		p.retired = append(p.retired, &c.acct)
		p.mu.Unlock()
		if retired && ctx.Err() == nil && !p.s.ending.Load() {
			// A new client takes its place, soon.
			select {
			case <-ctx.Done():
			case <-time.After(time.Duration(rand.Int64N(int64(2 * time.Second)))):
				p.spawn(ctx)
			}
		}
	})
}

// chains returns the live chains.
func (p *population) chains() []*chain {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*chain, 0, len(p.live))
	for _, c := range p.live {
		out = append(out, c)
	}
	return out
}

// sleep waits d, or less if ctx ends; it reports whether ctx is still on.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// jitter returns a random duration in [lo, hi).
func jitter(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(rand.Int64N(int64(hi-lo)))
}

// run keeps the chain's stream open until ctx ends or the client retires
// (leaves for good: it returns true).
func (c *chain) run(ctx context.Context, p *population) (retired bool) {
	s := p.s
	session := time.Now().Add(s.lifetime())
	for attempt := 0; ; attempt++ {
		if ctx.Err() != nil {
			return false
		}
		in := s.cluster.instances[rand.IntN(len(s.cluster.instances))]
		conn, body, err := c.dial(ctx, in)
		if err != nil {
			if ctx.Err() != nil {
				return false
			}
			p.connectFails.Add(1)
			p.countFail(err)
			if p.connectFails.Load()%1000 == 1 {
				s.logf("connect to %s failed: %v (1 in 1000 such failures logged)", in.name, err)
			}
			if !sleep(ctx, jitter(200*time.Millisecond, time.Second)) {
				return false
			}
			continue
		}
		p.connects.Add(1)
		c.openedAt.Store(time.Now().UnixNano())
		if !c.started.Load() {
			c.startSeq.Store(s.ledger.newestSeq())
			c.started.Store(true)
		}
		if c.lastID != "" {
			p.resumes.Add(1)
		}
		p.connected.Add(1)
		c.paused.Store(false)
		c.why.Store(endDropped)
		c.conn.Store(conn)
		c.on.Store(in)
		stopLeave := func() bool { return true }
		if !s.ending.Load() {
			t := time.AfterFunc(time.Until(session), func() {
				if !s.ending.Load() { // at the end everyone stays to catch up
					c.abort(endLeave, false)
				}
			})
			stopLeave = t.Stop
		}
		stopCtx := context.AfterFunc(ctx, func() { c.abort(endStop, false) })
		head := s.ledger.newestSeq()
		c.acct.streams = append(c.acct.streams, streamRec{inst: in.name, sent: seqOf(c.lastID), head: head, opened: time.Since(s.start)})
		c.read(p, body, head)
		rec := &c.acct.streams[len(c.acct.streams)-1]
		rec.ended, rec.why, rec.paused = time.Since(s.start), c.why.Load(), c.paused.Load()
		stopCtx()
		stopLeave()
		c.conn.Store(nil)
		conn.Close()
		p.connected.Add(-1)
		switch c.why.Load() {
		case endStop:
			return false
		case endLeave:
			p.leaves.Add(1)
			if rand.IntN(2) == 0 {
				return true // gone for good; a new client comes instead
			}
			p.returns.Add(1)
			if !s.sleepUnlessEnding(ctx, jitter(time.Second, s.cfg.maxAway)) {
				return false
			}
			session = time.Now().Add(s.lifetime())
		case endReset:
			p.resets.Add(1)
			if !sleep(ctx, jitter(0, 500*time.Millisecond)) {
				return false
			}
		default:
			p.drops.Add(1)
			if c.paused.Load() {
				p.pausedDrops.Add(1)
			}
			if !sleep(ctx, jitter(100*time.Millisecond, 1500*time.Millisecond)) {
				return false
			}
		}
	}
}

func (p *population) countFail(err error) {
	kind := err.Error()
	switch {
	case strings.Contains(kind, "connection refused"):
		kind = "connection refused"
	case strings.Contains(kind, "reset"):
		kind = "connection reset"
	case strings.Contains(kind, "EOF"):
		kind = "closed before answering"
	case strings.Contains(kind, "timeout"):
		kind = "timeout"
	}
	if len(kind) > 80 {
		kind = kind[:80]
	}
	v, _ := p.failErrs.LoadOrStore(kind, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

// abort closes the chain's open stream, with a RST if rst.
func (c *chain) abort(why int32, rst bool) bool {
	conn := c.conn.Load()
	if conn == nil {
		return false
	}
	c.why.Store(why)
	if rst {
		conn.SetLinger(0) // close sends RST
	}
	conn.Close()
	return true
}

// smallRcvBuf makes the kernel's receive buffer small, so that a client
// that stops reading backs the server's writes up at once.
func smallRcvBuf(network, address string, rc syscall.RawConn) error {
	var err error
	rc.Control(func(fd uintptr) {
		err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
	})
	return err
}

// dial opens a stream on in from the chain's address, resuming after
// lastID, and returns the connection and the event stream body.
func (c *chain) dial(ctx context.Context, in *instance) (*net.TCPConn, io.Reader, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: c.src.AsSlice()}, Timeout: 5 * time.Second}
	if c.kind != normal {
		d.Control = smallRcvBuf
	}
	nc, err := d.DialContext(ctx, "tcp", in.addr)
	if err != nil {
		return nil, nil, err
	}
	conn := nc.(*net.TCPConn)
	var req strings.Builder
	fmt.Fprintf(&req, "GET /events?")
	for i, k := range c.topics {
		if i > 0 {
			req.WriteByte('&')
		}
		req.WriteString("topic=" + c.soak.topics[k])
	}
	fmt.Fprintf(&req, " HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\nUser-Agent: soak\r\n", in.addr)
	if c.lastID != "" {
		req.WriteString("Last-Event-ID: " + c.lastID + "\r\n")
	}
	req.WriteString("\r\n")
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, req.String()); err != nil {
		conn.Close()
		return nil, nil, err
	}
	var r io.Reader = conn
	switch c.kind {
	case slow:
		r = &slowReader{r: conn, rate: c.soak.cfg.slowRate, ending: &c.soak.ending}
	case pausing:
		r = c.pauser(conn)
	}
	resp, err := http.ReadResponse(bufio.NewReaderSize(r, 4096), nil)
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("read response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		conn.Close()
		return nil, nil, fmt.Errorf("GET /events answered %s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
	conn.SetDeadline(time.Time{})
	return conn, resp.Body, nil
}

// read decodes events until the stream ends, accounting for each. Events
// up to replayedTo (the newest event when the stream opened) may be
// replays, whose latency is the client's absence: only later ones count
// for latency.
func (c *chain) read(p *population, body io.Reader, replayedTo uint64) {
	s := p.s
	dec := sse.NewDecoder(body)
	sentID := c.lastID // the Last-Event-ID this stream was opened with
	for {
		ev, err := dec.Next()
		if err != nil {
			return
		}
		if strings.HasPrefix(ev.Name, protocol.ReservedPrefix) {
			if ev.Name == protocol.GapEvent {
				c.onGap(ev, sentID)
				c.lastSeq.Store(c.acct.last)
				c.lastID = ev.ID
			}
			continue
		}
		seq := seqOf(ev.ID)
		k, at, ok := parseData(ev.Data)
		if !ok || seq == 0 {
			continue
		}
		if !c.acct.topics.has(k) {
			p.misrouted.Add(1)
			continue
		}
		s.ledger.record(seq, k, len(ev.Data), at)
		c.acct.observe(seq)
		c.lastSeq.Store(c.acct.last)
		c.lastID = ev.ID
		c.lastAt.Store(time.Now().UnixNano())
		s.delivered.Add(1)
		if c.kind == normal && seq > replayedTo {
			s.lat.record(c.id, time.Duration(time.Now().UnixNano()-at))
		}
	}
}

// onGap accounts for an sse.gap answered to a stream opened after sentID.
func (c *chain) onGap(ev sse.Event, sentID string) {
	s := c.soak
	var g struct {
		LastEventID string `json:"lastEventId"`
		Reason      string `json:"reason"`
	}
	json.Unmarshal([]byte(ev.Data), &g)
	after, newest := seqOf(sentID), seqOf(ev.ID)
	within := g.Reason != "expired" || s.ledger.withinHistory(after, newest, s.limits, time.Now())
	c.acct.gap(after, newest, within, g.Reason)
	if n := len(c.acct.streams); n > 0 {
		c.acct.streams[n-1].gap = newest
	}
}

// slowReader reads at most rate bytes a second, in small reads, until
// the soak ends.
type slowReader struct {
	r      io.Reader
	rate   int
	ending *atomic.Bool
}

func (s *slowReader) Read(b []byte) (int, error) {
	if s.ending.Load() {
		return s.r.Read(b)
	}
	if len(b) > 512 {
		b = b[:512]
	}
	n, err := s.r.Read(b)
	time.Sleep(time.Duration(n) * time.Second / time.Duration(s.rate))
	return n, err
}

// pauseReader stops reading now and then: mostly short pauses within the
// server's limits, sometimes long ones beyond them (the server's write
// deadline or -max-lag evicts the client, which resumes from history).
type pauseReader struct {
	c    *chain
	r    io.Reader
	next time.Time
}

func (c *chain) pauser(r io.Reader) *pauseReader {
	return &pauseReader{c: c, r: r, next: time.Now().Add(jitter(c.soak.cfg.pauseEvery/2, c.soak.cfg.pauseEvery*3/2))}
}

func (p *pauseReader) Read(b []byte) (int, error) {
	s := p.c.soak
	if now := time.Now(); !s.ending.Load() && now.After(p.next) {
		d := jitter(time.Second, 4*time.Second)
		if rand.IntN(2) == 0 {
			d = jitter(s.cfg.longPause, s.cfg.longPause*3/2)
		}
		p.c.paused.Store(true)
		select {
		case <-time.After(d):
		case <-s.endCh:
		}
		p.next = time.Now().Add(jitter(s.cfg.pauseEvery/2, s.cfg.pauseEvery*3/2))
		n, err := p.r.Read(b)
		if err == nil { // a stream the server ended meanwhile stays counted as a paused one's
			p.c.paused.Store(false)
		}
		return n, err
	}
	return p.r.Read(b)
}
