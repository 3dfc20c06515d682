package proc

import (
	"os"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	// Fields 14 and 15 are utime and stime; the name may hold ") (".
	line := "1234 (my (odd) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 8 0 100 1000 200"
	got, err := parseStatCPU(line)
	if err != nil || got != 3*time.Second {
		t.Errorf("parseStatCPU = %v, %v; want 3s", got, err)
	}
	if _, err := parseStatCPU("garbage"); err == nil {
		t.Error("garbage: want an error")
	}
}

func TestSelf(t *testing.T) {
	pid := os.Getpid()
	if rss, err := RSS(pid); err != nil || rss <= 0 {
		t.Errorf("RSS(self) = %d, %v; want > 0", rss, err)
	}
	if n, err := FDs(pid); err != nil || n < 3 {
		t.Errorf("FDs(self) = %d, %v; want at least stdin, stdout, stderr", n, err)
	}
	if !Alive(pid) {
		t.Error("Alive(self) = false")
	}
	if _, err := RSS(-1); err == nil {
		t.Error("RSS(-1): want an error")
	}
}
