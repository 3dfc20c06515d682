package main

import "sync/atomic"

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
)

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
	r := &refusals{n: make(map[string]*atomic.Uint64, len(refusedReasons))}
	for _, reason := range refusedReasons {
		r.n[reason] = new(atomic.Uint64)
	}
	return r
}

func (r *refusals) add(reason string)          { r.n[reason].Add(1) }
func (r *refusals) count(reason string) uint64 { return r.n[reason].Load() }
