package eventsource

import (
	"strings"
	"testing"
	"time"
)

func TestStatusError(t *testing.T) {
	for _, tc := range []struct {
		code      int
		status    string
		permanent bool
		want      string // the Status kept
	}{
		{404, "Not Found", true, "Not Found"},
		{404, "", true, "Not Found"}, // HTTP/2 has no reason phrase
		{401, "Authorization Required", true, "Authorization Required"},
		{204, "", true, "No Content"},
		{400, "", true, "Bad Request"},
		{403, "", true, "Forbidden"},
		{405, "", true, "Method Not Allowed"},
		{406, "", true, "Not Acceptable"},
		{410, "", true, "Gone"},
		{414, "", true, "URI Too Long"},
		{501, "", true, "Not Implemented"},
		{0, "", false, ""}, // no answer: network error, CORS, timeout
		{200, "OK", false, ""},
		{408, "", false, ""},
		{429, "", false, ""},
		{500, "", false, ""},
		{502, "", false, ""},
		{503, "", false, ""},
	} {
		e := statusError(tc.code, tc.status, "http://x/s")
		if (e != nil) != tc.permanent {
			t.Errorf("statusError(%d) = %v, want permanent %v", tc.code, e, tc.permanent)
			continue
		}
		if e == nil {
			continue
		}
		if e.Code != tc.code || e.Status != tc.want || e.URL != "http://x/s" {
			t.Errorf("statusError(%d, %q) = %+v, want status %q", tc.code, tc.status, *e, tc.want)
		}
		if msg := e.Error(); !strings.HasPrefix(msg, "eventsource: http://x/s answered ") || !strings.Contains(msg, "Source.Reopen") {
			t.Errorf("%d: Error() = %q, want the URL, the status and what to do", tc.code, msg)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		v    string
		want time.Duration
	}{
		{"", 0},
		{"1", time.Second},
		{" 120 ", 2 * time.Minute},
		{"0", 0},
		{"-5", 0},
		{"1.5", 0},
		{"soon", 0},
		{"99999999999999999999", maxRetryAfter},
		{"7200", maxRetryAfter},
		{"Tue, 01 Dec 2026 12:00:30 GMT", 30 * time.Second},
		{"Tue, 01 Dec 2026 11:59:00 GMT", 0}, // past
		{"Wed, 02 Dec 2026 12:00:00 GMT", maxRetryAfter},
		{"Tue, 01 Dec 2026 12:00:30 CET", 0}, // HTTP dates are GMT
	} {
		if got := parseRetryAfter(tc.v, now); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tc.v, got, tc.want)
		}
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, v := range []string{"", "1", "120", "-1", "Tue, 01 Dec 2026 12:00:30 GMT", "9999999999"} {
		f.Add(v)
	}
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		if d := parseRetryAfter(v, now); d < 0 || d > maxRetryAfter {
			t.Errorf("parseRetryAfter(%q) = %v, out of [0, %v]", v, d, maxRetryAfter)
		}
	})
}

func TestDelayAfter(t *testing.T) {
	ms := time.Millisecond
	p := ReopenPolicy{Initial: 100 * ms, Jitter: 0.5}
	for _, tc := range []struct {
		name       string
		attempt    int
		rnd        float64
		retryAfter time.Duration
		want       time.Duration
	}{
		{"no Retry-After: the backoff", 0, 0.5, 0, 75 * ms},
		{"Retry-After longer, no draw", 0, 0, time.Second, time.Second},
		{"Retry-After longer, spread later, never earlier", 0, 0.5, time.Second, 1250 * ms},
		{"backoff longer than Retry-After", 5, 0, 100 * ms, 3200 * ms},
	} {
		if got := p.delayAfter(tc.attempt, tc.rnd, tc.retryAfter); got != tc.want {
			t.Errorf("%s: delayAfter(%d, %v, %v) = %v, want %v", tc.name, tc.attempt, tc.rnd, tc.retryAfter, got, tc.want)
		}
	}
	if got := (ReopenPolicy{Jitter: -1}).delayAfter(0, 0.9, 2*time.Second); got != 2*time.Second {
		t.Errorf("no jitter: %v, want exactly the Retry-After", got)
	}
}
