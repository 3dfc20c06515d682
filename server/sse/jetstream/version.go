package jetstream

import (
	"fmt"
	"strconv"
	"strings"
)

// Server versions. The engine refuses a NATS older than MinServerVersion
// when it starts, and reads replays differently on the versions before
// severalFilters (see replay.go).
const (
	// MinServerVersion is the oldest nats-server the engine works with:
	// the NATS client's JetStream API needs 2.9.0 (named ephemeral
	// consumers, heartbeats on pull requests). Debian 12's nats-server is
	// 2.9.10.
	MinServerVersion = "2.9.0"
	// severalFilters: from this version on, NATS filters one consumer
	// on several subjects.
	severalFilters = "2.10.0"
)

// version is a nats-server version: major, minor, patch.
type version [3]int

// parseVersion reads a version such as "2.9.10" or "2.11.0-RC.1" (what
// follows the patch number is ignored).
func parseVersion(s string) (version, error) {
	var v version
	core, _, _ := strings.Cut(s, "-")
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return v, fmt.Errorf("jetstream: server version %q is not major.minor.patch", s)
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || strconv.Itoa(n) != p {
			return v, fmt.Errorf("jetstream: server version %q is not major.minor.patch", s)
		}
		v[i] = n
	}
	return v, nil
}

// atLeast reports whether v is w or later; w is one of the constants
// above.
func (v version) atLeast(w string) bool {
	min, err := parseVersion(w)
	if err != nil {
		panic(err)
	}
	for i := range v {
		if v[i] != min[i] {
			return v[i] > min[i]
		}
	}
	return true
}

// checkVersion refuses a server older than MinServerVersion, naming what
// needs the newer one, and says whether the server filters a consumer on
// several subjects.
func checkVersion(s, url string) (several bool, err error) {
	v, err := parseVersion(s)
	if err != nil {
		return false, fmt.Errorf("%w: cannot tell whether NATS at %s is %s or later, which the engine needs", err, url, MinServerVersion)
	}
	if !v.atLeast(MinServerVersion) {
		return false, fmt.Errorf("jetstream: NATS at %s is nats-server %s; ssewasm needs nats-server %s or later (its JetStream client makes named ephemeral consumers for replays, and asks for heartbeats on live delivery): upgrade nats-server", url, s, MinServerVersion)
	}
	return v.atLeast(severalFilters), nil
}
