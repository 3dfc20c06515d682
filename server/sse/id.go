package sse

import (
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// maxIDLen bounds the Last-Event-ID the broker looks at: longer values
// are malformed, and the gap event echoes at most this many bytes.
const maxIDLen = 256

// maxEpochLen bounds an epoch.
const maxEpochLen = 64

// errMalformedID is wrapped by ParseID's errors.
var errMalformedID = errors.New("sse: malformed event ID")

// FormatID returns the event ID "<epoch>-<seq>", as documented in
// docs/protocol.md. Engines call it to name the events they store.
func FormatID(epoch string, seq uint64) string {
	return epoch + "-" + strconv.FormatUint(seq, 10)
}

// ParseID splits an ID written by [FormatID] into its epoch and
// sequence number. It accepts exactly the strings FormatID writes for a
// valid epoch (see [ValidEpoch]): the sequence number is decimal without
// sign or leading zeros, so that ParseID and FormatID are inverses.
func ParseID(id string) (epoch string, seq uint64, err error) {
	if len(id) > maxIDLen {
		return "", 0, fmt.Errorf("%w: %d bytes, the limit is %d", errMalformedID, len(id), maxIDLen)
	}
	i := strings.LastIndexByte(id, '-')
	if i < 0 {
		return "", 0, fmt.Errorf("%w %s: want <epoch>-<seq>", errMalformedID, clip(id))
	}
	epoch, num := id[:i], id[i+1:]
	if !ValidEpoch(epoch) {
		return "", 0, fmt.Errorf("%w %s: the epoch must be 1 to %d ASCII letters, digits or '_'", errMalformedID, clip(id), maxEpochLen)
	}
	if num == "" || (num[0] == '0' && len(num) > 1) || num[0] < '0' || num[0] > '9' {
		return "", 0, fmt.Errorf("%w %s: the sequence must be a decimal number without leading zeros", errMalformedID, clip(id))
	}
	seq, err = strconv.ParseUint(num, 10, 64)
	if err != nil {
		return "", 0, fmt.Errorf("%w %s: the sequence must be a decimal number below 2^64", errMalformedID, clip(id))
	}
	return epoch, seq, nil
}

// ValidEpoch reports whether s can be an epoch: 1 to 64 ASCII letters,
// digits or underscores. An epoch has no '-', so that an ID splits at its
// last '-' without doubt.
func ValidEpoch(s string) bool {
	if s == "" || len(s) > maxEpochLen {
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

// newEpoch returns 8 random lowercase base32 characters (40 bits): two
// runs of a server, or two brokers, pick the same epoch with a
// probability of about 2^-40.
func newEpoch() string {
	var b [5]byte
	rand.Read(b[:]) // never returns an error (crypto/rand, Go 1.24+)
	return strings.ToLower(base32.StdEncoding.EncodeToString(b[:]))
}
