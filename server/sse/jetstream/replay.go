package jetstream

import (
	"context"
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
// topics: a short-lived consumer filtered on their subjects, so that a
// resumption after a flood on another topic does not pull the flood
// through NATS. It reads in parts: each part is one fetch, of at most
// replayBatch events and partBytes bytes, from a consumer of its own
// that starts after the last event of the part before, made and deleted
// around the fetch (the part's writing may take longer than NATS keeps an
// idle consumer). The broker writes a part before it asks for the next
// (sse.Replay.More), so a replay holds one part at a time, and the parts
// held by all replays stay within Options.ReplayBytes (Engine.held): a
// thousand clients resuming after a flood of 1 MiB events take at most
// that, not a thousand copies of the flood. Options.MaxReplays bounds
// the parts being read at once (consumers).
//
// A replay never ends short in silence: a fetch that gives fewer events
// than the consumer said were pending, or skips one (a jump in the
// consumer's own sequence), fails the part, and the client reconnects
// with the same Last-Event-ID. Events that expired from the front of the
// stream before their part was read make the first part a gap
// (sse.GapExpired), and a later part an error: the client reconnects
// after its last event and gets the gap then.

// replayBatch is how many messages one part asks for.
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

// Replay implements [sse.Engine]: it reads the stream after lastEventID's
// sequence, up to the stream's last sequence when Replay started, in
// parts (see above): the first in Messages, the others from More.
func (e *Engine) Replay(ctx context.Context, topics []string, lastEventID string) (sse.Replay, error) {
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
		r.Head = sse.FormatID(e.epoch, last)
	}
	var after uint64
	after, r.Gap = protocol.Classify(lastEventID, e.epoch, first, last)
	if r.Gap != "" || after == last {
		return r, nil
	}
	rp := &replayRun{e: e, topics: topics, last: last}
	for _, t := range topics {
		if f := subject(e.opts.Subject, t); !slices.Contains(rp.filters, f) { // NATS refuses a filter twice
			rp.filters = append(rp.filters, f)
		}
	}
	msgs, expired, err := rp.part(ctx, after)
	if err != nil || expired {
		rp.release()
		if err != nil {
			return sse.Replay{}, err
		}
		r.Gap = sse.GapExpired
		return r, nil
	}
	r.Messages, r.Release = msgs, rp.release
	if !rp.done {
		r.More = rp.more
	}
	return r, nil
}

// replayRun is one replay read in parts; the broker's goroutine for the
// stream calls its methods, one at a time.
type replayRun struct {
	e       *Engine
	topics  []string
	filters []string
	last    uint64 // Through: the replay ends there
	next    uint64 // the sequence the next part starts after
	done    bool   // nothing is left to read
	holding int64  // bytes reserved in e.held for the part being written
}

// more implements sse.Replay.More: the last part has been written, so its
// bytes are given back and the next part is read.
func (rp *replayRun) more(ctx context.Context) ([]*sse.Message, error) {
	rp.release()
	if rp.done {
		return nil, nil
	}
	msgs, expired, err := rp.part(ctx, rp.next)
	if err != nil {
		return nil, err
	}
	if expired {
		rp.release()
		return nil, fmt.Errorf("jetstream: replay: events after sequence %d expired from stream %s while the replay was written; the client should resume after its last event", rp.next, rp.e.opts.Stream)
	}
	return msgs, nil
}

// release gives back the bytes of the part held.
func (rp *replayRun) release() {
	rp.e.held.release(rp.holding)
	rp.holding = 0
}

// part reads the next part: the messages on the replay's topics after
// sequence after, up to rp.last, at most replayBatch of them and
// e.partBytes bytes. It sets rp.next and rp.done, and reserves the
// part's bytes in e.held (rp.holding) until release. expired says some
// messages after after left the stream before they could be read.
func (rp *replayRun) part(ctx context.Context, after uint64) (msgs []*sse.Message, expired bool, err error) {
	e := rp.e
	// A part asks for replayPartBytes; one whose first message is larger
	// (NATS then sends nothing) asks again for the largest message. So
	// the budget holds a few dozen ordinary parts at once, not a few of
	// the largest size.
	want := int64(min(replayPartBytes, e.partBytes))
	for {
		var size int64
		var tooBig bool
		msgs, size, tooBig, err = rp.read(ctx, after, want)
		if err != nil {
			return nil, false, err
		}
		if tooBig { // fetch says so only for a fetch under partBytes
			rp.release()
			want = int64(e.partBytes)
			continue
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

// read reserves want bytes (rp.holding), waits for a turn among
// Options.MaxReplays, and fetches a part of at most want bytes.
func (rp *replayRun) read(ctx context.Context, after uint64, want int64) (msgs []*sse.Message, size int64, tooBig bool, err error) {
	e := rp.e
	// Room first, then a consumer: a part that waits for room holds
	// neither a consumer nor bytes.
	if err := e.held.acquire(ctx, want); err != nil {
		return nil, 0, false, fmt.Errorf("jetstream: replay: waiting for room among the %d bytes that replays may hold (Options.ReplayBytes): %w", e.held.limit, err)
	}
	rp.holding = want
	select { // wait for a turn: see Options.MaxReplays
	case e.replays <- struct{}{}:
	case <-ctx.Done():
		return nil, 0, false, fmt.Errorf("jetstream: replay: waiting for one of the %d replays in progress to end: %w", cap(e.replays), ctx.Err())
	}
	defer func() { <-e.replays }()
	return rp.fetch(ctx, after, int(want))
}

// fetch reads one part, of at most maxBytes, with a consumer of its own,
// and returns its messages and the bytes they hold; tooBig when messages
// are pending but the first does not fit in maxBytes.
func (rp *replayRun) fetch(ctx context.Context, after uint64, maxBytes int) (msgs []*sse.Message, size int64, tooBig bool, err error) {
	e := rp.e
	cons, err := e.stream.CreateConsumer(ctx, natsjs.ConsumerConfig{
		DeliverPolicy:     natsjs.DeliverByStartSequencePolicy,
		OptStartSeq:       after + 1,
		FilterSubjects:    rp.filters,
		AckPolicy:         natsjs.AckNonePolicy,
		MemoryStorage:     true,
		Replicas:          1,
		InactiveThreshold: 10 * time.Second, // in case the delete below fails
	})
	if err != nil {
		return nil, 0, false, fmt.Errorf("jetstream: replay: creating a consumer on stream %s: %w", e.opts.Stream, err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opTimeout)
		defer cancel()
		e.stream.DeleteConsumer(dctx, cons.CachedInfo().Name) //nolint:errcheck // InactiveThreshold cleans up
	}()
	// The topics' messages from after+1 on, when the consumer was made;
	// then, after each message, those still after it.
	pending := cons.CachedInfo().NumPending
	rp.next = after
	if pending == 0 {
		rp.done = true
		return nil, 0, false, nil
	}
	// Fetch waits for the messages asked for, all stored, up to
	// replayWait. (FetchNoWait could answer nothing although they were
	// stored, on a consumer made a moment ago on a busy server: the soak
	// saw it.)
	batch, err := cons.Fetch(int(min(pending, replayBatch)), natsjs.FetchMaxWait(replayWait), natsjs.FetchMaxBytes(maxBytes))
	if err != nil {
		return nil, 0, false, fmt.Errorf("jetstream: replay: fetching from stream %s: %w", e.opts.Stream, err)
	}
	// The consumer numbers what it delivers 1, 2, 3…, and with AckNone a
	// message lost on its way (NATS cut a slow connection, say) counts
	// as delivered all the same: NumPending would not show it. A jump in
	// that number fails the part instead of skipping the message.
	var delivered uint64
	for m := range batch.Messages() {
		meta, err := m.Metadata()
		if err != nil {
			return nil, 0, false, fmt.Errorf("jetstream: replay: %w", err)
		}
		if delivered++; meta.Sequence.Consumer != delivered {
			return nil, 0, false, fmt.Errorf("jetstream: replay: the consumer delivered message %d after %d: some were lost on their way; the client should retry", meta.Sequence.Consumer, delivered-1)
		}
		seq := meta.Sequence.Stream
		pending = meta.NumPending
		if seq > rp.last {
			rp.done = true // past the end of the replay: live delivery has the rest
			break
		}
		rp.next = seq
		msg, err := e.decode(m, seq)
		if err != nil {
			e.log.Warn("jetstream: skipping a message not written by this engine", "err", err)
			continue
		}
		msgs = append(msgs, msg)
		size += int64(len(msg.Frame)) + messageOverhead
	}
	if err := batch.Error(); err != nil && !errors.Is(err, natsjs.ErrNoMessages) && !errors.Is(err, nats.ErrTimeout) {
		return nil, 0, false, fmt.Errorf("jetstream: replay: fetching from stream %s: %w", e.opts.Stream, err)
	}
	if delivered == 0 {
		if maxBytes < rp.e.partBytes {
			// NATS sends nothing when the first message is over
			// maxBytes (nats.go hides its answer): the caller asks
			// again for more. The largest fetch failing is an error.
			return nil, 0, true, nil
		}
		return nil, 0, false, fmt.Errorf("jetstream: replay: %d messages of %v are pending on stream %s after sequence %d, but a fetch gave none within %v; the client should retry", pending, rp.topics, e.opts.Stream, after, replayWait)
	}
	if pending == 0 || rp.next >= rp.last {
		rp.done = true
	}
	return msgs, size, false, nil
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
