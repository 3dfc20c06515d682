// Package jetstream is an [sse.Engine] backed by NATS JetStream: several
// servers, each with its own [sse.Broker], share topics, event IDs and
// history, and a server that dies loses nothing its clients cannot get
// back from another.
//
//	nc, err := nats.Connect(url, nats.MaxReconnects(-1)) // reconnect forever
//	...
//	engine, err := jetstream.New(ctx, nc, jetstream.Options{}) // creates or updates the stream
//	...
//	broker, err := sse.New(sse.Options{Engine: engine})
//	...
//	// at shutdown: broker.Shutdown(ctx), engine.Close(), nc.Close()
//
// Every server sharing topics uses the same [Options.Stream] and
// subject. It lives in a package of its own so that programs using the
// in-memory engine do not link the NATS client. docs/scale-out.md tells
// how to run it.
//
// One stream (Options.Stream) holds the events of every topic, one subject
// per topic (Options.Subject + "." + the topic, with '.' written "%2E").
// An event's Seq is its stream sequence, so an ID means the same on every
// server; the epoch is derived from the stream's creation time, so it
// survives restarts of NATS and of our servers, and changes only when the
// stream is deleted and created again. The stream's own limits bound the
// history: MaxMsgs is Options.HistorySize, MaxAge Options.HistoryAge,
// MaxBytes Options.HistoryBytes.
//
// Idempotent publish ([Engine.PublishOnce]) uses JetStream's own
// deduplication: the key travels as the Nats-Msg-Id header, scoped to the
// topic ("<topic> <key>"), and the stream's Duplicates window is
// Options.DuplicateWindow, by default the history age (NATS allows no
// longer). So a retry through any server is stored once, and its answer,
// the PubAck of a duplicate, carries the first message's sequence, hence
// its ID.
//
// Delivery: each [Engine.Subscribe] reads the stream with an ordered
// consumer that starts after the stream's last sequence, and checks that
// sequences follow one another. When the connection to NATS is lost, the
// consumer is recreated after reconnecting, from the sequence after the
// last one delivered: events published meanwhile (by servers that could
// still reach NATS) arrive late but exactly once, in order. Publish fails
// at once, wrapping [ErrUnavailable], while the connection is down.
//
// If continuity cannot be kept (the stream was deleted or recreated, or
// events expired from it before this server could deliver them), the
// engine stops delivering, fails every later call with [ErrHistoryLost],
// and calls Options.OnLost: the broker's clients must reconnect (and will
// replay, or get protocol.GapEvent) on a fresh engine. The server binary exits.
//
// Replay reads the stream from the client's last sequence to the stream's
// last, keeping the requested topics, in parts (sse.Replay.More) of at
// most 1,000 events and 1 MiB, through short-lived consumers: one
// filtered on the topics' subjects on NATS 2.10 and later, one per topic,
// merged by stream sequence, on NATS 2.9. The parts all replays hold,
// read and not yet written, stay within Options.ReplayBytes.
//
// Servers: nats-server [MinServerVersion] (2.9.0) or later, tested with
// Debian's 2.9.10 and the 2.15 the tests link. [New] refuses an older
// one, saying which version is needed and why.
package jetstream

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/ssewasm/ssewasm/server/sse"
	"github.com/ssewasm/ssewasm/shared/protocol"
	"github.com/ssewasm/ssewasm/shared/topic"
)

// Defaults of [Options].
const (
	DefaultStream  = "SSEWASM"
	DefaultSubject = "ssewasm"
)

// Headers of a stored event; its data is the message's body.
const (
	eventHeader = "Sse-Event" // the event name, absent for unnamed events
	retryHeader = "Sse-Retry" // the retry field in milliseconds, absent for none
)

// DefaultMaxReplays is the default of Options.MaxReplays: with ten
// servers on a stream, 320 of NATS's 1,000 consumers per stream.
const DefaultMaxReplays = 32

// DefaultReplayBytes is the default of Options.ReplayBytes.
const DefaultReplayBytes = 64 << 20

// opTimeout bounds a request to NATS made without a caller's context.
const opTimeout = 10 * time.Second

var (
	// ErrUnavailable: NATS cannot be reached right now. Publishing
	// again later, or through another server, may succeed.
	ErrUnavailable = errors.New("jetstream: NATS is unavailable")
	// ErrHistoryLost: the stream was deleted or recreated, or events
	// expired from it before this engine delivered them. The engine
	// cannot keep its promise of exactly-once, in-order delivery: close
	// the broker and create a new engine.
	ErrHistoryLost = errors.New("jetstream: continuity with the stream's history was lost")
)

// Options configure an [Engine]. The zero value of every field is its
// default, which the field documents; a negative number or duration
// turns the feature off or lifts the limit where the field says so, and
// New refuses it elsewhere.
type Options struct {
	// Stream is the JetStream stream's name; "" means DefaultStream.
	// Every server sharing topics must use the same one.
	Stream string
	// Subject is the prefix of the stream's subjects; "" means
	// DefaultSubject. Topic t travels on Subject + "." + t.
	Subject string
	// HistorySize is the stream's MaxMsgs; 0 means sse.DefaultHistorySize.
	HistorySize int
	// HistoryAge is the stream's MaxAge; 0 means sse.DefaultHistoryAge.
	HistoryAge time.Duration
	// HistoryBytes is the stream's MaxBytes (NATS counts each message's
	// subject, headers and data); 0 means sse.DefaultHistoryBytes.
	HistoryBytes int
	// DuplicateWindow is the stream's Duplicates window: how long NATS
	// remembers an idempotency key (see [Engine.PublishOnce]). 0 means
	// HistoryAge, the longest NATS allows. NATS keeps every key for the
	// whole window, in memory, even after its event has left the stream
	// by count or bytes: about 130 bytes plus the key and topic per
	// publish made with a key (165 in all measured with a 36-byte key;
	// publishes without one cost nothing).
	// Shorten it if many keyed publishes meet a long HistoryAge.
	DuplicateWindow time.Duration
	// MaxReplays is how many replays (streams that resume with a
	// Last-Event-ID) read the stream at once on this engine, each
	// through a consumer of its own; the others wait their turn, for as
	// long as their context allows. NATS allows 1,000 consumers per
	// stream by default, shared by every server on the stream: when an
	// instance dies, its clients resume on the others all at once, and
	// without a bound their replays ran out of consumers (and a server
	// starting then could not subscribe). 0 means DefaultMaxReplays.
	MaxReplays int
	// ReplayBytes bounds the memory replays take on this engine: the
	// bytes of the events read from the stream for replays and not yet
	// written to their clients. A replay reads its events in parts (at
	// most 1,000 events and 1 MiB, or one event if larger) and holds one
	// part at a time: the next is read once the broker has written the
	// last. A part waits for room, for as long as its context allows.
	// 0 means DefaultReplayBytes; it is raised to hold at least two parts
	// of the largest message NATS accepts (a replay of several topics on
	// NATS 2.9 holds two while it reads a part).
	ReplayBytes int64
	// Replicas is the stream's replica count in a NATS cluster; 0 means 1.
	Replicas int
	// MemoryStorage keeps the stream in NATS's memory instead of files:
	// history is then lost when NATS restarts. false (the default) means
	// file storage.
	MemoryStorage bool
	// OnLost is called once, from one of the engine's goroutines, when
	// the engine loses continuity (see [ErrHistoryLost]); nil only logs.
	OnLost func(err error)
	// Logger receives warnings about the connection; nil discards them.
	Logger *slog.Logger
}

// Engine is the JetStream [sse.Engine]. Create it with [New]; its methods
// are safe for concurrent use.
//
// Goroutines: one of its own, which checks the stream whenever the
// connection comes back; the NATS client runs one per subscription.
type Engine struct {
	nc     *nats.Conn
	js     natsjs.JetStream
	stream natsjs.Stream
	opts   Options
	all    string // the filter of every topic's subject: Subject + ".>"
	epoch  string
	log    *slog.Logger

	lost atomic.Pointer[error] // set once continuity is lost

	replays   chan struct{} // a slot per replay reading the stream: Options.MaxReplays
	held      budget        // bytes of replayed events not yet written: Options.ReplayBytes
	partBytes int           // the most one part of a replay reads
	retryFor  time.Duration // replayRetryFor; tests shorten it
	// severalFilters: NATS filters a consumer on several subjects
	// (2.10 and later), so a replay reads one consumer, not one per
	// topic. Cleared if NATS refuses one (see replay.go).
	severalFilters atomic.Bool

	mu     sync.Mutex
	subs   map[*subscription]struct{} // guarded by mu
	closed bool                       // guarded by mu

	status chan nats.Status // CONNECTED events from the connection
	check  chan struct{}    // buffered (1): a request to check the stream, coalesced
	ctx    context.Context  // cancelled by Close: ends watch and its requests
	stop   context.CancelFunc
	wg     sync.WaitGroup // watch
}

var _ sse.Engine = (*Engine)(nil)

// New creates the stream, or updates its limits to opts, and returns an
// engine on it. nc stays the caller's: close it after [Engine.Close].
// Every server sharing the stream should use the same limits: the last
// one to start sets them.
func New(ctx context.Context, nc *nats.Conn, opts Options) (*Engine, error) {
	if opts.Stream == "" {
		opts.Stream = DefaultStream
	}
	if opts.Subject == "" {
		opts.Subject = DefaultSubject
	}
	if opts.HistorySize == 0 {
		opts.HistorySize = sse.DefaultHistorySize
	}
	if opts.HistoryBytes == 0 {
		opts.HistoryBytes = sse.DefaultHistoryBytes
	}
	if opts.HistoryAge == 0 {
		opts.HistoryAge = sse.DefaultHistoryAge
	}
	if opts.Replicas == 0 {
		opts.Replicas = 1
	}
	if opts.DuplicateWindow == 0 {
		opts.DuplicateWindow = opts.HistoryAge
	}
	switch {
	case opts.HistorySize < 0:
		return nil, fmt.Errorf("jetstream: Options.HistorySize is %d; use a positive count, or 0 for the default", opts.HistorySize)
	case opts.HistoryBytes < 0:
		return nil, fmt.Errorf("jetstream: Options.HistoryBytes is %d; use a positive size in bytes, or 0 for the default", opts.HistoryBytes)
	case opts.HistoryAge < 0:
		return nil, fmt.Errorf("jetstream: Options.HistoryAge is %v; use a positive duration, or 0 for the default", opts.HistoryAge)
	case opts.DuplicateWindow < 0 || opts.DuplicateWindow > opts.HistoryAge:
		return nil, fmt.Errorf("jetstream: Options.DuplicateWindow is %v; use a positive duration up to HistoryAge (%v), or 0 for HistoryAge", opts.DuplicateWindow, opts.HistoryAge)
	case opts.Replicas < 0:
		return nil, fmt.Errorf("jetstream: Options.Replicas is %d; use 1 to 5, or 0 for 1", opts.Replicas)
	case opts.MaxReplays < 0:
		return nil, fmt.Errorf("jetstream: Options.MaxReplays is %d; use a positive count, or 0 for the default %d", opts.MaxReplays, DefaultMaxReplays)
	case opts.ReplayBytes < 0:
		return nil, fmt.Errorf("jetstream: Options.ReplayBytes is %d; use a positive size in bytes, or 0 for the default %d", opts.ReplayBytes, DefaultReplayBytes)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	several, err := checkVersion(nc.ConnectedServerVersion(), nc.ConnectedUrlRedacted())
	if err != nil {
		return nil, err
	}
	js, err := natsjs.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	storage := natsjs.FileStorage
	if opts.MemoryStorage {
		storage = natsjs.MemoryStorage
	}
	all := opts.Subject + ".>"
	stream, err := js.CreateOrUpdateStream(ctx, natsjs.StreamConfig{
		Name:        opts.Stream,
		Description: "ssewasm events: one subject per topic",
		Subjects:    []string{all},
		Retention:   natsjs.LimitsPolicy,
		Discard:     natsjs.DiscardOld,
		MaxMsgs:     int64(opts.HistorySize),
		MaxAge:      opts.HistoryAge,
		MaxBytes:    int64(opts.HistoryBytes),
		Duplicates:  opts.DuplicateWindow,
		Storage:     storage,
		Replicas:    opts.Replicas,
	})
	if err != nil {
		if errors.Is(err, natsjs.ErrJetStreamNotEnabled) || errors.Is(err, natsjs.ErrJetStreamNotEnabledForAccount) || errors.Is(err, nats.ErrNoResponders) {
			return nil, fmt.Errorf("jetstream: NATS at %s does not answer JetStream requests: start nats-server with -js (JetStream on): %w", nc.ConnectedUrlRedacted(), err)
		}
		return nil, fmt.Errorf("jetstream: creating or updating stream %s (subjects %s) on NATS at %s: %w", opts.Stream, all, nc.ConnectedUrlRedacted(), err)
	}
	e := &Engine{
		nc:     nc,
		js:     js,
		stream: stream,
		opts:   opts,
		all:    all,
		epoch:  epochOf(stream.CachedInfo().Created),
		log:    log,
		subs:   make(map[*subscription]struct{}),
		status: nc.StatusChanged(nats.CONNECTED),
		check:  make(chan struct{}, 1),
	}
	maxReplays := cmp.Or(opts.MaxReplays, DefaultMaxReplays)
	e.replays = make(chan struct{}, maxReplays)
	e.retryFor = replayRetryFor
	e.severalFilters.Store(several)
	if !several {
		log.Info("jetstream: this NATS filters a consumer on one subject only (several came in 2.10): a replay of several topics reads them with a consumer each, one after the other",
			"server", nc.ConnectedServerVersion())
	}
	// A part must hold the largest message NATS accepts, with its
	// subject and headers (NATS counts them in a fetch's bytes).
	e.partBytes = max(replayPartBytes, int(nc.MaxPayload())+len(subject(opts.Subject, strings.Repeat(".", topic.MaxLen)))+replayMsgOverhead)
	// Two parts: a replay of several topics on NATS 2.9 holds what it
	// keeps and one topic's fetch while it merges them.
	e.held.limit = max(cmp.Or(opts.ReplayBytes, DefaultReplayBytes), 2*int64(e.partBytes))
	e.ctx, e.stop = context.WithCancel(context.Background())
	e.wg.Add(1)
	go e.watch()
	return e, nil
}

// Epoch returns the epoch of the stream's history, the first part of IDs.
func (e *Engine) Epoch() string { return e.epoch }

// watch checks the stream after every reconnect, and when asked.
func (e *Engine) watch() {
	defer e.wg.Done()
	for {
		select {
		case <-e.ctx.Done():
			return
		case <-e.status:
			e.log.Info("jetstream: reconnected to NATS", "url", e.nc.ConnectedUrlRedacted())
			e.verify()
		case <-e.check:
			e.verify()
		}
	}
}

// requestCheck asks watch to check the stream, without waiting.
func (e *Engine) requestCheck() {
	select {
	case e.check <- struct{}{}:
	default: // a check is already pending
	}
}

// verify checks that the stream is still the one the epoch names.
func (e *Engine) verify() {
	ctx, cancel := context.WithTimeout(e.ctx, opTimeout)
	defer cancel()
	info, err := e.stream.Info(ctx)
	switch {
	case errors.Is(err, natsjs.ErrStreamNotFound):
		e.fail(fmt.Errorf("%w: stream %s no longer exists on NATS", ErrHistoryLost, e.opts.Stream))
	case err != nil && e.ctx.Err() != nil: // closed
	case err != nil:
		e.log.Warn("jetstream: cannot check the stream; will check again after the next reconnect", "stream", e.opts.Stream, "err", err)
	default:
		e.checkEpoch(info)
	}
}

// checkEpoch fails the engine if info is of another stream than the one
// the engine started on, and reports whether it is the same.
func (e *Engine) checkEpoch(info *natsjs.StreamInfo) bool {
	if ep := epochOf(info.Created); ep != e.epoch {
		e.fail(fmt.Errorf("%w: stream %s was recreated (epoch %s, now %s)", ErrHistoryLost, e.opts.Stream, e.epoch, ep))
		return false
	}
	return true
}

// fail records that continuity is lost, once, and reports it.
func (e *Engine) fail(err error) {
	if !e.lost.CompareAndSwap(nil, &err) {
		return
	}
	e.log.Error("jetstream: stopped delivering: clients must reconnect to a new engine", "err", err)
	if e.opts.OnLost != nil {
		e.opts.OnLost(err)
	}
}

// usable returns ErrClosed or the lost error, if any.
func (e *Engine) usable(op string) error {
	if p := e.lost.Load(); p != nil {
		return fmt.Errorf("jetstream: %s: %w", op, *p)
	}
	e.mu.Lock()
	closed := e.closed
	e.mu.Unlock()
	if closed {
		return fmt.Errorf("jetstream: %s: %w", op, sse.ErrClosed)
	}
	return nil
}

// Publish implements [sse.Engine]: it stores e in the stream and returns
// it with the stream sequence as Seq. Delivery, to this server's
// subscriptions too, goes through the stream. While the connection to
// NATS is down it fails at once with an error wrapping [ErrUnavailable];
// an event too large for NATS's max_payload wraps sse.ErrEventTooLarge.
func (e *Engine) Publish(ctx context.Context, topic string, ev sse.Event) (*sse.Message, error) {
	m, _, err := e.publish(ctx, topic, "", ev)
	return m, err
}

// PublishOnce implements [sse.Engine] with JetStream's deduplication:
// the message carries Nats-Msg-Id "<topic> <key>", and the stream stores
// it only if no message with that ID was stored within the Duplicates
// window (Options.DuplicateWindow), whichever server published it. A
// duplicate's PubAck holds the first message's sequence; the first
// message is read back from the stream by that sequence (one more
// request, for duplicates only). If it has left the stream already (by
// count or bytes, within the window), the Message has its ID but no
// Frame.
func (e *Engine) PublishOnce(ctx context.Context, topic, key string, ev sse.Event) (*sse.Message, bool, error) {
	if !sse.ValidIdempotencyKey(key) {
		return nil, false, fmt.Errorf("jetstream: publish: %w: %q", sse.ErrInvalidIdempotencyKey, key)
	}
	return e.publish(ctx, topic, key, ev)
}

// msgID is the Nats-Msg-Id of a publish with key on topic: topics have no
// spaces, so the first one separates them.
func msgID(topic, key string) string { return topic + " " + key }

// publish is Publish, deduplicated by key unless key is "".
func (e *Engine) publish(ctx context.Context, topic, key string, ev sse.Event) (*sse.Message, bool, error) {
	if err := e.usable("publish"); err != nil {
		return nil, false, err
	}
	if !validTopic(topic) {
		return nil, false, fmt.Errorf("jetstream: publish: %w: %q", sse.ErrInvalidTopic, topic)
	}
	if !e.nc.IsConnected() {
		return nil, false, fmt.Errorf("jetstream: publish: %w: the connection to %s is down and reconnecting; retry later", ErrUnavailable, e.opts.Stream)
	}
	msg := nats.NewMsg(subject(e.opts.Subject, topic))
	msg.Data = []byte(ev.Data)
	if ev.Name != "" {
		msg.Header.Set(eventHeader, ev.Name)
	}
	if ev.Retry > 0 {
		msg.Header.Set(retryHeader, strconv.FormatInt(max(ev.Retry.Milliseconds(), 1), 10))
	}
	popts := []natsjs.PublishOpt{natsjs.WithExpectStream(e.opts.Stream)}
	if key != "" {
		popts = append(popts, natsjs.WithMsgID(msgID(topic, key)))
	}
	ack, err := e.js.PublishMsg(ctx, msg, popts...)
	if err != nil {
		// The client measures data and headers exactly; guessing the
		// headers' size here let events near the limit through as a
		// bare ErrMaxPayload.
		if errors.Is(err, nats.ErrMaxPayload) {
			return nil, false, fmt.Errorf("jetstream: publish: %w: %d bytes of data and headers, and NATS accepts at most %d per message; raise max_payload in NATS or lower -max-event-size", sse.ErrEventTooLarge, len(msg.Data), e.nc.MaxPayload())
		}
		if errors.Is(err, nats.ErrNoResponders) || errors.Is(err, natsjs.ErrNoStreamResponse) {
			e.requestCheck()
			err = fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		return nil, false, fmt.Errorf("jetstream: publish to %s: %w", msg.Subject, err)
	}
	if ack.Duplicate {
		m, err := e.first(ctx, topic, ack.Sequence)
		return m, true, err
	}
	ev.ID = ""
	m, err := sse.NewMessage(topic, e.epoch, ack.Sequence, ev)
	return m, false, err
}

// first reads back the message a duplicate publish on topic was
// deduplicated against: the one with sequence seq.
func (e *Engine) first(ctx context.Context, topic string, seq uint64) (*sse.Message, error) {
	raw, err := e.stream.GetMsg(ctx, seq)
	switch {
	case errors.Is(err, natsjs.ErrMsgNotFound):
		// It left the stream within the Duplicates window: its ID
		// still names it, but its frame is gone.
		return &sse.Message{Topic: topic, Seq: seq, ID: protocol.FormatID(e.epoch, seq)}, nil
	case err != nil:
		return nil, fmt.Errorf("jetstream: publish: reading message %d, the first publish with this idempotency key, from stream %s: %w", seq, e.opts.Stream, err)
	}
	return e.decodeParts(raw.Subject, raw.Header, raw.Data, seq)
}

// decode rebuilds the message that Publish stored.
func (e *Engine) decode(m natsjs.Msg, seq uint64) (*sse.Message, error) {
	return e.decodeParts(m.Subject(), m.Headers(), m.Data(), seq)
}

// decodeParts is decode, from a message's subject, headers and data.
func (e *Engine) decodeParts(subj string, h nats.Header, data []byte, seq uint64) (*sse.Message, error) {
	topic, ok := topicOf(e.opts.Subject, subj)
	if !ok {
		return nil, fmt.Errorf("jetstream: message %d has subject %q, which names no topic", seq, subj)
	}
	ev := sse.Event{Data: string(data)}
	if h != nil {
		ev.Name = h.Get(eventHeader)
		if r := h.Get(retryHeader); r != "" {
			ms, err := strconv.ParseInt(r, 10, 64)
			if err != nil || ms <= 0 {
				return nil, fmt.Errorf("jetstream: message %d has a bad %s header %q", seq, retryHeader, r)
			}
			ev.Retry = time.Duration(ms) * time.Millisecond
		}
	}
	return sse.NewMessage(topic, e.epoch, seq, ev)
}

// subscription is one Subscribe: an ordered consumer and the sequence of
// the last message delivered.
type subscription struct {
	e       *Engine
	deliver func(*sse.Message)
	cc      natsjs.ConsumeContext

	mu      sync.Mutex // held while delivering: cancel waits for a delivery in progress
	last    uint64     // guarded by mu; stream sequence of the last message delivered (or skipped)
	stopped bool       // guarded by mu
}

// Subscribe implements [sse.Engine]. deliver runs in a goroutine of the
// NATS client, one message at a time.
func (e *Engine) Subscribe(deliver func(*sse.Message)) (cancel func(), err error) {
	if err := e.usable("subscribe"); err != nil {
		return nil, err
	}
	ctx, cancelCtx := context.WithTimeout(context.Background(), opTimeout)
	defer cancelCtx()
	info, err := e.stream.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("jetstream: subscribe: reading stream %s: %w", e.opts.Stream, err)
	}
	if !e.checkEpoch(info) {
		return nil, e.usable("subscribe")
	}
	s := &subscription{e: e, deliver: deliver, last: info.State.LastSeq}
	oc, err := e.stream.OrderedConsumer(ctx, natsjs.OrderedConsumerConfig{
		FilterSubjects:    []string{e.all},
		DeliverPolicy:     natsjs.DeliverByStartSequencePolicy,
		OptStartSeq:       s.last + 1,
		InactiveThreshold: time.Minute,
	})
	if err != nil {
		return nil, fmt.Errorf("jetstream: subscribe: %w", err)
	}
	// Register before consuming, so that Close always finds s.
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil, fmt.Errorf("jetstream: subscribe: %w", sse.ErrClosed)
	}
	e.subs[s] = struct{}{}
	e.mu.Unlock()
	s.cc, err = oc.Consume(s.handle, natsjs.ConsumeErrHandler(s.consumeError),
		// Heartbeats every 2 s: a deleted consumer or stream is noticed
		// within seconds, at the cost of a few bytes.
		natsjs.PullExpiry(10*time.Second), natsjs.PullHeartbeat(2*time.Second))
	if err != nil {
		e.mu.Lock()
		delete(e.subs, s)
		e.mu.Unlock()
		return nil, fmt.Errorf("jetstream: subscribe: consuming stream %s: %w", e.opts.Stream, err)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			s.stop()
			e.mu.Lock()
			delete(e.subs, s)
			e.mu.Unlock()
		})
	}, nil
}

// handle is the consumer's callback: it delivers m if it is the next one.
func (s *subscription) handle(m natsjs.Msg) {
	meta, err := m.Metadata()
	if err != nil {
		s.e.log.Warn("jetstream: message without metadata", "subject", m.Subject(), "err", err)
		return
	}
	seq := meta.Sequence.Stream
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped || s.e.lost.Load() != nil || seq <= s.last {
		return // cancelled, lost, or already delivered
	}
	if seq != s.last+1 && !s.e.deleted(s.last+1) {
		s.e.fail(fmt.Errorf("%w: the next event this server had to deliver, %d, is no longer in stream %s (now at %d): it expired while this server could not read it",
			ErrHistoryLost, s.last+1, s.e.opts.Stream, seq))
		return
	}
	s.last = seq
	msg, err := s.e.decode(m, seq)
	if err != nil {
		s.e.log.Warn("jetstream: skipping a message not written by this engine", "err", err)
		return
	}
	s.deliver(msg)
}

// deleted reports whether the messages from seq on that are missing were
// removed one by one (a gap inside the stream, which the history still
// spans), rather than expired from its front.
func (e *Engine) deleted(seq uint64) bool {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	info, err := e.stream.Info(ctx)
	return err == nil && epochOf(info.Created) == e.epoch && info.State.FirstSeq <= seq
}

// consumeError sees the ordered consumer's errors; it recovers from most
// by itself (after a reconnect, it resumes after the last message).
func (s *subscription) consumeError(_ natsjs.ConsumeContext, err error) {
	s.e.log.Debug("jetstream: consumer", "err", err)
	s.e.requestCheck() // was the stream deleted?
}

// stop ends the subscription: no delivery starts after it returns (the
// mutex waits for one in progress). The NATS client's goroutines for it
// end shortly after, or when the connection closes; stop does not wait
// for them (ConsumeContext.Closed is not always closed after a reset).
func (s *subscription) stop() {
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	s.cc.Stop()
}

// Close ends every subscription and the engine's goroutine; later
// Publish and Subscribe calls return an error wrapping sse.ErrClosed.
// It leaves the stream and the connection alone. It is idempotent and
// returns nil.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	subs := e.subs
	e.subs = nil
	e.mu.Unlock()
	for s := range subs {
		s.stop()
	}
	e.stop()
	e.wg.Wait()
	e.nc.RemoveStatusListener(e.status)
	return nil
}
