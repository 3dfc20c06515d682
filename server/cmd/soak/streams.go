package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// streamRec is one stream of a chain, kept so that a loss can be placed:
// inside a stream (the server skipped an event it was delivering) or
// between two (the resumption's replay missed it).
type streamRec struct {
	inst        string // the instance's name
	why         int32  // why it ended (endDropped…)
	paused      bool   // it ended while the client was pausing
	sent        uint64 // seq of the Last-Event-ID it was opened with (0: none)
	head        uint64 // the newest seq the ledger knew when it opened
	first, last uint64 // the first and last new event received (0: none)
	n           int64  // new events received
	gap         uint64 // seq of an sse.gap's ID, if one came
	opened      time.Duration
	ended       time.Duration // since the start of the soak
}

func (r *streamRec) observe(seq uint64) {
	if r.first == 0 {
		r.first = seq
	}
	r.last = seq
	r.n++
}

var whyNames = [...]string{endDropped: "dropped", endLeave: "left", endReset: "reset", endStop: "stopped"}

// explain places the losses of segment sg of account a: for each stream
// that overlaps it, what it got against what was due, and what was due
// between two streams. With seqs (-trace), the missing events are named.
func (a *account) explain(l *ledger, sg segment, names []string, start time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "client %d (%s, topics %s): seq %d–%d", a.id, a.kind, topicNames(a.topics, names), sg.from, sg.to)
	var prev *streamRec
	for i := range a.streams {
		r := &a.streams[i]
		if r.n == 0 && (r.sent < sg.from-1 || r.sent > sg.to) {
			continue
		}
		if r.n > 0 && (r.last < sg.from || r.first > sg.to) {
			continue
		}
		if prev != nil && prev.n > 0 && r.first > prev.last+1 {
			if due := l.count(a.topics, prev.last+1, r.first-1); due > 0 {
				fmt.Fprintf(&b, "; **%d due between streams** (%d–%d)", due, prev.last+1, r.first-1)
			}
		}
		fmt.Fprintf(&b, "; stream %d on %s %s–%s after %d (newest %d)", i+1, r.inst, fmtAtMs(r.opened), fmtAtMs(r.ended), r.sent, r.head)
		if r.gap > 0 {
			fmt.Fprintf(&b, ", gap to %d", r.gap)
		}
		if r.n > 0 {
			due := l.count(a.topics, r.first, r.last)
			if r.sent > 0 && r.first > r.sent+1 {
				if d := l.count(a.topics, r.sent+1, r.first-1); d > 0 && r.gap == 0 {
					fmt.Fprintf(&b, ", **%d due before its first**", d)
				}
			}
			fmt.Fprintf(&b, ", got %d–%d: %d of %d", r.first, r.last, r.n, due)
		} else {
			b.WriteString(", got nothing")
		}
		fmt.Fprintf(&b, ", %s", whyNames[r.why])
		if r.paused {
			b.WriteString(" while paused")
		}
		prev = r
	}
	if a.seqs != nil {
		var miss []string
		for s := sg.from; s <= sg.to && len(miss) < 12; s++ {
			e, ok := l.entry(s)
			if !ok || !a.topics.has(int(e.topic)) {
				continue
			}
			if _, found := slices.BinarySearch(a.seqs, uint32(s)); !found {
				miss = append(miss, fmt.Sprintf("%d (%s, %d B, published %s)", s, names[e.topic], e.size, fmtAtMs(time.Unix(0, e.at).Sub(start))))
			}
		}
		fmt.Fprintf(&b, "; missing: %s", strings.Join(miss, ", "))
	}
	return b.String()
}

func topicNames(m topicMask, names []string) string {
	var out []string
	for k := range names {
		if m.has(k) {
			out = append(out, names[k])
		}
	}
	return strings.Join(out, ",")
}

// fmtAtMs is fmtAt to the tenth of a second.
func fmtAtMs(d time.Duration) string {
	d = d.Round(100 * time.Millisecond)
	return fmt.Sprintf("%d:%04.1f", int(d.Minutes()), (d - d.Truncate(time.Minute)).Seconds())
}

// entry returns the ledger's entry for seq.
func (l *ledger) entry(seq uint64) (ledgerEntry, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if seq >= uint64(len(l.events)) || l.events[seq].topic < 0 {
		return ledgerEntry{}, false
	}
	return l.events[seq], true
}

// silentAfter is how long an event may take to reach a normal client's
// open stream before the stream counts as fallen silent.
const silentAfter = 10 * time.Second

// silent counts the events of the topics in mask after seq floor that
// were published from from to to (Unix ns).
func (l *ledger) silent(mask topicMask, floor uint64, from, to int64) (n int64, first uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for s := floor + 1; s < uint64(len(l.events)); s++ {
		e := l.events[s]
		if mask.has(int(e.topic)) && e.at > from && e.at < to {
			if n++; first == 0 {
				first = s
			}
		}
	}
	return n, first
}

// silences finds the streams of a normal client that fell silent: events
// of its topics published while the stream was open had not come
// silentAfter later, when it ended. Such a stream loses nothing (the next
// resumes after its last event) but its client waited.
func (a *account) silences(l *ledger, start time.Time, names []string, examples *[]string) (streams int) {
	if a.kind != normal {
		return 0
	}
	for i := range a.streams {
		r := &a.streams[i]
		floor := r.last
		if floor == 0 {
			floor = r.sent
			if floor == 0 {
				floor = r.head
			}
		}
		from := start.Add(r.opened + time.Second).UnixNano()
		to := start.Add(r.ended - silentAfter).UnixNano()
		if to <= from {
			continue
		}
		n, first := l.silent(a.topics, floor, from, to)
		if n == 0 {
			continue
		}
		streams++
		if len(*examples) < 12 {
			got := "nothing"
			if r.n > 0 {
				got = fmt.Sprintf("%d–%d (%d)", r.first, r.last, r.n)
			}
			e, _ := l.entry(first)
			*examples = append(*examples, fmt.Sprintf("client %d (topics %s) stream %d on %s %s–%s after %d (newest %d): got %s, %s; %d events due, the first %d published %s",
				a.id, topicNames(a.topics, names), i+1, r.inst, fmtAtMs(r.opened), fmtAtMs(r.ended), r.sent, r.head, got, whyNames[r.why], n, first, fmtAtMs(time.Unix(0, e.at).Sub(start))))
		}
	}
	return streams
}
