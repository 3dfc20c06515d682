package sse

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/ssewasm/ssewasm/shared/protocol"
)

// Identity is who a stream or an action is for, as the application's own
// authentication found it (its session cookie, its OIDC library): the
// broker checks grants against it, it does not sign anyone in. The zero
// Identity is anonymous.
//
// Options.Identify gives a stream its identity when it opens;
// Options.MayRead decides which topics it may read, when the stream
// opens, when it replays, and again when [Broker.Revoke] takes the
// identity away. At Expires the stream gets the [protocol.ExpiredEvent]
// and ends.
type Identity struct {
	// Subject is who: a user name or ID; "" is anonymous.
	Subject string
	// Session names one sign-in of Subject, so that it can be revoked
	// alone (sign-out in one browser); "" when there is none.
	Session string
	// Issued is when that sign-in happened. A revocation of Subject ends
	// the sessions issued before it.
	Issued time.Time
	// Expires is when this identity's grants end (the session cookie's
	// expiry); zero: never.
	Expires time.Time
}

// Reasons a stream request is refused for its identity, or a stream
// ends because of it, passed to [Hooks] (wrapped, with what is wrong)
// and counted in [BrokerStats].
var (
	// ErrSignInRequired: an anonymous request named a topic that
	// Options.MayRead keeps from anonymous readers: 401 Unauthorized.
	ErrSignInRequired = errors.New("sse: this topic needs a signed-in reader")
	// ErrForbidden: a request's identity may not read a topic it named
	// (another user's): 403 Forbidden.
	ErrForbidden = errors.New("sse: this identity may not read this topic")
	// ErrRevoked: the request's session or subject was revoked
	// ([Broker.Revoke]): 401 Unauthorized until the revocation's Until.
	// Also the reason of a stream that lost every topic to a revocation.
	ErrRevoked = errors.New("sse: session revoked: sign in again")
	// ErrExpired: the request's identity has expired (Identity.Expires):
	// 401 Unauthorized. Also the reason of a stream ended at its
	// identity's expiry, after the [protocol.ExpiredEvent].
	ErrExpired = errors.New("sse: the session expired: renew it, then reconnect with the last event ID")
)

// expirySweep is how often the broker looks for streams whose identity
// has expired and that receive nothing (fan-out finds the others): so
// such a stream gets the protocol.ExpiredEvent within this of its expiry,
// with one goroutine for the broker and no timer per stream.
const expirySweep = 250 * time.Millisecond

// identify finds the identity of r, a request for topics, and checks
// that it may read them (Options.Identify, Options.MayRead). It returns
// the identity, or the status and the reason of a refusal.
func (b *Broker) identify(r *http.Request, topics []string) (Identity, int, error) {
	var id Identity
	if b.opts.Identify != nil {
		var err error
		if id, err = b.opts.Identify(r); err != nil {
			b.stats.refusedIdentify.Add(1)
			return Identity{}, statusOf(err, http.StatusUnauthorized), err
		}
	}
	if !id.Expires.IsZero() && !time.Now().Before(id.Expires) {
		b.stats.refusedExpired.Add(1)
		return Identity{}, http.StatusUnauthorized, ErrExpired
	}
	if b.opts.MayRead != nil {
		for _, t := range topics {
			switch {
			case b.opts.MayRead(id, t):
			case id.Subject == "":
				b.stats.refusedSignIn.Add(1)
				return Identity{}, http.StatusUnauthorized, fmt.Errorf("%w: topic %s; sign in (or renew an expired session), then reconnect", ErrSignInRequired, t)
			default:
				b.stats.refusedForbidden.Add(1)
				return Identity{}, http.StatusForbidden, fmt.Errorf("%w: topic %s is not for the signed-in user", ErrForbidden, t)
			}
		}
	}
	// The stream outlives the request: keep copies.
	id.Subject, id.Session = strings.Clone(id.Subject), strings.Clone(id.Session)
	return id, 0, nil
}

// trackExpiry starts following c's expiry, if its identity has one.
// b.mu is held for writing.
func (b *Broker) trackExpiry(c *client) {
	e := c.info.Identity.Expires
	if e.IsZero() {
		return
	}
	c.expires.Store(e.UnixNano())
	b.nExpiring.Add(1)
	if !b.sweeping {
		b.sweeping = true
		b.wg.Add(1)
		go b.sweepExpiries()
	}
}

// untrackExpiry stops following c's expiry. b.mu is held.
func (b *Broker) untrackExpiry(c *client) {
	if c.expires.Swap(0) != 0 {
		b.nExpiring.Add(-1)
	}
}

// expire ends c, whose identity expired at e (Unix nanoseconds): it
// queues the protocol.ExpiredEvent after what was published before the
// expiry, and nothing after it; the stream ends once that is written.
// Fan-out and the sweep may both find c expired: the first one ends it.
// b.mu is held (read or write).
func (b *Broker) expire(c *client, e int64) {
	if !c.expires.CompareAndSwap(e, 0) {
		return
	}
	b.nExpiring.Add(-1)
	b.stats.expired.Add(1)
	data, _ := json.Marshal(protocol.Expired{Topics: c.grantedTopics()}) // strings only: cannot fail
	c.endWith(localFrame(protocol.ExpiredEvent, data), ErrExpired)
}

// sweepExpiries runs from the first stream with an expiry until
// Shutdown: every expirySweep it ends the streams whose identity has
// expired, for those that fan-out does not reach (no traffic on their
// topics).
func (b *Broker) sweepExpiries() {
	defer b.wg.Done()
	t := time.NewTicker(expirySweep)
	defer t.Stop()
	for {
		select {
		case <-b.done:
			return
		case <-t.C:
		}
		if b.nExpiring.Load() == 0 {
			continue
		}
		now := time.Now().UnixNano()
		b.mu.RLock()
		for c := range b.clients {
			if e := c.expires.Load(); e != 0 && now >= e {
				b.expire(c, e)
			}
		}
		b.mu.RUnlock()
	}
}

// expireDue ends c if its identity has expired by now, and reports
// whether c is ending (expired, or lost every topic to a revocation): a
// replay in progress stops then.
func (b *Broker) expireDue(c *client) bool {
	if e := c.expires.Load(); e != 0 && time.Now().UnixNano() >= e {
		b.mu.RLock()
		b.expire(c, e)
		b.mu.RUnlock()
	}
	return c.ending()
}

// cutReplay stops a replay that c's end (expiry, revocation) interrupts:
// no live event follows it either, since the client's last event ID
// must stay where the replay stopped. What is queued for the end (the
// protocol.ExpiredEvent or RevokedEvent) carries no ID and still goes
// out.
func (c *client) cutReplay() { c.through = math.MaxUint64 }

// lostTopic reports whether c lost topic to a revocation, given lost, a
// load of c.lost.
func (c *client) lostTopic(topic string, lost uint64) bool {
	for i, t := range c.info.Topics {
		if t == topic {
			return lost&(1<<i) != 0
		}
	}
	return false
}

// grantedTopics returns the topics c still receives.
func (c *client) grantedTopics() []string {
	lost := c.lost.Load()
	out := make([]string, 0, len(c.info.Topics))
	for i, t := range c.info.Topics {
		if lost&(1<<i) == 0 {
			out = append(out, t)
		}
	}
	return out
}

// localFrame returns a message for one stream, without an ID, of the
// broker's reserved event name with JSON data.
func localFrame(name string, data []byte) *Message {
	frame, _ := AppendEvent(nil, Event{Name: name, Data: string(data)}) // a reserved name and JSON: valid
	return &Message{Frame: frame, local: true}
}
