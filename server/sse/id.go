package sse

import (
	"crypto/rand"
	"encoding/base32"
	"strings"
)

// newEpoch returns 8 random lowercase base32 characters (40 bits): two
// runs of a server, or two brokers, pick the same epoch with a
// probability of about 2^-40.
func newEpoch() string {
	var b [5]byte
	rand.Read(b[:]) // never returns an error (crypto/rand, Go 1.24+)
	return strings.ToLower(base32.StdEncoding.EncodeToString(b[:]))
}
