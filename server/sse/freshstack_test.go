package sse

import (
	"errors"
	"net/http"
	"testing"
)

// onFreshStack runs f to its end before returning, and a panic in f
// reaches the caller with its value (net/http recovers handlers'
// panics, and treats http.ErrAbortHandler specially).
func TestOnFreshStack(t *testing.T) {
	for _, tc := range []struct {
		name  string
		panic any // nil: f returns
	}{
		{"returns", nil},
		{"panics", "boom"},
		{"aborts", http.ErrAbortHandler},
		{"panics with an error", errors.New("bad")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ran := false
			var got any
			func() {
				defer func() { got = recover() }()
				onFreshStack(func() {
					ran = true
					if tc.panic != nil {
						panic(tc.panic)
					}
				})
			}()
			if !ran {
				t.Error("f did not run")
			}
			if got != tc.panic {
				t.Errorf("recovered %v, want %v", got, tc.panic)
			}
		})
	}
}

// BenchmarkOnFreshStack: what running a batch on a goroutine of its
// own adds to an HTTP/2 write.
func BenchmarkOnFreshStack(b *testing.B) {
	n := 0
	for b.Loop() {
		onFreshStack(func() { n++ })
	}
}
