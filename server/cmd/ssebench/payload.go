package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// An event's data is "seq=<n> t=<unix nanoseconds> " followed by padding
// up to the configured size. With multiline, every 40th byte of the
// padding is a LF, so the event travels as several data lines and the
// server's line splitting is checked too.
//
// Data that does not start with "seq=" is not a measured event: the
// warm-up events start with "warm=".

const (
	seqPrefix  = "seq="
	warmPrefix = "warm="
	padAlpha   = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
)

// makePayload returns the data of event seq sent at wall time t.
func makePayload(seq uint64, t time.Time, size int, multiline bool) string {
	var b strings.Builder
	b.Grow(max(size, 48))
	b.WriteString(seqPrefix)
	b.WriteString(strconv.FormatUint(seq, 10))
	b.WriteString(" t=")
	b.WriteString(strconv.FormatInt(t.UnixNano(), 10))
	b.WriteByte(' ')
	for i := 0; b.Len() < size; i++ {
		if multiline && i%40 == 39 {
			b.WriteByte('\n')
			continue
		}
		b.WriteByte(padAlpha[(int(seq)+i)%len(padAlpha)])
	}
	return b.String()
}

var errNotMeasured = errors.New("not a measured event")

// parseSeq returns the sequence number at the start of data, or
// errNotMeasured for data without the "seq=" prefix.
func parseSeq(data string) (uint64, error) {
	rest, ok := strings.CutPrefix(data, seqPrefix)
	if !ok {
		return 0, errNotMeasured
	}
	end := strings.IndexByte(rest, ' ')
	if end < 0 {
		return 0, fmt.Errorf("no space after the sequence number in %.40q", data)
	}
	return strconv.ParseUint(rest[:end], 10, 64)
}

// sent is one published event, as the clients must receive it.
type sent struct {
	data string
	mono time.Duration // send time, on the run's monotonic clock
}

// sentTable records what was published under each sequence number, so
// that clients check each event byte for byte and measure its latency on
// the same clock. It has a fixed capacity; entries are written once by
// the publisher, before the request goes out, and read by every client.
type sentTable struct {
	entries []atomic.Pointer[sent]
	acked   []atomic.Bool // the server answered 2xx
}

func newSentTable(capacity int) *sentTable {
	return &sentTable{
		entries: make([]atomic.Pointer[sent], capacity),
		acked:   make([]atomic.Bool, capacity),
	}
}

func (t *sentTable) capacity() int { return len(t.entries) }

func (t *sentTable) put(seq uint64, s *sent) { t.entries[seq].Store(s) }

// get returns the event published as seq, or nil.
func (t *sentTable) get(seq uint64) *sent {
	if seq >= uint64(len(t.entries)) {
		return nil
	}
	return t.entries[seq].Load()
}

func (t *sentTable) ack(seq uint64) { t.acked[seq].Store(true) }

func (t *sentTable) isAcked(seq uint64) bool {
	return seq < uint64(len(t.acked)) && t.acked[seq].Load()
}
