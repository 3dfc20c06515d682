package sse

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ssewasm/ssewasm/shared/protocol"
)

// Broker fans published events out to event streams, by topic. It is an
// http.Handler: each request to it is one client's stream (see
// [Broker.ServeHTTP]). Create it with [New]; its methods are safe for
// concurrent use.
//
// Ownership: the engine owns IDs and history; the broker's mutex owns the
// registry (which clients listen to which topic, the per-IP counts); each
// client's mutex owns its queue; the goroutine serving the request owns
// the response and is the only one writing to it. The broker starts one
// goroutine of its own, for heartbeats, when its first client connects;
// Shutdown ends it.
type Broker struct {
	opts      Options
	engine    Engine
	ownEngine *MemoryEngine // the default engine, which Shutdown closes
	unsub     func()        // ends the engine subscription

	closed   atomic.Bool   // set by Shutdown, read by Publish without the lock
	done     chan struct{} // closed by Shutdown: ends the heartbeat goroutine (only)
	shutdown sync.Once
	wg       sync.WaitGroup // open streams and the heartbeat goroutine

	retryLine []byte // "retry: N\n" or nil, sent when a stream opens

	// ordinary keeps every stream on the ordinary path (no hijacking):
	// tests set it before serving, to run each path over real sockets.
	ordinary bool

	heartbeat atomic.Pointer[[]byte] // the current heartbeat event frame, renewed each tick

	// newest is the last message the engine delivered (PublishLocal's
	// aside): where a client whose replay failed resumes (replayfail.go).
	// It keeps that one message's frame alive.
	newest atomic.Pointer[Message]
	// replayWarns rate-limits the warnings of failed replays.
	replayWarns warnLimiter

	nextID atomic.Uint64 // last ClientInfo.ID given

	// Hijacked streams (hijack.go): their writers and epoll watcher,
	// started with the first such stream, stopped by Shutdown once every
	// stream has ended.
	pool      runQueue
	poolOnce  sync.Once
	watchOnce sync.Once
	watcher   atomic.Pointer[watcher] // set in watchOnce; finish reads it on every path
	poolWG    sync.WaitGroup          // the writers

	// Clients over MaxLag, which Publish waits for (see waitForLagging). Lock
	// order: a client's mu, then lagMu.
	lagMu    sync.Mutex
	lagging  map[*client]struct{} // guarded by lagMu
	drained  chan struct{}        // guarded by lagMu; closed and renewed when a client leaves lagging
	nLagging atomic.Int32         // len(lagging), for Publish's fast path

	mu      sync.RWMutex
	topics  map[string]*topicSubs // guarded by mu
	clients map[*client]struct{}  // guarded by mu; every registered client
	perIP   map[string]int        // guarded by mu
	// own holds the streams of ServeStream, which count under the
	// limits too. Guarded by mu.
	own     map[*ownStream]struct{}
	ticking bool // guarded by mu; the heartbeat goroutine runs

	// Identities (identity.go, revoke.go). nExpiring counts the
	// registered clients whose identity expires: fan-out reads the clock
	// only when there are some. The revocations are remembered until
	// their Until, in Unix nanoseconds; guarded by mu.
	nExpiring       atomic.Int64
	sweeping        bool // guarded by mu; the expiry sweep runs
	revokedSessions map[string]int64
	revokedSubjects map[string]subjectRevocation
	once            onceKeys // ConsumeOnce's keys (revoke.go)

	stats struct {
		clients                                                                                   atomic.Int64
		published, local, delivered, replayed, evicted, rejected, gaps, publishWaits, replayFails atomic.Uint64

		deduplicated atomic.Uint64

		revocations, revokedStreams, expired                                             atomic.Uint64
		refusedIdentify, refusedSignIn, refusedForbidden, refusedRevoked, refusedExpired atomic.Uint64
	}
}

// topicSubs lists a topic's clients. A slice, not a map, because fan-out
// iterates it on every publish; each client remembers its index.
type topicSubs struct {
	clients []*client
}

// BrokerStats are the broker's counters since New. Reading them is cheap.
type BrokerStats struct {
	Clients      int    // open streams
	Published    uint64 // events published through this broker's Publish (stored, with an ID)
	Local        uint64 // events sent with PublishLocal (not in Published)
	Delivered    uint64 // live events written to clients, PublishLocal's included
	Replayed     uint64 // events written to clients from history
	Evicted      uint64 // clients disconnected for reading too slowly (over Options.MaxLag)
	PublishWaits uint64 // publishes that waited for a client over Options.MaxLag
	Rejected     uint64 // requests refused before their stream opened
	Gaps         uint64 // gap events sent

	// ReplaysFailed counts replays (or parts of one) the engine could
	// not read: each client got the gap event (protocol.GapUnavailable, counted
	// in Gaps) and then live events, on the same stream.
	ReplaysFailed uint64

	// Deduplicated counts publishes answered with the ID of an earlier
	// one with the same idempotency key (PublishWith): nothing stored.
	Deduplicated uint64

	// Identities (Options.Identify, Options.MayRead, Revoke).
	Revocations    uint64 // revocations this broker applied (each once, wherever it was revoked)
	RevokedStreams uint64 // streams a revocation made anonymous
	Expired        uint64 // streams ended at their identity's expiry, after the protocol.ExpiredEvent
	// Stream requests refused for their identity, by reason (each also
	// counts in Rejected).
	RefusedIdentify  uint64 // Options.Identify failed: 401, or its StatusError's status
	RefusedSignIn    uint64 // anonymous, and a topic needs more (ErrSignInRequired): 401
	RefusedForbidden uint64 // a topic the identity may not read (ErrForbidden): 403
	RefusedRevoked   uint64 // a revoked session or subject (ErrRevoked): 401
	RefusedExpired   uint64 // an identity already expired (ErrExpired): 401
}

// New returns a Broker with opts, after checking them: the error says
// which option is wrong.
func New(opts Options) (*Broker, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	b := &Broker{
		opts:    opts,
		engine:  opts.Engine,
		done:    make(chan struct{}),
		topics:  make(map[string]*topicSubs),
		clients: make(map[*client]struct{}),
		perIP:   make(map[string]int),
		own:     make(map[*ownStream]struct{}),
		lagging: make(map[*client]struct{}),
		drained: make(chan struct{}),

		revokedSessions: make(map[string]int64),
		revokedSubjects: make(map[string]subjectRevocation),
	}
	if b.engine == nil {
		b.ownEngine = NewMemoryEngine(MemoryOptions{HistorySize: opts.HistorySize, HistoryAge: opts.HistoryAge, HistoryBytes: opts.HistoryBytes})
		b.engine = b.ownEngine
	}
	if opts.Retry > 0 {
		b.retryLine = AppendRetry(nil, opts.Retry)
	}
	b.renewHeartbeat(time.Now())
	b.unsub, err = b.engine.Subscribe(b.fanOut)
	if err != nil {
		return nil, fmt.Errorf("sse: subscribing to the engine: %w", err)
	}
	return b, nil
}

// Publish publishes e on topic ("" means Options.DefaultTopic) and
// returns the ID the engine gave it. e.ID must be empty, its name must
// not start with [protocol.ReservedPrefix], and its Data must fit
// Options.MaxEventSize. The event is encoded once; every client on the
// topic gets the same bytes. Publish does not wait for clients that keep
// up. If a client on the topic has fallen behind by more than
// Options.MaxLag bytes, Publish waits for it to catch up, for at most
// Options.PublishWait in all, and then evicts the clients still over.
// To make a publish safe to retry, give it an idempotency key with
// [Broker.PublishWith].
func (b *Broker) Publish(ctx context.Context, topic string, e Event) (id string, err error) {
	p, err := b.PublishWith(ctx, topic, e, PublishOptions{})
	return p.ID, err
}

// waitForLagging waits while a client on topic is over MaxLag, for at most
// PublishWait (or until ctx is done), then evicts those still over.
func (b *Broker) waitForLagging(ctx context.Context, topic string) {
	if b.nLagging.Load() == 0 || b.opts.PublishWait <= 0 {
		return
	}
	var timer *time.Timer
	for {
		b.lagMu.Lock()
		behind := b.laggingOn(topic, nil)
		drained := b.drained
		b.lagMu.Unlock()
		if len(behind) == 0 {
			return
		}
		if timer == nil {
			b.stats.publishWaits.Add(1)
			timer = time.NewTimer(b.opts.PublishWait)
			defer timer.Stop()
		}
		select {
		case <-drained:
			continue
		case <-timer.C:
		case <-ctx.Done():
		}
		b.mu.RLock() // end's callers hold it
		b.lagMu.Lock()
		behind = b.laggingOn(topic, behind[:0])
		b.lagMu.Unlock()
		for _, c := range behind {
			b.evict(c)
		}
		b.mu.RUnlock()
		return
	}
}

// laggingOn appends the lagging clients on topic to dst. b.lagMu is held.
func (b *Broker) laggingOn(topic string, dst []*client) []*client {
	for c := range b.lagging {
		if slices.Contains(c.info.Topics, topic) {
			dst = append(dst, c)
		}
	}
	return dst
}

// lagAdd and lagRemove keep b.lagging; the client's mu is held.
func (b *Broker) lagAdd(c *client) {
	b.lagMu.Lock()
	b.lagging[c] = struct{}{}
	b.nLagging.Store(int32(len(b.lagging)))
	b.lagMu.Unlock()
}

func (b *Broker) lagRemove(c *client) {
	b.lagMu.Lock()
	if _, ok := b.lagging[c]; ok {
		delete(b.lagging, c)
		b.nLagging.Store(int32(len(b.lagging)))
		close(b.drained) // the waiting publishers look again
		b.drained = make(chan struct{})
	}
	b.lagMu.Unlock()
}

// evict ends a client that reads too slowly. b.mu is held (read or write).
func (b *Broker) evict(c *client) {
	if c.end(ErrEvicted, 0) {
		b.stats.evicted.Add(1)
	}
}

// PublishLocal sends e to this broker's own clients on topic ("" means
// Options.DefaultTopic) only: the engine never sees it, so it is not
// stored, not replayed, not shared with other instances, and carries no
// id: field (it does not move a browser's Last-Event-ID). Use it for
// figures about this instance, such as its load. The checks are
// Publish's. It is encoded once and queued like a live event, after the
// events already queued: a client that is catching up from history gets
// it after its replay. It counts in BrokerStats.Local, and in BrokerStats.Delivered
// for each client it reaches; a client whose queue is full is evicted,
// as for Publish.
func (b *Broker) PublishLocal(topic string, e Event) error {
	if b.closed.Load() {
		return fmt.Errorf("sse: publish local: %w", ErrClosed)
	}
	topic, err := b.check(topic, e)
	if err != nil {
		return err
	}
	frame, err := AppendEvent(make([]byte, 0, frameSize(e)), e)
	if err != nil {
		return err
	}
	b.fanOut(&Message{Topic: topic, Frame: frame, local: true})
	b.stats.local.Add(1)
	return nil
}

// check validates a published event and returns its topic.
func (b *Broker) check(topic string, e Event) (string, error) {
	if topic == "" {
		topic = b.opts.DefaultTopic
	}
	switch {
	case !validTopic(topic):
		return "", topicError(topic)
	case topic == controlTopic:
		return "", checkReserved(topic)
	case e.ID != "":
		return "", fmt.Errorf("%w, but it is %s: the broker assigns IDs", ErrIDAssigned, clip(e.ID))
	case strings.HasPrefix(e.Name, protocol.ReservedPrefix):
		return "", fmt.Errorf("%w %s: names starting with %q are for the broker's own events; pick another name", ErrReservedEvent, clip(e.Name), protocol.ReservedPrefix)
	case len(e.Name)+len(e.Data) > b.opts.MaxEventSize:
		return "", fmt.Errorf("%w: %d bytes of event name and data, the limit is %d (Options.MaxEventSize); send a reference to the data instead", ErrEventTooLarge, len(e.Name)+len(e.Data), b.opts.MaxEventSize)
	}
	if err := e.Validate(); err != nil {
		return "", err
	}
	if err := checkData(e.Data); err != nil {
		return "", err
	}
	return topic, nil
}

// fanOut is the engine's deliver function: it queues m for every client
// on its topic, without blocking. A client whose queue is full is evicted.
// A client whose identity has expired gets the protocol.ExpiredEvent
// instead, and ends: when some identities expire, fan-out reads the
// clock once for m and compares it with one int64 per client. A message
// of the brokers' control topic is applied, not delivered.
func (b *Broker) fanOut(m *Message) {
	if !m.local {
		b.newest.Store(m)
		if m.Topic == controlTopic {
			b.control(m)
			return
		}
	}
	b.mu.RLock()
	if s := b.topics[m.Topic]; s != nil {
		if b.nExpiring.Load() == 0 {
			for _, c := range s.clients {
				c.enqueue(m)
			}
		} else {
			now := time.Now().UnixNano()
			for _, c := range s.clients {
				if e := c.expires.Load(); e != 0 && now >= e {
					b.expire(c, e)
					continue
				}
				c.enqueue(m)
			}
		}
	}
	b.mu.RUnlock()
}

// mayOpen says why one more stream from ip may not open, or returns
// nil: after Shutdown, or over MaxClients or MaxClientsPerIP, counting
// the streams of topics and those of ServeStream alike. b.mu is held.
func (b *Broker) mayOpen(ip string) error {
	switch {
	case b.closed.Load():
		return ErrClosed
	case b.opts.MaxClients >= 0 && len(b.clients)+len(b.own) >= b.opts.MaxClients:
		return fmt.Errorf("%w: %d streams are open, the limit (Options.MaxClients); retry later", ErrTooManyClients, len(b.clients)+len(b.own))
	case b.opts.MaxClientsPerIP >= 0 && b.perIP[ip] >= b.opts.MaxClientsPerIP:
		return fmt.Errorf("%w: %s has %d streams open, the limit (Options.MaxClientsPerIP); close some or retry later", ErrTooManyClientsPerIP, ip, b.perIP[ip])
	}
	return nil
}

// register adds c to the registry, or says why it may not.
func (b *Broker) register(c *client) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.mayOpen(c.info.IP); err != nil {
		return err
	}
	// Here, under the lock that applyRevocation holds: a revocation is
	// either applied to c or known when c registers.
	if b.revokedLocked(c.info.Identity, time.Now().UnixNano()) {
		b.stats.refusedRevoked.Add(1)
		return ErrRevoked
	}
	b.clients[c] = struct{}{}
	b.perIP[c.info.IP]++
	c.slots = make([]int, len(c.info.Topics))
	for i, t := range c.info.Topics {
		s := b.topics[t]
		if s == nil {
			s = &topicSubs{}
			b.topics[t] = s
		}
		c.slots[i] = len(s.clients)
		s.clients = append(s.clients, c)
	}
	b.stats.clients.Add(1)
	b.wg.Add(1) // before Shutdown's Wait: both happen under mu, and closed is checked above
	b.trackExpiry(c)
	if !b.ticking && b.opts.Heartbeat > 0 {
		b.ticking = true
		b.wg.Add(1)
		go b.heartbeats()
	}
	return nil
}

// unregister removes c from the registry: no one enqueues to it or ends
// it afterwards.
func (b *Broker) unregister(c *client) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.clients, c)
	b.leaveIP(c.info.IP)
	for i := range c.info.Topics {
		if c.slots[i] >= 0 {
			b.leaveTopic(c, i)
		}
	}
	b.untrackExpiry(c)
	b.lagRemove(c) // publishers no longer wait for it
	b.stats.clients.Add(-1)
}

// leaveTopic takes c off the list of its topic c.info.Topics[i], for
// good: its slot becomes -1. b.mu is held for writing.
func (b *Broker) leaveTopic(c *client, i int) {
	t := c.info.Topics[i]
	s := b.topics[t]
	j, last := c.slots[i], len(s.clients)-1
	moved := s.clients[last]
	s.clients[j] = moved
	s.clients[last] = nil
	s.clients = s.clients[:last]
	if moved != c {
		moved.slots[slices.Index(moved.info.Topics, t)] = j
	}
	if len(s.clients) == 0 {
		delete(b.topics, t)
	}
	c.slots[i] = -1
}

// leaveIP counts one stream less for ip. b.mu is held.
func (b *Broker) leaveIP(ip string) {
	if n := b.perIP[ip] - 1; n > 0 {
		b.perIP[ip] = n
	} else {
		delete(b.perIP, ip)
	}
}

// heartbeats runs from the first connect until Shutdown. Every half
// heartbeat interval it renews the heartbeat frame and marks each client
// that wrote nothing during the last interval: so a stream is silent for
// at most one Heartbeat, and no client needs a timer of its own. Then it
// looks at the sockets of the clients that wrote, or had bytes queued,
// and ends those whose reader stopped reading (stoppedreader.go).
func (b *Broker) heartbeats() {
	defer b.wg.Done()
	t := time.NewTicker(b.opts.Heartbeat / 2)
	defer t.Stop()
	var look []*client // reused: the clients whose sockets to look at
	var probe sockProbe
	for {
		select {
		case <-b.done:
			return
		case now := <-t.C:
			b.renewHeartbeat(now)
			b.mu.RLock()
			for c := range b.clients {
				wrote := c.wrote.Swap(false)
				if !wrote {
					c.heartbeatDue()
				}
				if c.t.socket() != nil && (wrote || c.progress.queued()) && b.opts.WriteTimeout > 0 {
					look = append(look, c)
				}
			}
			b.mu.RUnlock()
			look = b.lookAt(look, now, &probe)
		}
	}
}

// renewHeartbeat encodes the heartbeat event for now, once for everyone.
func (b *Broker) renewHeartbeat(now time.Time) {
	frame := make([]byte, 0, 64)
	frame = append(frame, "event: "+protocol.HeartbeatEvent+"\ndata: "...)
	frame = now.UTC().AppendFormat(frame, time.RFC3339)
	frame = append(frame, "\n\n"...)
	b.heartbeat.Store(&frame)
}

// Shutdown ends every stream promptly, refuses new ones with 503, stops
// the heartbeat goroutine and, for the default engine, closes it; then it
// waits for the streams' handlers to return, or for ctx. Publish returns
// ErrClosed afterwards. Shutdown is idempotent.
//
// http.Server.Shutdown waits for open streams, which never end on their
// own: call Broker.Shutdown from http.Server.RegisterOnShutdown, or before
// http.Server.Shutdown.
func (b *Broker) Shutdown(ctx context.Context) error {
	b.shutdown.Do(func() {
		b.mu.Lock()
		b.closed.Store(true)
		for c := range b.clients {
			c.end(ErrClosed, shutdownGrace)
		}
		for o := range b.own {
			o.cancel(ErrClosed)
		}
		close(b.done)
		b.mu.Unlock()
		b.unsub()
		if b.ownEngine != nil {
			b.ownEngine.Close()
		}
	})
	idle := make(chan struct{})
	go func() { // ends when the last stream ends, even if ctx is done first
		b.wg.Wait()
		b.stopWriters()
		close(idle)
	}()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("sse: shutdown: %d streams still open: %w", b.stats.clients.Load(), context.Cause(ctx))
	}
}

// shutdownGrace is how long Shutdown lets a write in progress finish, so
// healthy streams end cleanly; a stopped reader's write fails after it.
const shutdownGrace = 100 * time.Millisecond

// Stats returns the broker's counters.
func (b *Broker) Stats() BrokerStats {
	return BrokerStats{
		Clients:   int(b.stats.clients.Load()),
		Published: b.stats.published.Load(),
		Local:     b.stats.local.Load(),
		Delivered: b.stats.delivered.Load(),
		Replayed:  b.stats.replayed.Load(),
		Evicted:   b.stats.evicted.Load(),
		Rejected:  b.stats.rejected.Load(),
		Gaps:      b.stats.gaps.Load(),

		ReplaysFailed: b.stats.replayFails.Load(),
		PublishWaits:  b.stats.publishWaits.Load(),

		Deduplicated: b.stats.deduplicated.Load(),

		Revocations:      b.stats.revocations.Load(),
		RevokedStreams:   b.stats.revokedStreams.Load(),
		Expired:          b.stats.expired.Load(),
		RefusedIdentify:  b.stats.refusedIdentify.Load(),
		RefusedSignIn:    b.stats.refusedSignIn.Load(),
		RefusedForbidden: b.stats.refusedForbidden.Load(),
		RefusedRevoked:   b.stats.refusedRevoked.Load(),
		RefusedExpired:   b.stats.refusedExpired.Load(),
	}
}
