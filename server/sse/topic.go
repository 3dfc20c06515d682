package sse

import (
	"fmt"
	"slices"

	"github.com/ssewasm/ssewasm/shared/topic"
)

// maxTopicsPerStream is how many topics one request may name: each
// costs a slot in the client and a place in a topic's list, so a request
// naming thousands would make one stream cost thousands. At most 64: a
// client's lost topics are the bits of a uint64.
const maxTopicsPerStream = 64

// validTopic is the topic syntax, shared/topic's (1 to [topic.MaxLen]
// bytes of ASCII letters, digits and "-_.:/@~"): a declared topic is
// always one the broker accepts. The set is small on purpose: topics
// travel in URLs and logs unescaped, and a distributed engine maps them
// to its own subject names.
var validTopic = topic.Valid

func topicError(t string) error {
	return fmt.Errorf("%w %s: a topic is 1 to %d bytes of ASCII letters, digits and -_.:/@~", ErrInvalidTopic, clip(t), topic.MaxLen)
}

// parseTopics checks the values of the repeated topic query parameter
// and returns them in order without duplicates; no value gives [def].
// Each value is one topic (a comma is not a separator; it is invalid).
// The error wraps [ErrInvalidTopic] and says which value is wrong.
func parseTopics(values []string, def string) ([]string, error) {
	if len(values) == 0 {
		return []string{def}, nil
	}
	if len(values) > maxTopicsPerStream {
		return nil, fmt.Errorf("%w: %d topics, at most %d per stream", ErrInvalidTopic, len(values), maxTopicsPerStream)
	}
	topics := make([]string, 0, len(values))
	for _, v := range values {
		if !validTopic(v) {
			return nil, topicError(v)
		}
		if err := checkReserved(v); err != nil {
			return nil, err
		}
		if !slices.Contains(topics, v) {
			topics = append(topics, v)
		}
	}
	return topics, nil
}
