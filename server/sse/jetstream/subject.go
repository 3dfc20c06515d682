package jetstream

import (
	"strconv"
	"strings"
	"time"

	"github.com/ssewasm/ssewasm/shared/topic"
)

// A topic is ASCII letters, digits and "-_.:/@~" (see topic.Valid).
// Of those only '.' means something in a NATS subject (it separates
// tokens, and an empty token is invalid), so it is written as "%2E";
// '%' cannot occur in a topic, so the mapping is one to one. Every topic
// is then a single subject token after the prefix.
const dotEscape = "%2E"

// subject returns the NATS subject that carries topic.
func subject(prefix, topic string) string {
	return prefix + "." + strings.ReplaceAll(topic, ".", dotEscape)
}

// topicOf returns the topic a subject carries, or false if the subject is
// not one of ours.
func topicOf(prefix, subj string) (string, bool) {
	t, ok := strings.CutPrefix(subj, prefix+".")
	if !ok {
		return "", false
	}
	t = strings.ReplaceAll(t, dotEscape, ".")
	return t, validTopic(t)
}

// validTopic is the broker's topic syntax (shared/topic's), under a name
// that the engine's many variables called topic do not hide.
var validTopic = topic.Valid

// epochOf names a stream's history: its creation time, in base 36
// nanoseconds. It survives restarts of NATS (the creation time is stored
// with the stream) and changes when the stream is deleted and created
// again, so that IDs of the old stream are then reported as
// protocol.GapUnknown instead of being taken for positions in the new one.
func epochOf(created time.Time) string {
	return "js" + strconv.FormatInt(created.UnixNano(), 36)
}
