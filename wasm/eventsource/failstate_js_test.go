//go:build js && wasm

package eventsource_test

import (
	"errors"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"syscall/js"
	"testing"
	"time"

	"github.com/ssewasm/ssewasm/wasm/eventsource"
)

// watchProbes wraps window.fetch to record the Source's status probes (the
// fetches that ask for text/event-stream): their URL, credentials mode,
// whether they settled and whether their AbortController was aborted.
// count and done take the part of the URL that picks a test's probes ("":
// every probe), so that parallel subtests can share one watch.
func watchProbes(t *testing.T) js.Value {
	t.Helper()
	w := jsFunc(`
const orig = window.fetch, probes = [];
window.fetch = function (url, init) {
	const p = orig.apply(this, arguments);
	if (init?.headers?.Accept === "text/event-stream") {
		const rec = { url: String(url), credentials: init.credentials, signal: init.signal, settled: false };
		probes.push(rec);
		p.then(() => { rec.settled = true; }, () => { rec.settled = true; });
	}
	return p;
};
return {
	restore() { window.fetch = orig; },
	count(part = "") { return probes.filter(r => r.url.includes(part)).length; },
	// done: every probe settled and had its body aborted.
	done(part = "") { return probes.filter(r => r.url.includes(part)).every(r => r.settled && r.signal.aborted); },
	at(i) { return probes[i]; },
	credentials(part) { return probes.find(r => r.url.includes(part))?.credentials ?? ""; },
};`).Invoke()
	t.Cleanup(func() { w.Call("restore") })
	return w
}

// phrases are the reason phrases Go's server sends, which the browser's
// Response.statusText holds over HTTP/1.1.
var phrases = map[int]string{
	204: "No Content", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
	404: "Not Found", 405: "Method Not Allowed", 410: "Gone", 501: "Not Implemented",
}

// TestFailedOnPermanentStatus: a stream answered with a status that will
// not change makes the browser give up; the Source probes the status once,
// reports StateFailed with the status, and does not reopen within a
// backoff window in which it would have reopened several times.
func TestFailedOnPermanentStatus(t *testing.T) {
	probes := watchProbes(t) // shared: restored after the parallel subtests
	for _, code := range []int{400, 401, 403, 404, 405, 204, 410, 501} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			t.Parallel()
			u, key := streamURL(t, "status", strconv.Itoa(code))
			mine := "key=" + url.QueryEscape(key) + "&" // the URL's next parameter follows
			states := newRecorder[eventsource.State]()
			src := open(t, u, eventsource.Options{Reopen: noJitter, OnStateChange: states.add})
			errs := newRecorder[eventsource.State]()
			src.OnError(errs.add)
			if got := errs.next(t, "error event"); got != eventsource.StateConnecting {
				t.Errorf("OnError state = %v, want connecting: the probe decides", got)
			}
			if got := states.next(t, "state change"); got != eventsource.StateFailed {
				t.Fatalf("state = %v, want failed", got)
			}
			var se *eventsource.StatusError
			if !errors.As(src.Err(), &se) {
				t.Fatalf("Err() = %v, want a *StatusError", src.Err())
			}
			if want := (eventsource.StatusError{Code: code, Status: strconv.Itoa(code) + " " + phrases[code], URL: u}); *se != want {
				t.Errorf("Err() = %+v, want %+v", *se, want)
			}
			if msg := se.Error(); !strings.Contains(msg, strconv.Itoa(code)) || !strings.Contains(msg, "Reopen") {
				t.Errorf("Err().Error() = %q: it should name the status and what to do", msg)
			}
			// Open, the Source would reopen after 100, 200 and 400 ms.
			time.Sleep(quiet + 300*time.Millisecond)
			st := fetchStats(t, key)
			if st.Connects != 2 {
				t.Fatalf("%d requests, want 2: the stream and one probe", st.Connects)
			}
			if got := st.Conns[1].Accept; got != "text/event-stream" {
				t.Errorf("the probe sent Accept %q, want text/event-stream", got)
			}
			if n := probes.Call("count", mine).Int(); n != 1 || !probes.Call("done", mine).Bool() {
				t.Errorf("%d probes, all settled and aborted: %v; want 1, true", n, probes.Call("done", mine).Bool())
			}
			if got := probes.Call("credentials", mine).String(); got != "same-origin" {
				t.Errorf("probe credentials %q, want same-origin, as the EventSource's", got)
			}
			if st := src.Stats(); st.Reopens != 0 || src.ReadyState() != eventsource.StateFailed {
				t.Errorf("after the window: %d reopens, state %v; want 0, failed", st.Reopens, src.ReadyState())
			}
			states.none(t, 0, "state change after failed")
		})
	}
}

// TestFailedProbeResumes: the probe asks the URL the reopen would open,
// with the lastEventId parameter and the EventSource's credentials mode.
func TestFailedProbeResumes(t *testing.T) {
	probes := watchProbes(t)
	u, key := eventsURL(t, "e", ":a", "e", ":b", "drop", "2", "fail", "2-100", "failstatus", "401")
	states := newRecorder[eventsource.State]()
	src := open(t, u, eventsource.Options{WithCredentials: true, Reopen: noJitter, OnStateChange: states.add})
	msgs := newRecorder[eventsource.Event]()
	src.OnRaw("message", msgs.add)
	msgs.next(t, "event a")
	msgs.next(t, "event b")
	for s := eventsource.StateOpen; s != eventsource.StateFailed; {
		s = states.next(t, "failed state")
	}
	var se *eventsource.StatusError
	if !errors.As(src.Err(), &se) || se.Code != 401 || !strings.Contains(se.URL, "lastEventId=ep-2") {
		t.Fatalf("Err() = %v, want a 401 StatusError for the URL with lastEventId=ep-2", src.Err())
	}
	time.Sleep(quiet)
	st := fetchStats(t, key)
	// The stream, the browser's reconnection (401: it gives up), the probe.
	if st.Connects != 3 || st.Conns[1].Header != "ep-2" || st.Conns[2].Query != "ep-2" {
		t.Fatalf("requests %+v, want 3: the stream, the browser's reconnection with Last-Event-ID ep-2, the probe with lastEventId=ep-2", st.Conns)
	}
	if got := probes.Call("at", 0).Get("credentials").String(); got != "include" {
		t.Errorf("probe credentials %q, want include (WithCredentials)", got)
	}
}

// TestFailedReopen: Reopen tries again from StateFailed (and from
// StateClosed with reopening disabled, which probes nothing); after Close
// it does nothing.
func TestFailedReopen(t *testing.T) {
	t.Run("failed", func(t *testing.T) {
		u, key := streamURL(t, "status", "403")
		states := newRecorder[eventsource.State]()
		src := open(t, u, eventsource.Options{Reopen: noJitter, OnStateChange: states.add})
		if got := states.next(t, "state change"); got != eventsource.StateFailed {
			t.Fatalf("state = %v, want failed", got)
		}
		src.Reopen()
		if got := states.next(t, "state change"); got != eventsource.StateConnecting || src.Err() != nil {
			t.Errorf("after Reopen: state %v, Err() %v; want connecting, nil", got, src.Err())
		}
		if got := states.next(t, "state change"); got != eventsource.StateFailed || src.Err() == nil {
			t.Errorf("after the reopen's 403: state %v, Err() %v; want failed again", got, src.Err())
		}
		if st := fetchStats(t, key); st.Connects != 4 || src.Stats().Reopens != 1 {
			t.Errorf("%d requests, %d reopens; want 4 (stream and probe, twice), 1", st.Connects, src.Stats().Reopens)
		}
		src.Close()
		src.Reopen()
		time.Sleep(quiet)
		if st := fetchStats(t, key); st.Connects != 4 || src.ReadyState() != eventsource.StateClosed {
			t.Errorf("Reopen after Close: %d requests, state %v; want 4, closed", st.Connects, src.ReadyState())
		}
	})
	t.Run("reopenDisabled", func(t *testing.T) {
		probes := watchProbes(t)
		u, key := streamURL(t, "status", "404")
		states := newRecorder[eventsource.State]()
		src := open(t, u, eventsource.Options{Reopen: eventsource.ReopenPolicy{Disabled: true}, OnStateChange: states.add})
		if got := states.next(t, "state change"); got != eventsource.StateClosed || src.Err() != nil {
			t.Fatalf("state %v, Err() %v; want closed, nil: no probe without reopening", got, src.Err())
		}
		src.Reopen()
		states.next(t, "connecting")
		if got := states.next(t, "state change"); got != eventsource.StateClosed {
			t.Errorf("state %v after the reopen's 404, want closed", got)
		}
		if st := fetchStats(t, key); st.Connects != 2 || probes.Call("count").Int() != 0 {
			t.Errorf("%d requests, %d probes; want 2, 0", st.Connects, probes.Call("count").Int())
		}
	})
}

// TestKeepsReopening: statuses that may pass, a probe refused by CORS and
// a probe that meets a network error keep the Source reopening with
// backoff; Retry-After, when the page may read it, delays the reopen.
func TestKeepsReopening(t *testing.T) {
	probes := watchProbes(t) // shared: restored after the parallel subtests
	for _, tc := range []struct {
		name   string
		params []string
		minGap time.Duration // from the probe to the reopen; 0: not checked
	}{
		{"500", []string{"status", "500"}, 100 * time.Millisecond},
		{"503", []string{"status", "503"}, 100 * time.Millisecond},
		{"503RetryAfter", []string{"status", "503", "retryafter", "1"}, time.Second},
		{"429RetryAfter", []string{"status", "429", "retryafter", "1"}, time.Second},
		{"404RefusedByCORS", []string{"status", "404", "cors", "0"}, 100 * time.Millisecond},
		// The stream answers 404; the probe and the reopen find no server.
		// (Chromium retries a request whose connection closed unanswered, so
		// the server sees more requests than the probe.)
		{"404ProbeNetworkError", []string{"status", "404", "hangup", "2-100"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u, key := streamURL(t, tc.params...)
			mine := "key=" + url.QueryEscape(key) + "&" // the URL's next parameter follows
			states := newRecorder[eventsource.State]()
			src := open(t, u, eventsource.Options{Reopen: noJitter, OnStateChange: states.add})
			deadline := time.Now().Add(waitTimeout)
			for src.Stats().Reopens < 1 {
				if time.Now().After(deadline) {
					t.Fatalf("no reopen within %v; state %v", waitTimeout, src.ReadyState())
				}
				time.Sleep(10 * time.Millisecond)
			}
			if tc.minGap > 0 {
				st := waitStats(t, key, func(st streamStats) bool { return st.Connects >= 3 })
				probe, reopen := st.Conns[1], st.Conns[2]
				gap := time.Duration((reopen.AtMS - probe.AtMS) * float64(time.Millisecond))
				// A lower bound only: a timer never fires early, but a
				// loaded machine may run it late.
				if gap < tc.minGap {
					t.Errorf("the reopen came %v after the probe, before the %v it must wait", gap, tc.minGap)
				}
				t.Logf("reopen %v after the probe", gap)
			}
			if src.Stats().Reopens < 1 || src.Err() != nil || probes.Call("count", mine).Int() < 1 {
				t.Errorf("%d reopens, %d probes, Err() %v; want some, some, nil", src.Stats().Reopens, probes.Call("count", mine).Int(), src.Err())
			}
			for {
				select {
				case s := <-states.ch:
					if s == eventsource.StateFailed {
						t.Fatalf("the Source failed on %s", tc.name)
					}
					continue
				default:
				}
				break
			}
		})
	}
}

// TestProbeReleases: 100 sources fail on a 404; every probe settled with
// its body aborted, the probes made no js.Func (their callbacks are
// JavaScript), and Close releases each Source's only js.Func and leaves no
// listener and no goroutine.
func TestProbeReleases(t *testing.T) {
	tr := trackListeners(t)
	probes := watchProbes(t)
	goroutines := runtime.NumGoroutine()
	u, _ := streamURL(t, "status", "404")
	const n = 100
	srcs := make([]*eventsource.Source, 0, n)
	for range n {
		src, err := eventsource.Open(u, eventsource.Options{Reopen: noJitter})
		if err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, src)
	}
	deadline := time.Now().Add(waitTimeout)
	for _, src := range srcs {
		for src.ReadyState() != eventsource.StateFailed {
			if time.Now().After(deadline) {
				t.Fatalf("a source is still %v after %v", src.ReadyState(), waitTimeout)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if got := probes.Call("count").Int(); got != n || !probes.Call("done").Bool() {
		t.Errorf("%d probes, all settled and aborted: %v; want %d, true", got, probes.Call("done").Bool(), n)
	}
	for _, src := range srcs {
		src.Close()
	}
	if got := tr.Call("totalLive").Int(); got != 0 {
		t.Errorf("%d listeners left after Close", got)
	}
	released := countReleasedCalls(t, func() {
		for _, src := range srcs {
			eventsource.DrainFunc(src).Invoke()
		}
	})
	if released != n {
		t.Errorf("%d released drains, want %d", released, n)
	}
	time.Sleep(10 * time.Millisecond)
	if got := runtime.NumGoroutine(); got > goroutines {
		t.Errorf("%d goroutines after closing, %d before", got, goroutines)
	}
}

// TestProbePending: Close and Reopen while the probe waits for its answer
// abort it (the server sees its request end), and a late answer of the
// aborted probe changes nothing.
func TestProbePending(t *testing.T) {
	t.Run("close", func(t *testing.T) {
		probes := watchProbes(t)
		u, key := streamURL(t, "status", "404", "hold", "2-2")
		src := open(t, u, eventsource.Options{Reopen: noJitter})
		waitStats(t, key, func(st streamStats) bool { return st.Connects >= 2 }) // the probe, held
		if got := src.ReadyState(); got != eventsource.StateConnecting {
			t.Errorf("state %v while the probe is out, want connecting", got)
		}
		src.Close()
		// The probe's request ends at once, not at the probe's 10 s timeout.
		for deadline := time.Now().Add(3 * time.Second); fetchStats(t, key).Disconnects < 2; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the held probe's request still open 3 s after Close: Close did not abort it")
			}
		}
		time.Sleep(quiet)
		if st := fetchStats(t, key); st.Connects != 2 || !probes.Call("done").Bool() {
			t.Errorf("%d requests, probe settled and aborted: %v; want 2, true", st.Connects, probes.Call("done").Bool())
		}
	})
	t.Run("reopen", func(t *testing.T) {
		u, key := streamURL(t, "status", "404", "hold", "2-2")
		states := newRecorder[eventsource.State]()
		src := open(t, u, eventsource.Options{Reopen: noJitter, OnStateChange: states.add})
		waitStats(t, key, func(st streamStats) bool { return st.Connects >= 2 })
		src.Reopen() // the held probe is aborted; the reopen gets a 404 and a probe of its own
		if got := states.next(t, "state change"); got != eventsource.StateFailed {
			t.Fatalf("state %v, want failed", got)
		}
		time.Sleep(quiet)
		st := fetchStats(t, key)
		if st.Connects != 4 || st.Disconnects != 4 {
			t.Errorf("%d requests, %d ended; want 4 and 4: the stream, the aborted probe, the reopen, its probe", st.Connects, st.Disconnects)
		}
		states.none(t, 0, "another state change")
		if src.Stats().Reopens != 1 {
			t.Errorf("%d reopens, want 1", src.Stats().Reopens)
		}
	})
}
