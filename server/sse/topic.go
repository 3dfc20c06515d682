package sse

import (
	"fmt"
	"slices"
)

const (
	// MaxTopicLen is the longest topic name, in bytes.
	MaxTopicLen = 128
	// MaxTopicsPerStream is how many topics one request may name.
	MaxTopicsPerStream = 64
)

// ValidTopic reports whether s can name a topic: 1 to [MaxTopicLen]
// bytes of ASCII letters, digits and "-_.:/@~". The set is small on
// purpose: topics travel in URLs and logs unescaped, and a distributed
// engine can map them to its own subject names.
func ValidTopic(s string) bool {
	if s == "" || len(s) > MaxTopicLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !topicChar(s[i]) {
			return false
		}
	}
	return true
}

func topicChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '-', '_', '.', ':', '/', '@', '~':
		return true
	}
	return false
}

func topicError(t string) error {
	return fmt.Errorf("%w %s: a topic is 1 to %d bytes of ASCII letters, digits and -_.:/@~", ErrInvalidTopic, clip(t), MaxTopicLen)
}

// ParseTopics checks the values of the repeated topic query parameter
// and returns them in order without duplicates; no value gives [def].
// Each value is one topic (a comma is not a separator; it is invalid).
// The error wraps [ErrInvalidTopic] and says which value is wrong.
func ParseTopics(values []string, def string) ([]string, error) {
	if len(values) == 0 {
		return []string{def}, nil
	}
	if len(values) > MaxTopicsPerStream {
		return nil, fmt.Errorf("%w: %d topics, at most %d per stream", ErrInvalidTopic, len(values), MaxTopicsPerStream)
	}
	topics := make([]string, 0, len(values))
	for _, v := range values {
		if !ValidTopic(v) {
			return nil, topicError(v)
		}
		if !slices.Contains(topics, v) {
			topics = append(topics, v)
		}
	}
	return topics, nil
}
