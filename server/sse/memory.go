package sse

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ssewasm/ssewasm/shared/protocol"
)

// Defaults of [MemoryOptions].
const (
	DefaultHistorySize = 10000
	DefaultHistoryAge  = time.Hour
	// DefaultHistoryBytes bounds the encoded frames the history keeps:
	// with the default MaxEventSize, at least 64 of the largest events.
	DefaultHistoryBytes = 64 << 20
)

// MemoryOptions configure a [MemoryEngine]. The zero value of every
// field is its default, which the field documents; NewMemoryEngine
// panics on a negative one.
type MemoryOptions struct {
	// HistorySize is how many events the history keeps, across all
	// topics. 0 means DefaultHistorySize (10,000).
	HistorySize int
	// HistoryAge is how long an event stays in the history. 0 means
	// DefaultHistoryAge (1 hour).
	HistoryAge time.Duration
	// HistoryBytes bounds the bytes of the encoded frames the history
	// keeps (their wire size: a body of line feeds counts as the data
	// lines it becomes), with the idempotency keys of their publishes
	// (each key's length plus 96 bytes, what a key costs the engine
	// beyond its bytes); the oldest go first. The
	// newest event is kept whatever its size. 0 means
	// DefaultHistoryBytes (64 MiB).
	HistoryBytes int
	// Epoch names this history in event IDs (see [protocol.ValidEpoch]). "" means
	// 8 random characters: IDs from another run never match.
	Epoch string
	// Now is the clock for HistoryAge; nil means time.Now. Tests inject
	// one to expire events without sleeping.
	Now func() time.Time
}

// MemoryEngine is the in-process [Engine]: a ring buffer of the last
// HistorySize events, younger than HistoryAge, and synchronous delivery to
// its subscriptions, in the publishing goroutine, while it holds a lock
// that makes Seq order and delivery order the same. It starts no
// goroutines. An expired event is dropped at the next Publish or Replay.
//
// Idempotency keys ([MemoryEngine.PublishOnce]) live in a map beside the
// ring, one entry per event published with a key: a key is forgotten
// when its event leaves the history (by count, bytes or age), so the map
// never holds more than HistorySize keys, and their bytes count in
// HistoryBytes.
type MemoryEngine struct {
	epoch string
	size  int
	age   time.Duration
	max   int // HistoryBytes
	now   func() time.Time

	mu     sync.Mutex
	seq    uint64  // Seq of the newest message, 0 before the first
	ring   []entry // circular, allocated on first use
	start  int     // index of the oldest entry
	n      int     // entries in use
	bytes  int     // of the frames and keys of the entries in use
	subs   []*sub  // subscriptions, in the order they started
	closed bool
	// keys maps the idempotency key of each entry published with one
	// to its message; allocated on first use. An entry leaving the ring
	// takes its key out.
	keys  map[topicKey]*Message
	topic string // of the last publish, the engine's own copy (ownTopic)
}

type entry struct {
	msg *Message
	at  int64  // publish time, Unix nanoseconds
	key string // idempotency key, "" if none
}

// topicKey scopes an idempotency key to its topic.
type topicKey struct{ topic, key string }

// keyOverhead is what an idempotency key costs the memory engine beyond
// its bytes (its map slot and the rounding of its copy), as counted in
// MemoryOptions.HistoryBytes: 10,000 keys of 36 bytes measured 127
// bytes each, under the 132 counted.
const keyOverhead = 96

type sub struct{ deliver func(*Message) }

// NewMemoryEngine returns an engine with opts. It panics if a size or
// age is negative or the epoch is invalid: those are programming errors.
func NewMemoryEngine(opts MemoryOptions) *MemoryEngine {
	if err := opts.check(); err != nil {
		panic(err)
	}
	e := &MemoryEngine{epoch: opts.Epoch, size: opts.HistorySize, age: opts.HistoryAge, max: opts.HistoryBytes, now: opts.Now}
	if e.max == 0 {
		e.max = DefaultHistoryBytes
	}
	if e.size == 0 {
		e.size = DefaultHistorySize
	}
	if e.age == 0 {
		e.age = DefaultHistoryAge
	}
	if e.epoch == "" {
		e.epoch = newEpoch()
	}
	if e.now == nil {
		e.now = time.Now
	}
	return e
}

func (o MemoryOptions) check() error {
	switch {
	case o.HistorySize < 0:
		return fmt.Errorf("sse: MemoryOptions.HistorySize is %d; use a positive count, or 0 for the default %d", o.HistorySize, DefaultHistorySize)
	case o.HistoryBytes < 0:
		return fmt.Errorf("sse: MemoryOptions.HistoryBytes is %d; use a positive size, or 0 for the default %d", o.HistoryBytes, DefaultHistoryBytes)
	case o.HistoryAge < 0:
		return fmt.Errorf("sse: MemoryOptions.HistoryAge is %v; use a positive duration, or 0 for the default %v", o.HistoryAge, DefaultHistoryAge)
	case o.Epoch != "" && !protocol.ValidEpoch(o.Epoch):
		return fmt.Errorf("sse: MemoryOptions.Epoch %s is invalid; use 1 to 64 ASCII letters, digits or '_', or \"\" for a random one", clip(o.Epoch))
	}
	return nil
}

// Epoch returns the engine's epoch, the first part of its IDs.
func (m *MemoryEngine) Epoch() string { return m.epoch }

// Publish implements [Engine]. The event is encoded before the lock is
// taken; under it, only the ID line is added.
func (m *MemoryEngine) Publish(ctx context.Context, topic string, e Event) (*Message, error) {
	msg, _, err := m.publish(ctx, topic, "", e)
	return msg, err
}

// PublishOnce implements [Engine]: the key is looked up and stored under
// the lock that assigns Seq, so of concurrent publishes with one key
// exactly one is stored. A key is remembered while its event is in the
// history.
func (m *MemoryEngine) PublishOnce(ctx context.Context, topic, key string, e Event) (msg *Message, dup bool, err error) {
	if key == "" {
		return nil, false, fmt.Errorf("%w: it is empty; use Publish to publish without one", ErrInvalidIdempotencyKey)
	}
	return m.publish(ctx, topic, key, e)
}

// publish is Publish, with an idempotency key unless key is "".
func (m *MemoryEngine) publish(ctx context.Context, topic, key string, e Event) (*Message, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, fmt.Errorf("sse: publish: %w", err)
	}
	e.ID = ""
	body, err := AppendEvent(make([]byte, 0, frameSize(e)), e)
	if err != nil {
		return nil, false, err
	}
	// A retry line comes before the id line (see AppendEvent).
	split := 0
	if e.Retry > 0 {
		split = bytes.IndexByte(body, '\n') + 1
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, false, fmt.Errorf("sse: publish: memory engine: %w", ErrClosed)
	}
	now := m.now().UnixNano()
	m.trim(now) // an expired event's key is forgotten with it
	if key != "" {
		if first := m.keys[topicKey{topic, key}]; first != nil {
			return first, true, nil
		}
		key = strings.Clone(key) // kept: hold none of the caller's memory
	}
	topic = m.ownTopic(topic)
	seq := m.seq + 1
	frame := make([]byte, 0, len(body)+len(m.epoch)+26)
	frame = append(frame, body[:split]...)
	frame = append(frame, "id: "...)
	idStart := len(frame)
	frame = append(frame, m.epoch...)
	frame = append(frame, '-')
	frame = strconv.AppendUint(frame, seq, 10)
	id := string(frame[idStart:]) // == protocol.FormatID(m.epoch, seq)
	frame = append(frame, '\n')
	frame = append(frame, body[split:]...)
	msg := &Message{Topic: topic, Seq: seq, ID: id, Frame: frame}

	if m.ring == nil {
		m.ring = make([]entry, m.size)
	}
	if m.n == m.size { // full: overwrite the oldest
		m.dropOldest()
	}
	m.ring[(m.start+m.n)%m.size] = entry{msg: msg, at: now, key: key}
	m.n++
	m.bytes += entryBytes(len(frame), key)
	if key != "" {
		if m.keys == nil {
			m.keys = make(map[topicKey]*Message)
		}
		m.keys[topicKey{topic, key}] = msg
	}
	for m.bytes > m.max && m.n > 1 {
		m.dropOldest()
	}
	m.seq = seq
	for _, s := range m.subs {
		s.deliver(msg)
	}
	return msg, false, nil
}

// ownTopic returns topic in memory of the engine's own: the caller's
// string may be part of a larger one (a request's query) that the
// history must not keep alive. Publishes on the topic of the previous
// one, the common case, share its copy. m.mu is held.
func (m *MemoryEngine) ownTopic(topic string) string {
	if topic != m.topic {
		m.topic = strings.Clone(topic)
	}
	return m.topic
}

// entryBytes is what an entry counts in HistoryBytes: its frame, and its
// key if it has one.
func entryBytes(frame int, key string) int {
	if key == "" {
		return frame
	}
	return frame + len(key) + keyOverhead
}

// trim drops the entries older than the age bound. m.mu is held.
func (m *MemoryEngine) trim(now int64) {
	cutoff := now - int64(m.age)
	for m.n > 0 && m.ring[m.start].at < cutoff {
		m.dropOldest()
	}
}

// dropOldest drops the oldest entry. m.mu is held and m.n > 0.
func (m *MemoryEngine) dropOldest() {
	old := m.ring[m.start]
	m.bytes -= entryBytes(len(old.msg.Frame), old.key)
	if old.key != "" {
		delete(m.keys, topicKey{old.msg.Topic, old.key})
	}
	m.ring[m.start] = entry{}
	m.start = (m.start + 1) % m.size
	m.n--
}

// HistoryBytes returns the bytes the history holds now, as
// MemoryOptions.HistoryBytes counts them: frames, and keys with their
// overhead.
func (m *MemoryEngine) HistoryBytes() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.bytes
}

// Subscribe implements [Engine]. deliver runs in Publish's goroutine,
// under the engine's lock: it must be quick and must not call the engine.
func (m *MemoryEngine) Subscribe(deliver func(*Message)) (cancel func(), err error) {
	s := &sub{deliver: deliver}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, fmt.Errorf("sse: subscribe: memory engine: %w", ErrClosed)
	}
	m.subs = append(m.subs, s)
	return func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if i := slices.Index(m.subs, s); i >= 0 {
			m.subs = slices.Delete(slices.Clip(m.subs), i, i+1)
		}
	}, nil
}

// Replay implements [Engine].
func (m *MemoryEngine) Replay(ctx context.Context, topics []string, lastEventID string) (Replay, error) {
	if err := ctx.Err(); err != nil {
		return Replay{}, fmt.Errorf("sse: replay: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.trim(m.now().UnixNano())
	r := Replay{Through: m.seq}
	if m.seq > 0 {
		r.Head = protocol.FormatID(m.epoch, m.seq)
	}
	first := m.seq - uint64(m.n) + 1 // Seq of the oldest entry kept
	var after uint64
	after, r.Gap = protocol.Classify(lastEventID, m.epoch, first, m.seq)
	if r.Gap != "" || after == m.seq {
		return r, nil
	}
	// The entries after `after` are the last m.seq-after ones.
	k := int(m.seq - after)
	for i := m.n - k; i < m.n; i++ {
		msg := m.ring[(m.start+i)%m.size].msg
		if slices.Contains(topics, msg.Topic) {
			r.Messages = append(r.Messages, msg)
		}
	}
	return r, nil
}

// Close ends every subscription; later Publish and Subscribe calls return
// ErrClosed. Replay still reads the history. Close is idempotent and
// always returns nil.
func (m *MemoryEngine) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	m.subs = nil
	return nil
}
