package testlog_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/ssewasm/ssewasm/internal/testlog"
)

// Writers on many goroutines lose nothing (run with -race), and Line
// finds a line by its parts.
func TestBuffer(t *testing.T) {
	var logs testlog.Buffer
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				fmt.Fprintf(&logs, "goroutine=%d line=%d\n", g, i)
			}
		})
	}
	wg.Wait()
	if n := strings.Count(logs.String(), "\n"); n != 800 {
		t.Fatalf("%d lines, want 800", n)
	}
	for _, tt := range []struct {
		subs []string
		want string
	}{
		{[]string{"goroutine=3 ", "line=42"}, "goroutine=3 line=42"},
		{[]string{"goroutine=9"}, ""},
	} {
		if got := logs.Line(tt.subs...); got != tt.want {
			t.Errorf("Line(%q) = %q, want %q", tt.subs, got, tt.want)
		}
	}
}
