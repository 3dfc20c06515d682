package sse

import (
	"crypto/rand"
	"encoding/base32"
	"strings"

	"github.com/ssewasm/ssewasm/shared/protocol"
)

// FormatID returns the event ID "<epoch>-<seq>" ([protocol.FormatID]).
// Engines call it to name the events they store.
func FormatID(epoch string, seq uint64) string { return protocol.FormatID(epoch, seq) }

// ParseID splits an ID written by [FormatID] into its epoch and
// sequence number ([protocol.ParseID]).
func ParseID(id string) (epoch string, seq uint64, err error) { return protocol.ParseID(id) }

// ValidEpoch reports whether s can be an epoch ([protocol.ValidEpoch]):
// 1 to 64 ASCII letters, digits or underscores.
func ValidEpoch(s string) bool { return protocol.ValidEpoch(s) }

// newEpoch returns 8 random lowercase base32 characters (40 bits): two
// runs of a server, or two brokers, pick the same epoch with a
// probability of about 2^-40.
func newEpoch() string {
	var b [5]byte
	rand.Read(b[:]) // never returns an error (crypto/rand, Go 1.24+)
	return strings.ToLower(base32.StdEncoding.EncodeToString(b[:]))
}
