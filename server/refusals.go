package main

import (
	"slices"
	"sync/atomic"
)

// Requests and connections refused by a cap, by reason: each is
// counted in /metrics as ssewasm_refused_total{reason="..."}.
const (
	refusedMethod         = "method"          // an unknown method: 501
	refusedWebName        = "web_name"        // a /web/ name over 255 bytes: 404
	refusedConnCap        = "conn_cap"        // a connection over -max-conns: closed at once
	refusedPublishBusy    = "publish_busy"    // over -max-publishing: 503
	refusedPublishTimeout = "publish_timeout" // a body slower than -publish-read-timeout: 408
	refusedIdempotencyKey = "idempotency_key" // a /publish Idempotency-Key too long, not visible ASCII, or repeated: 400
	// over -publish-rate (per client address) or -publish-rate-global: 429
	refusedPublishRate       = "publish_rate"
	refusedPublishRateGlobal = "publish_rate_global"
	refusedHeaderSize        = "header_size" // request line and headers over -max-header-bytes: 431, from net/http

	// Sign-in and private topics (auth.go): the hostile cases of issue 21.
	refusedLoginRate      = "login_rate"      // sign-ins over -login-rate from one address: 429
	refusedLoginName      = "login_name"      // a sign-in without a valid name (demo.UserNames) or form: 400, 415
	refusedCrossSite      = "cross_site"      // a cross-site POST to /login, /logout, /session/renew or /ticket: 403
	refusedTopicName      = "topic_name"      // a stream topic outside its family's names or the topic syntax: 400
	refusedPublishPrivate = "publish_private" // a /publish to a private topic without the publish token: 403
	refusedSessionRevoked = "session_revoked" // a revoked session's cookie on an action, a renewal, a ticket or /session: 401
)

// identityReasons are the refusals of sign-in and private topics
// (TestHostileIdentity provokes each): ours, then package session's
// (session.Reason) of bad cookies and tickets, each counted where it is
// met: on a stream (which is then anonymous, or refused for a ticket),
// an action, a renewal.
var identityReasons = []string{
	refusedLoginRate,
	refusedLoginName,
	refusedCrossSite,
	refusedTopicName,
	refusedPublishPrivate,
	refusedSessionRevoked,
	"session_malformed",
	"session_unknown_key",
	"session_forged",
	"session_expired",
	"session_too_old",
	"session_ticket_expired",
	"session_ticket_replayed",
}

var refusedReasons = []string{
	refusedMethod,
	refusedWebName,
	refusedConnCap,
	refusedPublishBusy,
	refusedPublishTimeout,
	refusedIdempotencyKey,
	refusedPublishRate,
	refusedPublishRateGlobal,
	refusedHeaderSize,
	refusedTLSBusy,    // handshake.go
	refusedTLSTimeout, // handshake.go
}

// refusals counts refused requests and connections by reason.
type refusals struct{ n map[string]*atomic.Uint64 }

func newRefusals() *refusals {
	r := &refusals{n: make(map[string]*atomic.Uint64, len(refusedReasons)+len(identityReasons))}
	for _, reason := range slices.Concat(refusedReasons, identityReasons) {
		r.n[reason] = new(atomic.Uint64)
	}
	return r
}

func (r *refusals) add(reason string)          { r.n[reason].Add(1) }
func (r *refusals) count(reason string) uint64 { return r.n[reason].Load() }
