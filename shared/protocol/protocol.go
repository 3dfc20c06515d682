// Package protocol holds the names and formats of ssewasm's event-stream
// protocol (docs/protocol.md) that the broker (server/sse) and the
// browser client (wasm/eventsource, wasm/ui) share: the reserved event
// names, the query parameters of a stream request, the event ID format
// and the gap reasons. It uses the standard library only, so the wasm
// binary can import it without linking server code.
//
// A client that resumes sends the last ID it saw; the server classifies
// it against its history:
//
//	epoch, seq, err := protocol.ParseID(lastEventID) // "k3x9q2ab-42" → "k3x9q2ab", 42
//	after, gap := protocol.Classify(lastEventID, epoch, first, last)
//	if gap != "" { /* send GapEvent with Gap{lastEventID, gap} */ }
package protocol

// Reserved event names. The broker sends them itself; publishing a name
// that starts with ReservedPrefix is refused.
const (
	// ReservedPrefix starts every event name the broker sends itself.
	ReservedPrefix = "sse."
	// GapEvent tells a client that its Last-Event-ID could not be replayed
	// exactly, so it should reload its state. Its data is a [Gap] in JSON;
	// its id is the newest event in the history, where the client resumes.
	GapEvent = "sse.gap"
	// HeartbeatEvent is the heartbeat sent, without an ID, to clients that
	// asked with HeartbeatParam=HeartbeatEventValue. Its data is the
	// server time, RFC 3339.
	HeartbeatEvent = "sse.heartbeat"
	// RevokedEvent tells a stream that its identity's grants were revoked
	// (a sign-out, a ban): it no longer receives the topics its data, a
	// [Revoked] in JSON, lists; the topics it may still read keep flowing
	// on the same stream. It has no ID. A stream that lost every topic ends
	// after it.
	RevokedEvent = "sse.revoked"
	// ExpiredEvent tells a stream that its identity's grants expired: the
	// stream ends after it, and nothing was delivered after the expiry.
	// Its data is an [Expired] in JSON; it has no ID, so the client's last
	// event ID is where it resumes. A client renews its session (docs/protocol.md)
	// and reopens with that ID: the replay gives every event since, on
	// every topic, none lost and none doubled.
	ExpiredEvent = "sse.expired"
)

// Query parameters of a stream request.
const (
	// TopicParam is the repeatable query parameter naming topics.
	TopicParam = "topic"
	// LastEventIDParam stands in for the Last-Event-ID header, which a
	// fresh EventSource cannot set. The header wins when both are present.
	LastEventIDParam = "lastEventId"
	// HeartbeatParam selects the heartbeat form: HeartbeatEventValue for
	// HeartbeatEvent, HeartbeatCommentValue (the default) for a comment
	// line, which browsers never surface.
	HeartbeatParam        = "heartbeat"
	HeartbeatEventValue   = "event"
	HeartbeatCommentValue = "comment"
)

// GapReason says why a Last-Event-ID could not be replayed: the "reason"
// of a [Gap].
type GapReason string

// The gap reasons.
const (
	// GapExpired: the ID is from this history, but events after it have
	// already left the history (by count or by age).
	GapExpired GapReason = "expired"
	// GapUnknown: the ID is well formed but from another epoch (a
	// previous run, another engine) or ahead of the history.
	GapUnknown GapReason = "unknown"
	// GapMalformed: the ID is not of the form <epoch>-<seq>.
	GapMalformed GapReason = "malformed"
	// GapUnavailable: the server could not read its history when the
	// client resumed (its engine failed: NATS unreachable, say), or
	// failed midway through the replay. The events after the ID may be
	// missing; live events follow.
	GapUnavailable GapReason = "unavailable"
)

// Revoked is the data of the RevokedEvent, in JSON.
type Revoked struct {
	// Topics are the stream's topics it no longer receives.
	Topics []string `json:"topics"`
}

// Expired is the data of the ExpiredEvent, in JSON.
type Expired struct {
	// Topics are the stream's topics, none of which it receives any more:
	// the stream ends.
	Topics []string `json:"topics"`
}

// Gap is the data of the GapEvent, in JSON.
type Gap struct {
	// LastEventID is the ID the client sent, cut to MaxIDLen bytes.
	LastEventID string `json:"lastEventId"`
	// Reason says why it could not be replayed.
	Reason GapReason `json:"reason"`
}

// Classify places lastEventID in a history of epoch whose oldest kept
// event has sequence number first and whose newest has last (first =
// last+1 when it is empty; last = 0 before the first event). It returns
// the sequence number to replay after, or why that is impossible: the
// one gap classification every engine uses.
func Classify(lastEventID, epoch string, first, last uint64) (after uint64, gap GapReason) {
	e, after, err := ParseID(lastEventID)
	switch {
	case err != nil:
		return 0, GapMalformed
	case e != epoch || after > last:
		return 0, GapUnknown
	case after+1 < first:
		return 0, GapExpired
	}
	return after, ""
}
