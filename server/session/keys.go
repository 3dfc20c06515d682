package session

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
)

// MinKeyLen is the shortest key, in bytes: 256 bits, the size of
// HMAC-SHA256's output, so that guessing the key is no easier than
// forging a tag.
const MinKeyLen = 32

// key is one signing key and its ID.
type key struct {
	secret []byte
	id     [kidLen]byte // names the key in tokens: see newKey
}

// newKey returns k with its ID: the first bytes of an HMAC of a fixed
// text under k, which tells nothing about k but lets Verify pick the key
// and tell "another key" from "forged".
func newKey(k []byte) key {
	nk := key{secret: bytes.Clone(k)}
	mac := hmac.New(sha256.New, nk.secret)
	mac.Write([]byte("ssewasm session key id"))
	copy(nk.id[:], mac.Sum(nil))
	return nk
}

// tag returns the HMAC-SHA256 of signed under k.
func (k key) tag(signed string) []byte {
	mac := hmac.New(sha256.New, k.secret)
	mac.Write([]byte(signed))
	return mac.Sum(nil)
}

// key returns m's key with the ID kid.
func (m *Manager) key(kid []byte) (key, bool) {
	for _, k := range m.keys {
		if string(k.id[:]) == string(kid) {
			return k, true
		}
	}
	return key{}, false
}

// RandomKey returns a new random key of MinKeyLen bytes, for a single
// instance: sessions do not outlive the process, and other instances
// cannot verify them.
func RandomKey() []byte {
	k := make([]byte, MinKeyLen)
	rand.Read(k) // never fails (crypto/rand)
	return k
}

// ParseKey decodes a key written as hex or base64 (standard or URL
// alphabet, padded or not), as `openssl rand -hex 32` or `openssl rand
// -base64 32` print it, and checks that it has at least MinKeyLen bytes.
// The error never holds the key.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	var k []byte
	if b, err := hex.DecodeString(s); err == nil {
		k = b
	} else {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if b, err := enc.DecodeString(s); err == nil {
				k = b
				break
			}
		}
	}
	if k == nil {
		return nil, fmt.Errorf("session: the key is neither hex nor base64 (make one with: openssl rand -hex %d)", MinKeyLen)
	}
	if len(k) < MinKeyLen {
		return nil, fmt.Errorf("session: the key has %d bytes, want at least %d (make one with: openssl rand -hex %d)", len(k), MinKeyLen, MinKeyLen)
	}
	return k, nil
}

// ReadKeyFile reads the keys of a key file: one key a line, in hex or
// base64 (see ParseKey); blank lines and lines starting with "#" are
// skipped. The first key signs, all verify: to rotate, add the new key
// as the first line on every instance, then drop the old one once the
// sessions it signed have passed MaxAge.
func ReadKeyFile(path string) ([][]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("session: reading the key file: %w", err)
	}
	var keys [][]byte
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, err := ParseKey(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		keys = append(keys, k)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("session: reading %s: %w", path, err)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("session: %s holds no key (make one with: openssl rand -hex %d > %s)", path, MinKeyLen, path)
	}
	return keys, nil
}
