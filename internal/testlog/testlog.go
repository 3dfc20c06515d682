// Package testlog is a log's output for tests: the code under test
// writes it from goroutines of its own while the test reads it.
//
//	var logs testlog.Buffer
//	log := slog.New(slog.NewTextHandler(&logs, nil))
//	... // the code under test logs
//	if line := logs.Line("level=WARN", "evicted"); line == "" {
//		t.Errorf("no warning in %s", logs.String())
//	}
package testlog

import (
	"bytes"
	"strings"
	"sync"
)

// Buffer collects what is written to it. Its methods are safe for
// concurrent use; the zero Buffer is empty and ready.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p; it never fails.
func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Line returns the first line written so far that contains every one of
// subs, without its line feed, or "" if none does.
func (l *Buffer) Line(subs ...string) string {
lines:
	for line := range strings.Lines(l.String()) {
		for _, s := range subs {
			if !strings.Contains(line, s) {
				continue lines
			}
		}
		return strings.TrimSuffix(line, "\n")
	}
	return ""
}
