//go:build js && wasm

package eventsource_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ssewasm/ssewasm/shared/protocol"
	"github.com/ssewasm/ssewasm/wasm/eventsource"
	"github.com/ssewasm/ssewasm/wasm/eventsource/internal/ssetest"
)

// renewURL is the test server's POST /renew for this test's key, with
// params (see ssetest.Server).
func renewURL(t *testing.T, params ...string) string {
	t.Helper()
	u, _ := ssetest.URL(t, "/renew", params...)
	return u
}

// postRenew renews the test's session through u (see ssetest.Renew).
func postRenew(ctx context.Context, u string) error { return ssetest.Renew(ctx, u) }

// signIn starts a session for the test, as a sign-in would.
func signIn(t *testing.T) {
	t.Helper()
	if err := postRenew(t.Context(), renewURL(t)); err != nil {
		t.Fatal(err)
	}
}

// history returns the params of an /events history of n unnamed events
// d1 to dn.
func history(n int) []string {
	var p []string
	for i := 1; i <= n; i++ {
		p = append(p, "e", fmt.Sprintf(":d%d", i))
	}
	return p
}

// expectEvents waits for the unnamed events d<from> to d<to>, in order,
// each with its ID ep-<i>.
func expectEvents(t *testing.T, msgs *recorder[eventsource.Event], from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		m := msgs.next(t, fmt.Sprintf("event d%d", i))
		if want := fmt.Sprintf("d%d", i); m.Data != want || m.ID != fmt.Sprintf("ep-%d", i) {
			t.Fatalf("event %d = %q id %q, want %q id ep-%d (lost, doubled or reordered)", i, m.Data, m.ID, want, i)
		}
	}
}

// openRenewing opens u with credentials and a renewal that posts to
// renew; each renewal's outcome goes to the returned recorder (Renew runs
// on a goroutine of its own).
func openRenewing(t *testing.T, u, renew string) (src *eventsource.Source, states *recorder[eventsource.State], msgs *recorder[eventsource.Event], renewals *recorder[error]) {
	t.Helper()
	states, msgs, renewals = newRecorder[eventsource.State](), newRecorder[eventsource.Event](), newRecorder[error]()
	src = open(t, u, eventsource.Options{
		WithCredentials: true, // the test server is another origin
		Reopen:          noJitter,
		OnStateChange:   states.add,
		Renew: func(ctx context.Context) error {
			err := postRenew(ctx, renew)
			renewals.add(err)
			return err
		},
	})
	src.OnRaw("message", msgs.add)
	return src, states, msgs, renewals
}

// connSummary lists the connections of key as "status:session:header:query".
func connSummary(st streamStats) []string {
	var s []string
	for _, c := range st.Conns {
		s = append(s, fmt.Sprintf("%d:%d:%s:%s", c.Status, c.Session, c.Header, c.Query))
	}
	return s
}

// TestExpiryRenewResumes: the server's session expires twice on a stream of
// ten events (after the 4th and the 8th). Each time the Source closes the
// EventSource as sse.expired arrives (the browser never reconnects with
// the old cookie), calls Renew, which gets a fresh cookie, and reopens
// after the last ID: every event arrives once, in order, on three
// connections, each renewal before the connection it serves.
func TestExpiryRenewResumes(t *testing.T) {
	signIn(t)
	u, key := eventsURL(t, append(history(10), "expire", "4", "topic", "room", "topic", "user/alice")...)
	src, states, msgs, renewals := openRenewing(t, u, renewURL(t))
	expired := newRecorder[protocol.Expired]()
	src.OnExpired(expired.add)

	expectEvents(t, msgs, 1, 10)
	msgs.none(t, quiet, "event after the last")
	for i := range 2 {
		if got := expired.next(t, "expired event"); !slices.Equal(got.Topics, []string{"room", "user/alice"}) {
			t.Errorf("expired event %d: topics %q, want [room user/alice]", i+1, got.Topics)
		}
	}
	expired.none(t, 0, "third expired event")

	st := fetchStats(t, key)
	// No connection carries a Last-Event-ID header: the browser never
	// reconnected by itself, with the expired cookie or any other.
	if got, want := connSummary(st), []string{"200:1::", "200:2::ep-4", "200:3::ep-8"}; !slices.Equal(got, want) {
		t.Errorf("connections (status:session:Last-Event-ID:lastEventId) %q, want %q", got, want)
	}
	if len(st.Renewals) != 3 || len(st.Conns) != 3 {
		t.Fatalf("%d renewals, %d connections; want 3 (the sign-in and two renewals) and 3", len(st.Renewals), len(st.Conns))
	}
	for i := 1; i < 3; i++ {
		if r, c := st.Renewals[i].AtMS, st.Conns[i].AtMS; r > c {
			t.Errorf("renewal %d came %.1f ms after the connection it serves", i, r-c)
		}
	}
	if got, want := src.Stats(), (eventsource.SourceStats{Received: 12, Reconnects: 2, Reopens: 2, Renewals: 2, LastEventID: "ep-10"}); got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
	for i := range 2 {
		if err := renewals.next(t, "renewal"); err != nil {
			t.Errorf("renewal %d: %v", i+1, err)
		}
	}
	renewals.none(t, 0, "third renewal")
	o, c := eventsource.StateOpen, eventsource.StateConnecting
	expectStates(t, states, o, c, o, c, o)
}

// TestExpiryWithoutRenew: without Options.Renew, the Source closes the
// expired stream and probes it, as when the browser gives up; the server's
// 401 for the expired session puts it in StateFailed with the status. Once
// the session is renewed by hand, Reopen resumes after the last ID.
func TestExpiryWithoutRenew(t *testing.T) {
	signIn(t)
	u, key := eventsURL(t, append(history(8), "expire", "4")...)
	states := newRecorder[eventsource.State]()
	src := open(t, u, eventsource.Options{WithCredentials: true, Reopen: noJitter, OnStateChange: states.add})
	msgs := newRecorder[eventsource.Event]()
	src.OnRaw("message", msgs.add)
	expired := newRecorder[protocol.Expired]()
	src.OnExpired(expired.add)

	expectEvents(t, msgs, 1, 4)
	if got := expired.next(t, "expired event"); len(got.Topics) != 0 {
		t.Errorf("expired topics %q, want none (the stream has no topic parameter)", got.Topics)
	}
	expectStates(t, states, eventsource.StateOpen, eventsource.StateConnecting, eventsource.StateFailed)
	var se *eventsource.StatusError
	if err := src.Err(); !errors.As(err, &se) || se.Code != 401 {
		t.Fatalf("Err() = %v, want a *StatusError of 401", err)
	}
	if got, want := connSummary(fetchStats(t, key)), []string{"200:1::", "401:1::ep-4"}; !slices.Equal(got, want) {
		t.Errorf("connections %q, want %q: the stream, then the probe", got, want)
	}

	signIn(t)
	src.Reopen()
	expectEvents(t, msgs, 5, 8)
	if src.Stats().Renewals != 0 {
		t.Errorf("Stats().Renewals = %d, want 0 without Options.Renew", src.Stats().Renewals)
	}
}

// TestRenewFails: a Renew that fails puts the Source in StateFailed with a
// *RenewError that wraps Renew's error, without reopening; after a new
// sign-in, Reopen resumes exactly after the last ID.
func TestRenewFails(t *testing.T) {
	signIn(t)
	u, key := eventsURL(t, append(history(6), "expire", "3")...)
	src, states, msgs, renewals := openRenewing(t, u, renewURL(t, "status", "401"))

	expectEvents(t, msgs, 1, 3)
	expectStates(t, states, eventsource.StateOpen, eventsource.StateConnecting, eventsource.StateFailed)
	var re *eventsource.RenewError
	err, renewErr := src.Err(), renewals.next(t, "renewal")
	if !errors.As(err, &re) || renewErr == nil || !errors.Is(err, renewErr) {
		t.Fatalf("Err() = %v, want a *RenewError wrapping Renew's error %v", err, renewErr)
	}
	time.Sleep(quiet) // a reopen would come now
	st := fetchStats(t, key)
	if got, want := connSummary(st), []string{"200:1::"}; !slices.Equal(got, want) {
		t.Errorf("connections %q, want %q: no reopen after a failed renewal", got, want)
	}
	if len(st.Renewals) != 2 || st.Renewals[1].Status != 401 {
		t.Errorf("renewals %+v, want the sign-in and one refused renewal", st.Renewals)
	}

	signIn(t)
	src.Reopen()
	if got := states.next(t, "state after Reopen"); got != eventsource.StateConnecting {
		t.Errorf("state %v after Reopen, want connecting", got)
	}
	if src.Err() != nil {
		t.Errorf("Err() = %v after Reopen, want nil", src.Err())
	}
	expectEvents(t, msgs, 4, 6)
	if got, want := connSummary(fetchStats(t, key)), []string{"200:1::", "200:2::ep-3"}; !slices.Equal(got, want) {
		t.Errorf("connections %q, want %q", got, want)
	}
}

// TestCloseDuringRenewal: a Source closed while Renew is under way stays
// closed: Renew's context ends (its fetch is aborted), the Source does not
// reopen, and its js.Func is released.
func TestCloseDuringRenewal(t *testing.T) {
	signIn(t)
	u, key := eventsURL(t, append(history(4), "expire", "2")...)
	src, states, msgs, renewals := openRenewing(t, u, renewURL(t, "hold", "1"))
	expectEvents(t, msgs, 1, 2)
	waitStats(t, key, func(st streamStats) bool { return len(st.Renewals) == 2 }) // the held renewal
	src.Close()
	if err := renewals.next(t, "the end of Renew after Close"); !errors.Is(err, context.Canceled) {
		t.Errorf("Renew returned %v, want context.Canceled: Close ends its context", err)
	}
	time.Sleep(quiet) // a reopen would come now
	if got, want := connSummary(fetchStats(t, key)), []string{"200:1::"}; !slices.Equal(got, want) {
		t.Errorf("connections %q, want %q: the Source reopened after Close", got, want)
	}
	expectStates(t, states, eventsource.StateOpen, eventsource.StateConnecting, eventsource.StateClosed)
	states.none(t, 0, "state change after Close")
	if st := src.Stats(); st.Reopens != 0 || st.Renewals != 0 {
		t.Errorf("Stats() = %+v, want no reopen and no renewal", st)
	}
	if n := countReleasedCalls(t, func() { eventsource.DrainFunc(src).Invoke() }); n != 1 {
		t.Errorf("the drain was called %d times as a released js.Func, want 1: it is not released", n)
	}
	msgs.none(t, 0, "event after Close")
}

// TestRenewLoopBacksOff: a server whose sessions expire after every event
// gets each renewal that follows another within a second at least the
// reopen backoff after the connection that expired, growing, instead of
// a tight loop; every event still arrives once.
func TestRenewLoopBacksOff(t *testing.T) {
	signIn(t)
	u, key := eventsURL(t, append(history(4), "expire", "1")...)
	src, _, msgs, _ := openRenewing(t, u, renewURL(t)) // the backoff: 100 ms, doubling
	expectEvents(t, msgs, 1, 4)
	// Connection i (from 1) expires after event i, and renewal i (0: the
	// sign-in) follows: the first at once, the next ones, within a second
	// of the one before, after 100 ms, 200 ms, 400 ms. Connection 5 holds.
	st := waitStats(t, key, func(st streamStats) bool { return len(st.Conns) == 5 })
	for i, wait := range []float64{100, 200, 400} {
		conn, renewal := st.Conns[i+1], st.Renewals[i+2]
		if gap := renewal.AtMS - conn.AtMS; gap < wait {
			t.Errorf("renewal %d came %.1f ms after connection %d opened, before the backoff of %.0f ms", i+2, gap, i+2, wait)
		}
	}
	if got, want := connSummary(st), []string{"200:1::", "200:2::ep-1", "200:3::ep-2", "200:4::ep-3", "200:5::ep-4"}; !slices.Equal(got, want) {
		t.Errorf("connections %q, want %q", got, want)
	}
	if got := src.Stats().Renewals; got != 4 {
		t.Errorf("Stats().Renewals = %d, want 4", got)
	}
}

// TestRevoked: the server revokes two topics after the 3rd event; OnRevoked
// gets them, between the 3rd and the 4th event, and the other events keep
// arriving on the same connection. The revoked event has no ID: its
// Event.ID is the 3rd event's, the one a reopen would resume after.
func TestRevoked(t *testing.T) {
	u, key := eventsURL(t, append(history(6), "revokeat", "3", "revoked", "user/alice", "revoked", "private:alice")...)
	src := open(t, u, eventsource.Options{})
	seen := newRecorder[string]()
	src.OnRaw("message", func(e eventsource.Event) { seen.add(e.Data) })
	src.OnRevoked(func(r protocol.Revoked) { seen.add(fmt.Sprintf("revoked %q", r.Topics)) })
	raw := newRecorder[eventsource.Event]()
	src.OnRaw(protocol.RevokedEvent, raw.add)
	var got []string
	for range 7 {
		got = append(got, seen.next(t, "event"))
	}
	want := []string{"d1", "d2", "d3", `revoked ["user/alice" "private:alice"]`, "d4", "d5", "d6"}
	if !slices.Equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
	if e := raw.next(t, "raw revoked event"); e.ID != "ep-3" || e.Data != `{"topics":["user/alice","private:alice"]}` {
		t.Errorf("the revoked event: %+v, want ID ep-3 and the topics' JSON", e)
	}
	if st := fetchStats(t, key); st.Connects != 1 {
		t.Errorf("%d connections, want 1: the stream goes on after a revocation", st.Connects)
	}
	if got := src.ReadyState(); got != eventsource.StateOpen {
		t.Errorf("state %v, want open", got)
	}
}

// TestRevokedBadData: revoked and expired events whose data does not parse
// reach their handlers with no topics.
func TestRevokedBadData(t *testing.T) {
	u, _ := eventsURL(t, "e", "sse.revoked:not json", "e", "sse.expired:{", "e", ":after")
	src := open(t, u, eventsource.Options{Reopen: eventsource.ReopenPolicy{Disabled: true}})
	revoked := newRecorder[protocol.Revoked]()
	src.OnRevoked(revoked.add)
	expired := newRecorder[protocol.Expired]()
	src.OnExpired(expired.add)
	if got := revoked.next(t, "revoked event"); got.Topics != nil {
		t.Errorf("revoked topics %q, want none", got.Topics)
	}
	if got := expired.next(t, "expired event"); got.Topics != nil {
		t.Errorf("expired topics %q, want none", got.Topics)
	}
	// The expired event closed the stream: the event after it never comes,
	// and without Renew nor reopening the Source is closed.
	if got := src.ReadyState(); got != eventsource.StateClosed {
		t.Errorf("state %v, want closed (reopening disabled)", got)
	}
	if got := src.LastEventID(); got != "ep-2" {
		t.Errorf("LastEventID() = %q, want ep-2", got)
	}
}
