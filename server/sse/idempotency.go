package sse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
)

// MaxIdempotencyKeyLen is the longest idempotency key, in bytes.
const MaxIdempotencyKeyLen = 256

var (
	// ErrInvalidIdempotencyKey: the key is empty, longer than
	// [MaxIdempotencyKeyLen] or has a byte that is not visible ASCII.
	ErrInvalidIdempotencyKey = errors.New("sse: invalid idempotency key")
	// ErrIdempotencyKeyReused: the key was first used for another event
	// on the topic (another name, data or retry). Nothing was published.
	ErrIdempotencyKeyReused = errors.New("sse: idempotency key reused for another event")
)

// ValidIdempotencyKey reports whether s can be an idempotency key: 1 to
// [MaxIdempotencyKeyLen] bytes of visible ASCII ('!' to '~': a UUID, a
// hash, a quoted string; no spaces or control characters). Engines may
// carry keys in protocol headers, such as JetStream's Nats-Msg-Id.
func ValidIdempotencyKey(s string) bool { return checkIdempotencyKey(s) == nil }

func checkIdempotencyKey(s string) error {
	if s == "" {
		return fmt.Errorf("%w: it is empty; leave it out to publish without one", ErrInvalidIdempotencyKey)
	}
	if len(s) > MaxIdempotencyKeyLen {
		return fmt.Errorf("%w: %d bytes, the limit is %d; use a UUID or a hash", ErrInvalidIdempotencyKey, len(s), MaxIdempotencyKeyLen)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < '!' || c > '~' {
			return fmt.Errorf("%w %s: byte %d is %q; use visible ASCII only, such as a UUID", ErrInvalidIdempotencyKey, clip(s), i, c)
		}
	}
	return nil
}

// PublishOptions are the optional settings of one [Broker.PublishWith].
// The zero value publishes as [Broker.Publish] does.
type PublishOptions struct {
	// IdempotencyKey, when not "", makes the publish safe to retry: if
	// an event was published with the same key on the same topic and
	// is still in the history, nothing is stored or delivered, and the
	// result carries that first event's ID with Duplicate set. The key
	// is scoped to the topic: one key on two topics publishes two
	// events. Once the event has left the history (count, bytes or
	// age), the key is forgotten and a publish with it stores a new
	// event (JetStream remembers keys for its Duplicates window
	// instead). See [ValidIdempotencyKey] for the syntax.
	IdempotencyKey string
}

// Published is what [Broker.PublishWith] did.
type Published struct {
	// ID is the event's ID; for a duplicate, the first event's.
	ID string
	// Duplicate reports that IdempotencyKey was seen: ID is the first
	// publish's, and this one stored and delivered nothing.
	Duplicate bool
}

// PublishWith is [Broker.Publish] with options. With an IdempotencyKey,
// a publish retried after a lost answer (a timeout, a dropped
// connection, another instance) is stored once, and every try gets the
// same ID. The event is checked as for Publish, duplicate or not. A key
// first used for another event on the topic (other name, data or retry)
// is refused with an error wrapping [ErrIdempotencyKeyReused], so a
// client that reuses keys by mistake does not lose its second event in
// silence. Duplicates count in BrokerStats.Deduplicated, not BrokerStats.Published.
func (b *Broker) PublishWith(ctx context.Context, topic string, e Event, opts PublishOptions) (Published, error) {
	if b.closed.Load() {
		return Published{}, fmt.Errorf("sse: publish: %w", ErrClosed)
	}
	topic, err := b.check(topic, e)
	if err != nil {
		return Published{}, err
	}
	key := opts.IdempotencyKey
	if key == "" {
		m, err := b.engine.Publish(ctx, topic, e)
		if err != nil {
			return Published{}, err
		}
		b.stats.published.Add(1)
		b.waitForLagging(ctx, topic)
		return Published{ID: m.ID}, nil
	}
	if err := checkIdempotencyKey(key); err != nil {
		return Published{}, err
	}
	m, dup, err := b.engine.PublishOnce(ctx, topic, key, e)
	if err != nil {
		return Published{}, err
	}
	if !dup {
		b.stats.published.Add(1)
		b.waitForLagging(ctx, topic)
		return Published{ID: m.ID}, nil
	}
	if m.Frame != nil && !sameEvent(m, e) {
		return Published{}, fmt.Errorf("%w: %s was first used on topic %s for event %s, with another name, data or retry; use a new key for a new event", ErrIdempotencyKeyReused, clip(key), topic, m.ID)
	}
	b.stats.deduplicated.Add(1)
	return Published{ID: m.ID, Duplicate: true}, nil
}

// sameEvent reports whether e, given m's ID, encodes to m's frame.
func sameEvent(m *Message, e Event) bool {
	e.ID = m.ID
	frame, err := AppendEvent(make([]byte, 0, len(m.Frame)), e)
	return err == nil && bytes.Equal(frame, m.Frame)
}
