package jetstream

import (
	"fmt"
	"strings"
	"testing"
)

func TestParseVersion(t *testing.T) {
	for _, c := range []struct {
		in      string
		want    version
		bad     bool
		min, sf bool // atLeast MinServerVersion, severalFilters
	}{
		{in: "2.9.10", want: version{2, 9, 10}, min: true},
		{in: "2.9.0", want: version{2, 9, 0}, min: true},
		{in: "2.8.4", want: version{2, 8, 4}},
		{in: "2.10.0", want: version{2, 10, 0}, min: true, sf: true},
		{in: "2.15.2", want: version{2, 15, 2}, min: true, sf: true},
		{in: "2.11.0-RC.1", want: version{2, 11, 0}, min: true, sf: true},
		{in: "3.0.0", want: version{3, 0, 0}, min: true, sf: true},
		{in: "1.99.99", want: version{1, 99, 99}},
		{in: "", bad: true},
		{in: "2.9", bad: true},
		{in: "2.9.x", bad: true},
		{in: "2.09.1", bad: true},
		{in: "v2.9.1", bad: true},
		{in: "2.-9.1", bad: true},
		{in: "2.9.1.1", bad: true},
	} {
		v, err := parseVersion(c.in)
		if (err != nil) != c.bad || v != c.want && !c.bad {
			t.Errorf("parseVersion(%q) = %v, %v; want %v, bad %v", c.in, v, err, c.want, c.bad)
			continue
		}
		if c.bad {
			if _, err := checkVersion(c.in, "nats://x"); err == nil || !strings.Contains(err.Error(), MinServerVersion) {
				t.Errorf("checkVersion(%q): %v, want an error naming %s", c.in, err, MinServerVersion)
			}
			continue
		}
		if v.atLeast(MinServerVersion) != c.min || v.atLeast(severalFilters) != c.sf {
			t.Errorf("%q: at least %s %v, at least %s %v; want %v, %v", c.in, MinServerVersion, v.atLeast(MinServerVersion), severalFilters, v.atLeast(severalFilters), c.min, c.sf)
		}
		several, err := checkVersion(c.in, "nats://x")
		if (err == nil) != c.min || several != c.sf && c.min {
			t.Errorf("checkVersion(%q) = %v, %v; want accepted %v, several filters %v", c.in, several, err, c.min, c.sf)
		}
	}
}

func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{"2.9.10", "2.11.0-RC.1", "2.9", "", "10.0.0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := parseVersion(s)
		if err != nil {
			return
		}
		// A version read back is the one given, up to its suffix.
		core, _, _ := strings.Cut(s, "-")
		if got := fmt.Sprintf("%d.%d.%d", v[0], v[1], v[2]); got != core {
			t.Errorf("parseVersion(%q) = %v, which reads %q", s, v, got)
		}
	})
}
