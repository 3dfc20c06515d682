package eventsource

import (
	"strings"
	"testing"
	"time"
)

func TestStatusError(t *testing.T) {
	for _, tc := range []struct {
		code       int
		phrase     string
		wantStatus string // "": not permanent
	}{
		{404, "Not Found", "404 Not Found"},
		{404, "", "404"}, // no phrase: the queue supplies ours for HTTP/2
		{401, "Authorization Required", "401 Authorization Required"},
		{204, "No Content", "204 No Content"},
		{400, "Bad Request", "400 Bad Request"},
		{403, "Forbidden", "403 Forbidden"},
		{405, "Method Not Allowed", "405 Method Not Allowed"},
		{406, "Not Acceptable", "406 Not Acceptable"},
		{410, "Gone", "410 Gone"},
		{414, "URI Too Long", "414 URI Too Long"},
		{501, "Not Implemented", "501 Not Implemented"},
		{0, "", ""}, // no answer: network error, CORS, timeout
		{200, "OK", ""},
		{408, "", ""},
		{429, "", ""},
		{431, "", ""},
		{500, "", ""},
		{502, "", ""},
		{503, "", ""},
	} {
		e := statusError(tc.code, tc.phrase, "http://x/s")
		if (e != nil) != (tc.wantStatus != "") {
			t.Errorf("statusError(%d) = %v, want permanent %v", tc.code, e, tc.wantStatus != "")
			continue
		}
		if e == nil {
			continue
		}
		if e.Code != tc.code || e.Status != tc.wantStatus || e.URL != "http://x/s" {
			t.Errorf("statusError(%d, %q) = %+v, want status %q", tc.code, tc.phrase, *e, tc.wantStatus)
		}
		if msg := e.Error(); !strings.HasPrefix(msg, "eventsource: http://x/s answered "+tc.wantStatus+", ") || !strings.Contains(msg, "Source.Reopen") {
			t.Errorf("%d: Error() = %q, want the URL, the status and what to do", tc.code, msg)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
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
		{"Tue, 01 Dec 2026 12:00:30 GMT", 0}, // HTTP dates: not parsed
	} {
		if got := parseRetryAfter(tc.v); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tc.v, got, tc.want)
		}
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, v := range []string{"", "1", "120", "-1", "Tue, 01 Dec 2026 12:00:30 GMT", "9999999999"} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if d := parseRetryAfter(v); d < 0 || d > maxRetryAfter {
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
