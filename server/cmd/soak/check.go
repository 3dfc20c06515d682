package main

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The loss checker. Event IDs are "<epoch>-<seq>", seq being the JetStream
// stream sequence, the same on every instance, and each instance delivers
// in sequence order. So a client chain (a client and every resumption of
// it with Last-Event-ID) must receive, between two events it received,
// every event of its topics whose sequence lies between them: the ledger
// knows every event (from the publish answers, and from any delivery of
// an event whose answer was lost), and an account knows what one chain
// received, as segments of consecutive coverage.

// maxTopics bounds the topic indexes a topic mask can hold.
const maxTopics = 64

// topicMask is a set of topic indexes.
type topicMask uint64

func (m topicMask) has(k int) bool { return k >= 0 && k < maxTopics && m&(1<<k) != 0 }

// ledgerEntry is one event of the stream.
type ledgerEntry struct {
	topic int8  // index, or -1: not ours (another publisher of the server) or not known
	size  int32 // bytes of data
	at    int64 // publish time, Unix nanoseconds
}

// ledger is every event known to be in the stream, by sequence number.
// Publishers write it (on each 2xx answer) and clients too (on each event
// received, for events whose answer was lost); the checker reads it.
type ledger struct {
	mu     sync.Mutex
	events []ledgerEntry // by seq; index 0 unused
	newest uint64        // the highest seq recorded
}

// record notes that seq is an event of topic with size bytes of data,
// published at at; the first record of a seq wins.
func (l *ledger) record(seq uint64, topic, size int, at int64) {
	if seq == 0 || seq > 1<<31 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for uint64(len(l.events)) <= seq {
		l.events = append(l.events, ledgerEntry{topic: -1})
	}
	if e := &l.events[seq]; e.topic < 0 {
		*e = ledgerEntry{topic: int8(topic), size: int32(size), at: at}
	}
	l.newest = max(l.newest, seq)
}

// at returns when seq was published, or the zero time.
func (l *ledger) at(seq uint64) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	if seq >= uint64(len(l.events)) || l.events[seq].at == 0 {
		return time.Time{}
	}
	return time.Unix(0, l.events[seq].at)
}

// newestSeq returns the highest seq recorded.
func (l *ledger) newestSeq() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.newest
}

// count returns how many events of the topics in mask have a seq in
// [from, to].
func (l *ledger) count(mask topicMask, from, to uint64) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var n int64
	for s := max(from, 1); s <= to && s < uint64(len(l.events)); s++ {
		if mask.has(int(l.events[s].topic)) {
			n++
		}
	}
	return n
}

// historyLimits are the instances' -history-size, -history-bytes and
// -history-age: how far back a Last-Event-ID can be replayed.
type historyLimits struct {
	size  int
	bytes int64
	age   time.Duration
}

// historyMargin is the fraction of each limit within which a resumption
// is certainly replayable. Between it and the limit the checker cannot
// tell (the stream's own byte count has overheads the ledger does not
// see), so a gap there is counted as legitimate.
const historyMargin = 0.8

// frameOverhead is what JetStream stores per event besides its data
// (subject, headers, the stored record), an over-estimate.
const frameOverhead = 256

// withinHistory reports whether a resumption after seq last, answered
// when the newest event was seq newest, is certainly within the history
// bounds, so that a gap for it is a failure. now is the resumption time.
func (l *ledger) withinHistory(last, newest uint64, lim historyLimits, now time.Time) bool {
	if last == 0 || newest < last {
		return false
	}
	if float64(newest-last) >= historyMargin*float64(lim.size) {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var bytes int64
	for s := last + 1; s <= newest && s < uint64(len(l.events)); s++ {
		bytes += int64(l.events[s].size) + frameOverhead
	}
	if float64(bytes) >= historyMargin*float64(lim.bytes) {
		return false
	}
	if last+1 < uint64(len(l.events)) {
		if at := l.events[last+1].at; at > 0 && float64(now.UnixNano()-at) >= historyMargin*float64(lim.age) {
			return false
		}
	}
	return true
}

// segment is a stretch of a chain's coverage: it received received
// events from seq from to seq to, both included, and should have received
// every event of its topics in between.
type segment struct {
	from, to uint64
	received int64
}

// account is what one client chain received. Its chain's goroutine owns
// it; the checker reads it after the chain has stopped.
type account struct {
	id     int  // the chain's, for the report
	kind   kind // the chain's, for the report
	topics topicMask
	done   []segment
	cur    segment
	open   bool   // cur is in use
	last   uint64 // seq of the last event received (0: none yet)

	repeats   int64 // events at or below the last seq: duplicated or out of order
	gapsLegit int64 // sse.gap for a resumption beyond the history bounds
	gapsBad   int64 // sse.gap for a resumption within them: a failure
	badGaps   []string
	excused   []segment // (from-1, to]: events the legitimate gaps skipped

	streams []streamRec // the chain's streams, to place its losses
	seqs    []uint32    // with -trace: every new seq received, in order
}

// observe accounts for one event received.
func (a *account) observe(seq uint64) {
	if seq == 0 {
		return
	}
	if seq <= a.last {
		a.repeats++
		return
	}
	a.last = seq
	if n := len(a.streams); n > 0 {
		a.streams[n-1].observe(seq)
	}
	if a.seqs != nil {
		a.seqs = append(a.seqs, uint32(seq))
	}
	if !a.open {
		a.cur, a.open = segment{from: seq, to: seq, received: 1}, true
		return
	}
	a.cur.to = seq
	a.cur.received++
}

// gap accounts for an sse.gap: the resumption after seq after was
// answered with newest (the gap's own id) as the point to go on from.
// Every event after newest must follow; those in between were skipped,
// legitimately unless within is true.
func (a *account) gap(after, newest uint64, within bool, reason string) {
	a.close()
	if within {
		a.gapsBad++
		if len(a.badGaps) < 5 {
			a.badGaps = append(a.badGaps, fmt.Sprintf("after %d, newest %d (%s)", after, newest, reason))
		}
	} else {
		a.gapsLegit++
		if newest > after {
			a.excused = append(a.excused, segment{from: after + 1, to: newest})
		}
	}
	if newest > 0 {
		// Coverage resumes right after the gap's ID: the next event of
		// the chain's topics must be the first one after it.
		a.cur, a.open = segment{from: newest + 1, to: newest}, true
		a.last = max(a.last, newest)
	}
}

// close ends the current segment.
func (a *account) close() {
	if a.open && a.cur.to >= a.cur.from {
		a.done = append(a.done, a.cur)
	}
	a.open = false
}

// extend makes the current segment reach to: the chain stayed connected
// to the end and must have received everything up to it.
func (a *account) extend(to uint64) {
	if a.open && to > a.cur.to {
		a.cur.to = to
	}
}

// verdict is what the checker found in one account.
type verdict struct {
	received, expected, lost int64
	missedInGaps             int64
	lossy                    []segment // the segments with losses: received is what came, to-from+1 is not what was due
	due                      []int64   // what each lossy segment should have had
}

// check compares the account's segments against the ledger.
func (a *account) check(l *ledger) verdict {
	var v verdict
	segs := append([]segment(nil), a.done...)
	if a.open && a.cur.to >= a.cur.from {
		segs = append(segs, a.cur)
	}
	for _, s := range segs {
		want := l.count(a.topics, s.from, s.to)
		v.received += s.received
		v.expected += want
		if want > s.received {
			v.lost += want - s.received
			v.lossy = append(v.lossy, s)
			v.due = append(v.due, want)
		}
	}
	for _, s := range a.excused {
		v.missedInGaps += l.count(a.topics, s.from, s.to)
	}
	return v
}

// seqOf returns the sequence number of an ID "<epoch>-<seq>", or 0.
func seqOf(id string) uint64 {
	i := strings.LastIndexByte(id, '-')
	if i < 0 {
		return 0
	}
	n, err := strconv.ParseUint(id[i+1:], 10, 64)
	if err != nil {
		return 0
	}
	return n
}
