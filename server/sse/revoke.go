package sse

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"time"

	"github.com/ssewasm/ssewasm/shared/protocol"
)

// controlTopic carries the brokers' own messages through the engine, so
// that every broker sharing it, on every instance, sees them: MemoryEngine
// and JetStream carry it as any topic, with no change to Engine. Clients
// can neither subscribe to it nor publish to it (see checkReserved), and
// fan-out applies its messages instead of delivering them.
const controlTopic = "sse.control"

// The names of the control topic's events.
const (
	revokeEvent = "revoke" // a Revocation, as revocationMsg JSON
	onceEvent   = "once"   // a key of ConsumeOnce, as the data: remembered
)

// Every broker remembers the keys of ConsumeOnce it sees on the control
// topic for onceMemory, beyond the engine's own memory of idempotency
// keys, which MemoryEngine keeps only while their message is in its
// history: a busy history (10,000 events in seconds) would otherwise let
// a ticket be used again within its lifetime. At most maxOnceKeys are
// remembered (about 40 bytes each: a 64-bit hash and a time), against a
// flood of keys; over it, ConsumeOnce refuses new keys (ErrOnceFull)
// until old ones are forgotten, rather than forget a key too early.
const (
	onceMemory  = 5 * time.Minute
	maxOnceKeys = 1 << 20
)

// ErrOnceFull: the broker remembers maxOnceKeys keys of ConsumeOnce, all
// younger than its memory of them; retry later.
var ErrOnceFull = errors.New("sse: too many single-use keys consumed in the last minutes; retry later")

// onceKeys is what a broker remembers of ConsumeOnce's keys.
type onceKeys struct {
	mu     sync.Mutex
	seed   maphash.Seed
	seen   map[uint64]int64 // the key's hash → when it was seen, Unix nanoseconds
	pruned int64            // when seen was last pruned
}

// known reports whether key was consumed less than onceMemory ago.
func (o *onceKeys) known(key string, now int64) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.seen == nil {
		return false
	}
	at, ok := o.seen[maphash.String(o.seed, key)]
	return ok && now-at < int64(onceMemory)
}

// add remembers key, or returns ErrOnceFull.
func (o *onceKeys) add(key string, now int64) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.seen == nil {
		o.seed, o.seen = maphash.MakeSeed(), make(map[uint64]int64)
	}
	if len(o.seen) >= maxOnceKeys || now-o.pruned > int64(onceMemory)/4 {
		for h, at := range o.seen {
			if now-at >= int64(onceMemory) {
				delete(o.seen, h)
			}
		}
		o.pruned = now
		if len(o.seen) >= maxOnceKeys {
			return ErrOnceFull
		}
	}
	o.seen[maphash.String(o.seed, key)] = now
	return nil
}

// checkReserved refuses the control topic to clients and publishers.
func checkReserved(topic string) error {
	if topic == controlTopic {
		return fmt.Errorf("%w %s: it is reserved for the broker's own messages; pick another name", ErrInvalidTopic, topic)
	}
	return nil
}

// Revocation takes an identity's grants away: every stream of that
// session (or of that subject, signed in before the revocation), on
// every broker sharing the engine, becomes anonymous at once. See
// [Broker.Revoke].
type Revocation struct {
	// Subject revokes every session of this subject issued before the
	// revocation (Identity.Issued): a ban, a password change.
	Subject string
	// Session revokes one sign-in (Identity.Session): a sign-out. With
	// Subject as well, the session must be that subject's.
	Session string
	// Until is how long the brokers remember the revocation and refuse
	// the identity when a stream opens: set it to when the revoked
	// sessions' grants end at the latest (the longest a session can be
	// renewed to). Required.
	Until time.Time
}

// revocationMsg is a Revocation on the control topic.
type revocationMsg struct {
	Subject string `json:"subject,omitempty"`
	Session string `json:"session,omitempty"`
	At      int64  `json:"at"`    // when it was revoked, Unix nanoseconds: Issued before it is revoked
	Until   int64  `json:"until"` // Unix nanoseconds
}

// matches reports whether the revocation takes id's grants.
func (r revocationMsg) matches(id Identity) bool {
	switch {
	case r.Session != "" && id.Session != r.Session:
		return false
	case r.Subject != "" && id.Subject != r.Subject:
		return false
	case r.Session == "" && id.Issued.UnixNano() > r.At: // signed in again since
		return false
	}
	return true
}

// subjectRevocation is what the broker remembers of a subject's
// revocation.
type subjectRevocation struct{ at, until int64 }

// Revoke takes the grants of r's session or subject away, on every
// broker sharing the engine (every instance, with a distributed one):
// each of its streams becomes anonymous; Options.MayRead is asked again
// for each of its topics; the topics it may no longer read stop at once
// (nothing queued for them is written), and the stream gets the
// [protocol.RevokedEvent] naming them, while the others keep flowing on
// the same connection. A stream that lost every topic ends after that
// event. Until r.Until, a stream request with that identity is refused
// with 401 (ErrRevoked), and [Broker.Revoked] reports it.
//
// The revocation travels as a message on a topic reserved for the
// brokers, through [Engine.Publish]: it is applied here before Revoke
// returns, and elsewhere as soon as the engine delivers it. It counts
// in BrokerStats.Revocations once on each broker, and each stream it
// changed in BrokerStats.RevokedStreams.
func (b *Broker) Revoke(ctx context.Context, r Revocation) error {
	switch {
	case b.closed.Load():
		return fmt.Errorf("sse: revoke: %w", ErrClosed)
	case r.Subject == "" && r.Session == "":
		return errors.New("sse: revoke: the Revocation names neither a Subject nor a Session; name the one whose grants to take")
	case r.Until.IsZero():
		return errors.New("sse: revoke: Revocation.Until is zero; set it to when the revoked sessions' grants end at the latest")
	}
	m := revocationMsg{Subject: r.Subject, Session: r.Session, At: time.Now().UnixNano(), Until: r.Until.UnixNano()}
	data, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("sse: revoke: %w", err)
	}
	e := Event{Name: revokeEvent, Data: string(data)}
	if err := checkData(e.Data); err != nil { // a NUL in a subject
		return fmt.Errorf("sse: revoke: %w", err)
	}
	if _, err := b.engine.Publish(ctx, controlTopic, e); err != nil {
		return fmt.Errorf("sse: revoke: %w", err)
	}
	// At once here, whenever the engine brings it back: applying it
	// twice changes nothing the second time.
	b.applyRevocation(m)
	return nil
}

// Revoked reports whether a revocation this broker knows of (see
// [Broker.Revoke]) takes id's grants: for the app's other ways in, such
// as actions, and before it renews a session.
func (b *Broker) Revoked(id Identity) bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.revokedLocked(id, time.Now().UnixNano())
}

// revokedLocked is Revoked with b.mu held.
func (b *Broker) revokedLocked(id Identity, now int64) bool {
	if id.Session != "" {
		if until, ok := b.revokedSessions[id.Session]; ok && now < until {
			return true
		}
	}
	if id.Subject != "" {
		if r, ok := b.revokedSubjects[id.Subject]; ok && now < r.until && id.Issued.UnixNano() <= r.at {
			return true
		}
	}
	return false
}

// control applies a message of the control topic.
func (b *Broker) control(m *Message) {
	e, err := NewDecoder(bytes.NewReader(m.Frame)).Next()
	switch {
	case err != nil:
		return
	case e.Name == onceEvent:
		b.once.add(e.Data, time.Now().UnixNano()) //nolint:errcheck // full: the engine's memory still holds it for a while
		return
	case e.Name != revokeEvent:
		return // a message of a newer broker
	}
	var r revocationMsg
	if err := json.Unmarshal([]byte(e.Data), &r); err != nil || r.Subject == "" && r.Session == "" {
		b.opts.Logger.Warn("sse: ignoring a malformed revocation on the control topic", "id", m.ID, "err", err)
		return
	}
	b.applyRevocation(r)
}

// applyRevocation remembers r and makes every stream it matches
// anonymous (see Revoke).
func (b *Broker) applyRevocation(r revocationMsg) {
	now := time.Now().UnixNano()
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.remember(r, now) {
		return // applied already
	}
	b.stats.revocations.Add(1)
	for c := range b.clients {
		if !c.revoked && r.matches(c.info.Identity) {
			b.revokeClient(c)
		}
	}
}

// remember records r until r.Until, and reports whether it is news: not
// covered by one remembered already. It forgets the revocations whose
// Until has passed. b.mu is held for writing.
func (b *Broker) remember(r revocationMsg, now int64) bool {
	for s, until := range b.revokedSessions {
		if until <= now {
			delete(b.revokedSessions, s)
		}
	}
	for s, sr := range b.revokedSubjects {
		if sr.until <= now {
			delete(b.revokedSubjects, s)
		}
	}
	if r.Until <= now {
		return true // for the streams open now only
	}
	if r.Session != "" {
		if until, ok := b.revokedSessions[r.Session]; ok && until >= r.Until {
			return false
		}
		b.revokedSessions[r.Session] = r.Until
		return true
	}
	old, ok := b.revokedSubjects[r.Subject]
	if ok && old.at >= r.At && old.until >= r.Until {
		return false
	}
	b.revokedSubjects[r.Subject] = subjectRevocation{at: max(old.at, r.At), until: max(old.until, r.Until)}
	return true
}

// revokeClient makes c anonymous: it leaves the topics that
// Options.MayRead keeps from anonymous readers, and gets the
// protocol.RevokedEvent; it ends after it if it lost every topic. b.mu
// is held for writing.
func (b *Broker) revokeClient(c *client) {
	c.revoked = true
	b.untrackExpiry(c) // an anonymous identity never expires
	b.stats.revokedStreams.Add(1)
	lost := []string{}
	var mask uint64
	left := 0
	for i, t := range c.info.Topics {
		if c.slots[i] < 0 {
			continue
		}
		if b.opts.MayRead == nil || b.opts.MayRead(Identity{}, t) {
			left++
			continue
		}
		b.leaveTopic(c, i)
		mask |= 1 << i
		lost = append(lost, t)
	}
	// Before the event is queued: batches drop what is queued for those
	// topics.
	c.lost.Or(mask)
	data, _ := json.Marshal(protocol.Revoked{Topics: lost}) // strings only: cannot fail
	m := localFrame(protocol.RevokedEvent, data)
	if left == 0 {
		c.endWith(m, ErrRevoked)
		return
	}
	c.enqueue(m)
}

// ConsumeOnce reports whether key is consumed for the first time, on
// any broker sharing the engine: true once, false ever after, for at
// least 5 minutes, and as long as the engine remembers idempotency keys
// (see [Engine.PublishOnce]: JetStream for its Duplicates window). Use it
// for single-use tokens such as tickets, whose lifetime is shorter. key
// is an idempotency key (see [ValidIdempotencyKey]).
//
// It publishes on the brokers' reserved topic with
// [Engine.PublishOnce], which stores one message of a key however many
// brokers try at once; every broker that sees the message remembers the
// key. An error wrapping ErrOnceFull says this broker remembers too many
// keys of the last minutes to take another now.
func (b *Broker) ConsumeOnce(ctx context.Context, key string) (first bool, err error) {
	if b.closed.Load() {
		return false, fmt.Errorf("sse: consume once: %w", ErrClosed)
	}
	if err := checkIdempotencyKey(key); err != nil {
		return false, err
	}
	now := time.Now().UnixNano()
	if b.once.known(key, now) {
		return false, nil
	}
	_, dup, err := b.engine.PublishOnce(ctx, controlTopic, key, Event{Name: onceEvent, Data: key})
	if err != nil {
		return false, fmt.Errorf("sse: consume once: %w", err)
	}
	if dup {
		return false, nil
	}
	// Here at once, whenever the engine delivers it.
	if err := b.once.add(key, now); err != nil {
		return false, fmt.Errorf("sse: consume once: %w", err)
	}
	return true, nil
}
