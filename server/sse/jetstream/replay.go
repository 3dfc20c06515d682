package jetstream

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/ssewasm/ssewasm/server/sse"
	"github.com/ssewasm/ssewasm/shared/protocol"
)

// Replays.
//
// A replay reads the stream after the client's last sequence, up to the
// stream's last sequence when it started (Through), keeping the client's
// topics: short-lived consumers filtered on their subjects, so that a
// resumption after a flood on another topic does not pull the flood
// through NATS. It reads in parts: each part is one fetch from each of
// the replay's sources (see source), of at most replayBatch events and
// partBytes bytes, from a consumer of its own that starts after the last
// event of the part before, made and deleted around the fetch (the
// part's writing may take longer than NATS keeps an idle consumer). The
// broker writes a part before it asks for the next (sse.Replay.More), so
// a replay holds one part at a time, and the parts held by all replays
// stay within Options.ReplayBytes (Engine.held): a thousand clients
// resuming after a flood of 1 MiB events take at most that, not a
// thousand copies of the flood. Options.MaxReplays bounds the parts being
// read at once (a part makes its consumers one after the other).
//
// Sources. NATS 2.10 and later filter one consumer on several subjects:
// a replay then has one source, its topics' subjects. NATS 2.9 filters a
// consumer on one subject only (it ignores the others, and the client
// refuses the consumer): a replay of several topics then has a source per
// topic, and a part merges what they give by stream sequence. The first
// source read sets a cutoff, the last sequence up to which it gave every
// event (the stream's Through if it gave all it has); each next source is
// read up to the cutoff, lowers it if it has more to give, and what lies
// beyond the cutoff is dropped. The part holds every event of every
// source up to the cutoff, in order, and the next part starts after it.
// While merging, a part holds what it keeps and one source's fetch: it
// reserves twice its bytes, and trims what it keeps to its bytes by
// lowering the cutoff. A source that has nothing left up to the Through,
// or nothing up to a part's cutoff, is not asked again (source.from).
//
// A replay never ends short in silence: a fetch that gives fewer events
// than the consumer said were pending, or skips one (a jump in the
// consumer's own sequence), fails the part. Events that expired from the
// front of the stream before their part was read make the first part a
// gap (protocol.GapExpired), and a later part an error. A failure is tried
// again for a few seconds (replayRetryFor: NATS restarting, say); one
// that lasts, the broker answers with protocol.GapEvent, then live events.

// replayBatch is how many messages one fetch asks for.
const replayBatch = 1000

// replayPartBytes is the most bytes one part asks for, unless the
// largest message NATS accepts is larger.
const replayPartBytes = 1 << 20

// replayMsgOverhead is what NATS counts per message in a fetch's bytes
// besides its subject and payload (headers included in the payload
// limit): room for the reply subject and the protocol line.
const replayMsgOverhead = 512

// replayWait bounds one fetch of a replay: the messages asked for are
// stored, so they come at once unless some were removed.
const replayWait = 2 * time.Second

// replayRetryFor is how long a replay, or a part of it, tries again
// after a failure, from the first: a NATS restart or a lost connection
// fails the requests in flight (after NATS's 5 s request timeout, or at
// once with no responders while JetStream recovers), and a blip should
// cost the client a delay, not a gap. A replay that still fails gives
// the client the gap (GapUnavailable) and live events.
const replayRetryFor = 5 * time.Second

// retrying calls f until it succeeds or fails for good: ctx is done,
// continuity is lost, or e.retryFor (replayRetryFor) has passed since it
// first failed.
func (e *Engine) retrying(ctx context.Context, f func() error) error {
	var deadline time.Time
	wait := 100 * time.Millisecond
	for {
		err := f()
		if err == nil || ctx.Err() != nil || e.lost.Load() != nil {
			return err
		}
		now := time.Now()
		if deadline.IsZero() {
			deadline = now.Add(e.retryFor)
		}
		if now.Add(wait).After(deadline) {
			return err
		}
		e.log.Debug("jetstream: replay failed; trying again", "in", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return err
		}
		wait = min(2*wait, time.Second)
	}
}

// Replay implements [sse.Engine]: it reads the stream after lastEventID's
// sequence, up to the stream's last sequence when Replay started, in
// parts (see above): the first in Messages, the others from More. A
// failure is tried again for replayRetryFor.
func (e *Engine) Replay(ctx context.Context, topics []string, lastEventID string) (r sse.Replay, err error) {
	err = e.retrying(ctx, func() error {
		r, err = e.replay(ctx, topics, lastEventID)
		return err
	})
	return r, err
}

// replay is Replay, once.
func (e *Engine) replay(ctx context.Context, topics []string, lastEventID string) (sse.Replay, error) {
	if p := e.lost.Load(); p != nil {
		return sse.Replay{}, fmt.Errorf("jetstream: replay: %w", *p)
	}
	info, err := e.stream.Info(ctx)
	if err != nil {
		return sse.Replay{}, fmt.Errorf("jetstream: replay: reading stream %s: %w", e.opts.Stream, err)
	}
	if !e.checkEpoch(info) {
		return sse.Replay{}, fmt.Errorf("jetstream: replay: %w", *e.lost.Load())
	}
	last, first := info.State.LastSeq, info.State.FirstSeq
	r := sse.Replay{Through: last}
	if last > 0 {
		r.Head = protocol.FormatID(e.epoch, last)
	}
	var after uint64
	after, r.Gap = protocol.Classify(lastEventID, e.epoch, first, last)
	if r.Gap != "" || after == last {
		return r, nil
	}
	var subjects []string
	for _, t := range topics {
		if f := subject(e.opts.Subject, t); !slices.Contains(subjects, f) { // NATS refuses a filter twice
			subjects = append(subjects, f)
		}
	}
	rp := &replayRun{e: e, topics: topics, last: last, sources: e.sources(subjects)}
	msgs, expired, err := rp.part(ctx, after)
	if err != nil || expired {
		rp.release()
		if err != nil {
			return sse.Replay{}, err
		}
		r.Gap = protocol.GapExpired
		return r, nil
	}
	r.Messages, r.Release = msgs, rp.release
	if !rp.done {
		r.More = rp.more
	}
	return r, nil
}

// source is what one consumer of a part reads: the subjects of some of a
// replay's topics (see Sources above).
type source struct {
	filters []string
	// from: the source has nothing before this sequence that a later
	// part still needs; past the replay's Through, nothing at all.
	from uint64
}

// sources returns the sources of a replay of subjects: one if NATS
// filters a consumer on several subjects, else one per subject.
func (e *Engine) sources(subjects []string) []*source {
	if e.severalFilters.Load() {
		return []*source{{filters: subjects}}
	}
	out := make([]*source, len(subjects))
	for i, s := range subjects {
		out[i] = &source{filters: []string{s}}
	}
	return out
}

// oneFilterOnly records that NATS refused a consumer with several filter
// subjects (err): replays from now on read a source per topic.
func (e *Engine) oneFilterOnly(err error) {
	if e.severalFilters.CompareAndSwap(true, false) {
		e.log.Warn("jetstream: NATS refused a consumer filtered on several subjects (it is older than 2.10): replays of several topics now read one consumer per topic",
			"server", e.nc.ConnectedServerVersion(), "err", err)
	}
}

// replayRun is one replay read in parts; the broker's goroutine for the
// stream calls its methods, one at a time.
type replayRun struct {
	e       *Engine
	topics  []string
	sources []*source
	last    uint64 // Through: the replay ends there
	next    uint64 // the sequence the next part starts after
	done    bool   // nothing is left to read
	holding int64  // bytes reserved in e.held for the part being written
}

// more implements sse.Replay.More: the last part has been written, so its
// bytes are given back and the next part is read (a failure is tried
// again for replayRetryFor). A part left empty (its messages were not
// written by this engine) is skipped: an empty part ends the replay.
func (rp *replayRun) more(ctx context.Context) ([]*sse.Message, error) {
	for {
		rp.release()
		if rp.done {
			return nil, nil
		}
		var msgs []*sse.Message
		var expired bool
		err := rp.e.retrying(ctx, func() (err error) {
			rp.release() // what a failed read reserved
			msgs, expired, err = rp.part(ctx, rp.next)
			return err
		})
		if err != nil {
			return nil, err
		}
		if expired {
			rp.release()
			return nil, fmt.Errorf("jetstream: replay: events after sequence %d expired from stream %s while the replay was written", rp.next, rp.e.opts.Stream)
		}
		if len(msgs) > 0 {
			return msgs, nil
		}
	}
}

// release gives back the bytes of the part held.
func (rp *replayRun) release() {
	rp.e.held.release(rp.holding)
	rp.holding = 0
}

// errTooBig: a source's next message does not fit in the bytes the part
// asked for; the part asks again for the largest message.
var errTooBig = errors.New("jetstream: replay: a message is larger than the part")

// part reads the next part: the messages on the replay's topics after
// sequence after, up to rp.last, at most replayBatch of them per source
// and e.partBytes bytes. It sets rp.next and rp.done, and reserves the
// part's bytes in e.held (rp.holding) until release. expired says some
// messages after after left the stream before they could be read.
func (rp *replayRun) part(ctx context.Context, after uint64) (msgs []*sse.Message, expired bool, err error) {
	e := rp.e
	// A part asks for replayPartBytes; one whose first message is larger
	// (NATS then sends nothing) asks again for the largest message. So
	// the budget holds a few dozen ordinary parts at once, not a few of
	// the largest size.
	want := min(replayPartBytes, e.partBytes)
	for {
		var size int64
		msgs, size, err = rp.read(ctx, after, want)
		switch {
		case errors.Is(err, errTooBig): // only when want < partBytes
			rp.release()
			want = e.partBytes
			continue
		case errors.Is(err, natsjs.ErrConsumerMultipleFilterSubjectsNotSupported) && len(rp.sources) == 1 && len(rp.sources[0].filters) > 1:
			rp.release()
			e.oneFilterOnly(err)
			rp.sources = e.sources(rp.sources[0].filters)
			continue
		case err != nil:
			return nil, false, err
		}
		// Keep what the part holds. Its frames may take more than NATS's
		// bytes (a line feed of data costs "data: " more): the excess is
		// taken without waiting, since this part holds room already.
		if size > rp.holding {
			e.held.force(size - rp.holding)
		} else {
			e.held.release(rp.holding - size)
		}
		rp.holding = size
		break
	}
	// A message that expired from the front of the stream before the
	// consumer reached it was skipped without a trace: if the front has
	// passed after+1, the part may miss some, and says so.
	info, err := e.stream.Info(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("jetstream: replay: reading stream %s: %w", e.opts.Stream, err)
	}
	if epochOf(info.Created) != e.epoch || info.State.FirstSeq > after+1 {
		return nil, true, nil
	}
	return msgs, false, nil
}

// read reserves the bytes of a part of want bytes (rp.holding), waits for
// a turn among Options.MaxReplays, and reads the part.
func (rp *replayRun) read(ctx context.Context, after uint64, want int) (msgs []*sse.Message, size int64, err error) {
	e := rp.e
	// Room first, then a turn: a part that waits for room holds neither
	// a consumer nor bytes. Merging holds a source's fetch besides what
	// the part keeps.
	reserve := int64(want)
	if len(rp.sources) > 1 {
		reserve *= 2
	}
	if err := e.held.acquire(ctx, reserve); err != nil {
		return nil, 0, fmt.Errorf("jetstream: replay: waiting for room among the %d bytes that replays may hold (Options.ReplayBytes): %w", e.held.limit, err)
	}
	rp.holding = reserve
	select { // wait for a turn: see Options.MaxReplays
	case e.replays <- struct{}{}:
	case <-ctx.Done():
		return nil, 0, fmt.Errorf("jetstream: replay: waiting for one of the %d replays in progress to end: %w", cap(e.replays), ctx.Err())
	}
	defer func() { <-e.replays }()
	return rp.merge(ctx, after, want)
}

// merge reads the part after sequence after from each source in turn and
// merges what they give (see Sources above). It sets rp.next, rp.done
// and the sources' from.
func (rp *replayRun) merge(ctx context.Context, after uint64, want int) (msgs []*sse.Message, size int64, err error) {
	cutoff := rp.last
	// dropped[s]: the first sequence of source s read but left out of
	// the part, beyond the cutoff; beyond[s]: the first one s has after
	// the cutoff it was read up to, if known.
	dropped := make(map[*source]uint64)
	beyond := make(map[*source]uint64)
	active := slices.DeleteFunc(slices.Clone(rp.sources), func(s *source) bool { return s.from > rp.last })
	// In the order of their next message: once a source starts after the
	// cutoff, so do those after it.
	slices.SortStableFunc(active, func(a, b *source) int { return cmp.Compare(a.from, b.from) })
	sourceOf := func(m *sse.Message) *source {
		if len(rp.sources) == 1 {
			return rp.sources[0]
		}
		f := subject(rp.e.opts.Subject, m.Topic)
		return rp.sources[slices.IndexFunc(rp.sources, func(s *source) bool { return s.filters[0] == f })]
	}
	// cut drops the messages after the cutoff, noting the first of each
	// source.
	cut := func() {
		i := len(msgs)
		for i > 0 && msgs[i-1].Seq > cutoff {
			i--
		}
		for _, m := range msgs[i:] {
			s := sourceOf(m)
			if d, ok := dropped[s]; !ok || m.Seq < d {
				dropped[s] = m.Seq
			}
			size -= int64(len(m.Frame)) + messageOverhead
		}
		clear(msgs[i:])
		msgs = msgs[:i]
	}
	var got []*sse.Message
	var gotSize int64
	for _, s := range active {
		start := max(s.from, after+1)
		if start > cutoff {
			break
		}
		var upTo, next uint64
		got, gotSize, upTo, next, err = rp.fetch(ctx, s, start, cutoff, want)
		if err != nil {
			return nil, 0, err
		}
		if next != 0 {
			beyond[s] = next
		}
		if upTo < cutoff { // s has more to give, maybe before the cutoff: the part ends where s's does
			cutoff = upTo
			cut()
		}
		if len(msgs) == 0 {
			msgs, size = got, gotSize
			continue
		}
		msgs = mergeBySeq(msgs, got)
		size += gotSize
		// Merged, the part may hold more than its bytes: it ends before
		// the first message that does not fit (the first is always kept).
		for size > int64(want) && len(msgs) > 1 {
			cutoff = msgs[len(msgs)-1].Seq - 1
			cut()
		}
	}
	for _, s := range rp.sources {
		next := cutoff + 1 // by default, s may have anything after the part
		if b, ok := beyond[s]; ok {
			next = b
			if d, ok := dropped[s]; ok {
				next = min(next, d)
			}
		}
		s.from = max(s.from, next)
	}
	rp.next, rp.done = cutoff, cutoff >= rp.last
	return msgs, size, nil
}

// mergeBySeq merges two lists of messages in Seq order, without a Seq in
// common, into one in Seq order.
func mergeBySeq(a, b []*sse.Message) []*sse.Message {
	out := make([]*sse.Message, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if a[0].Seq < b[0].Seq {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	return append(append(out, a...), b...)
}

// fetch reads source s from sequence start up to cutoff, at most
// replayBatch messages and maxBytes bytes, with a consumer of its own. It
// returns the messages and the bytes they hold, and upTo: s has no other
// message up to that sequence (the cutoff, unless the fetch ended
// first). If upTo is the cutoff, beyond is the first sequence s has after
// it (past rp.last if none); else 0. errTooBig when messages are pending
// but the first does not fit in maxBytes (if maxBytes is under
// e.partBytes).
func (rp *replayRun) fetch(ctx context.Context, s *source, start, cutoff uint64, maxBytes int) (msgs []*sse.Message, size int64, upTo, beyond uint64, err error) {
	e := rp.e
	cfg := natsjs.ConsumerConfig{
		// Named here, so that a consumer NATS made but the client
		// refused (several filters on NATS 2.9) can be deleted.
		Name:              "ssewasm-replay-" + rand.Text(),
		DeliverPolicy:     natsjs.DeliverByStartSequencePolicy,
		OptStartSeq:       start,
		AckPolicy:         natsjs.AckNonePolicy,
		MemoryStorage:     true,
		Replicas:          1,
		InactiveThreshold: 10 * time.Second, // in case the delete below fails
	}
	if len(s.filters) == 1 {
		cfg.FilterSubject = s.filters[0] // what NATS 2.9 knows
	} else {
		cfg.FilterSubjects = s.filters
	}
	cons, err := e.stream.CreateConsumer(ctx, cfg)
	if err != nil {
		if errors.Is(err, natsjs.ErrConsumerMultipleFilterSubjectsNotSupported) {
			rp.deleteConsumer(ctx, cfg.Name) // NATS made it, without the filters
		}
		return nil, 0, 0, 0, fmt.Errorf("jetstream: replay: creating a consumer on stream %s: %w", e.opts.Stream, err)
	}
	defer rp.deleteConsumer(ctx, cfg.Name)
	// The source's messages from start on, when the consumer was made;
	// then, after each message, those still after it.
	pending := cons.CachedInfo().NumPending
	beyond = rp.last + 1
	if pending == 0 {
		return nil, 0, cutoff, beyond, nil
	}
	// Fetch waits for the messages asked for, all stored, up to
	// replayWait. (FetchNoWait could answer nothing although they were
	// stored, on a consumer made a moment ago on a busy server: the soak
	// saw it.)
	batch, err := cons.Fetch(int(min(pending, replayBatch)), natsjs.FetchMaxWait(replayWait), natsjs.FetchMaxBytes(maxBytes))
	if err != nil {
		return nil, 0, 0, 0, fmt.Errorf("jetstream: replay: fetching from stream %s: %w", e.opts.Stream, err)
	}
	// The consumer numbers what it delivers 1, 2, 3…, and with AckNone a
	// message lost on its way (NATS cut a slow connection, say) counts
	// as delivered all the same: NumPending would not show it. A jump in
	// that number fails the part instead of skipping the message.
	var delivered, lastSeq uint64
	for m := range batch.Messages() {
		meta, err := m.Metadata()
		if err != nil {
			return nil, 0, 0, 0, fmt.Errorf("jetstream: replay: %w", err)
		}
		if delivered++; meta.Sequence.Consumer != delivered {
			return nil, 0, 0, 0, fmt.Errorf("jetstream: replay: the consumer delivered message %d after %d: some were lost on their way", meta.Sequence.Consumer, delivered-1)
		}
		seq := meta.Sequence.Stream
		if seq > cutoff {
			beyond = seq // past the end of the part: a later part, or live delivery, has it
			pending = 0
			break
		}
		pending, lastSeq = meta.NumPending, seq
		msg, err := e.decode(m, seq)
		if err != nil {
			e.log.Warn("jetstream: skipping a message not written by this engine", "err", err)
			continue
		}
		msgs = append(msgs, msg)
		size += int64(len(msg.Frame)) + messageOverhead
	}
	if err := batch.Error(); err != nil && !errors.Is(err, natsjs.ErrNoMessages) && !errors.Is(err, nats.ErrTimeout) {
		return nil, 0, 0, 0, fmt.Errorf("jetstream: replay: fetching from stream %s: %w", e.opts.Stream, err)
	}
	if delivered == 0 {
		if maxBytes < e.partBytes {
			// NATS sends nothing when the first message is over
			// maxBytes (nats.go hides its answer): the caller asks
			// again for more. The largest fetch failing is an error.
			return nil, 0, 0, 0, errTooBig
		}
		return nil, 0, 0, 0, fmt.Errorf("jetstream: replay: %d messages of %v are pending on stream %s from sequence %d, but a fetch gave none within %v", pending, s.filters, e.opts.Stream, start, replayWait)
	}
	if pending > 0 && lastSeq < cutoff {
		return msgs, size, lastSeq, 0, nil
	}
	return msgs, size, cutoff, beyond, nil
}

// deleteConsumer deletes a replay's consumer, even after ctx is done.
func (rp *replayRun) deleteConsumer(ctx context.Context, name string) {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opTimeout)
	defer cancel()
	rp.e.stream.DeleteConsumer(dctx, name) //nolint:errcheck // InactiveThreshold cleans up
}

// messageOverhead is what a replayed message holds besides its frame: the
// sse.Message, its ID and topic strings.
const messageOverhead = 128

// budget bounds the bytes held by replays: acquire waits for room.
type budget struct {
	limit int64

	mu   sync.Mutex
	used int64
	room chan struct{} // closed when bytes are released; nil when nobody waits
}

// acquire reserves n bytes (at most limit), waiting for room or ctx.
func (b *budget) acquire(ctx context.Context, n int64) error {
	n = min(n, b.limit)
	for {
		b.mu.Lock()
		if b.used+n <= b.limit {
			b.used += n
			b.mu.Unlock()
			return nil
		}
		if b.room == nil {
			b.room = make(chan struct{})
		}
		room := b.room
		b.mu.Unlock()
		select {
		case <-room:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// force reserves n bytes beyond the limit if need be.
func (b *budget) force(n int64) {
	b.mu.Lock()
	b.used += n
	b.mu.Unlock()
}

// release gives back n bytes.
func (b *budget) release(n int64) {
	if n <= 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	if b.room != nil {
		close(b.room)
		b.room = nil
	}
	b.mu.Unlock()
}

// inUse returns the bytes reserved now.
func (b *budget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}
