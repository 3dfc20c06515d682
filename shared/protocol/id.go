package protocol

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// MaxIDLen bounds the Last-Event-ID the server looks at: longer values
// are malformed, and the gap event echoes at most this many bytes.
const MaxIDLen = 256

// MaxEpochLen bounds an epoch.
const MaxEpochLen = 64

// ErrMalformedID is wrapped by ParseID's errors.
var ErrMalformedID = errors.New("protocol: malformed event ID")

// FormatID returns the event ID "<epoch>-<seq>". The epoch names one
// history (see [ValidEpoch]); seq is the event's position in it.
func FormatID(epoch string, seq uint64) string {
	return epoch + "-" + strconv.FormatUint(seq, 10)
}

// ParseID splits an ID written by [FormatID] into its epoch and
// sequence number. It accepts exactly the strings FormatID writes for a
// valid epoch: the sequence number is decimal without sign or leading
// zeros, so that ParseID and FormatID are inverses.
func ParseID(id string) (epoch string, seq uint64, err error) {
	if len(id) > MaxIDLen {
		return "", 0, fmt.Errorf("%w: %d bytes, the limit is %d", ErrMalformedID, len(id), MaxIDLen)
	}
	i := strings.LastIndexByte(id, '-')
	if i < 0 {
		return "", 0, fmt.Errorf("%w %s: want <epoch>-<seq>", ErrMalformedID, clip(id))
	}
	epoch, num := id[:i], id[i+1:]
	if !ValidEpoch(epoch) {
		return "", 0, fmt.Errorf("%w %s: the epoch must be 1 to %d ASCII letters, digits or '_'", ErrMalformedID, clip(id), MaxEpochLen)
	}
	if num == "" || (num[0] == '0' && len(num) > 1) || num[0] < '0' || num[0] > '9' {
		return "", 0, fmt.Errorf("%w %s: the sequence must be a decimal number without leading zeros", ErrMalformedID, clip(id))
	}
	seq, err = strconv.ParseUint(num, 10, 64)
	if err != nil {
		return "", 0, fmt.Errorf("%w %s: the sequence must be a decimal number below 2^64", ErrMalformedID, clip(id))
	}
	return epoch, seq, nil
}

// ValidEpoch reports whether s can be an epoch: 1 to MaxEpochLen ASCII
// letters, digits or underscores. An epoch has no '-', so that an ID
// splits at its last '-' without doubt.
func ValidEpoch(s string) bool {
	if s == "" || len(s) > MaxEpochLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// clip quotes s for an error message, cut to 40 bytes.
func clip(s string) string {
	if len(s) > 40 {
		return strconv.Quote(s[:40]) + "…"
	}
	return strconv.Quote(s)
}
