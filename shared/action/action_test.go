package action_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ssewasm/ssewasm/shared/action"
)

func TestValidName(t *testing.T) {
	for name, want := range map[string]bool{
		"send": true, "send-private": true, "post_2": true, "a": true, strings.Repeat("a", 64): true,
		"": false, strings.Repeat("a", 65): false, "Send": false, "2send": false, "-send": false,
		"send/x": false, "send.x": false, "..": false, "send%2F": false, "send\x00": false, "sénd": false, "send ": false,
	} {
		if got := action.ValidName(name); got != want {
			t.Errorf("ValidName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestNewPanics(t *testing.T) {
	cases := []struct {
		name string
		max  int
		want string
	}{
		{"Bad", 10, "a name is 1 to 64 bytes"},
		{"a/b", 10, "a name is 1 to 64 bytes"},
		{"ok", 0, "maxBytes is 0, want at least 1"},
		{"ok", -1, "maxBytes is -1"},
	}
	for _, c := range cases {
		func() {
			defer func() {
				r, _ := recover().(string)
				if !strings.Contains(r, c.want) {
					t.Errorf("New(%q, %d): panic %q, want %q", c.name, c.max, r, c.want)
				}
			}()
			action.New[struct{}, struct{}](c.name, c.max)
		}()
	}
}

func TestConstructors(t *testing.T) {
	cases := []struct {
		err    *action.Error
		status int
		code   string
	}{
		{action.BadRequest("m"), 400, action.CodeBadRequest},
		{action.Unauthorized("m"), 401, action.CodeUnauthorized},
		{action.Forbidden("m"), 403, action.CodeForbidden},
		{action.NotFound("m"), 404, action.CodeNotFound},
		{action.MethodNotAllowed("m"), 405, action.CodeMethodNotAllowed},
		{action.Conflict("m"), 409, action.CodeConflict},
		{action.TooLarge("m"), 413, action.CodeTooLarge},
		{action.UnsupportedType("m"), 415, action.CodeUnsupportedType},
		{action.RateLimited("m", 2*time.Second), 429, action.CodeRateLimited},
		{action.Internal("m"), 500, action.CodeInternal},
		{action.Unavailable("m"), 503, action.CodeUnavailable},
	}
	for _, c := range cases {
		if c.err.Status != c.status || c.err.Code != c.code || c.err.Message != "m" {
			t.Errorf("%+v, want status %d code %s", c.err, c.status, c.code)
		}
		body, err := json.Marshal(c.err)
		if err != nil {
			t.Fatal(err)
		}
		back, err := action.ParseError(c.status, body, "2")
		if err != nil || back.Code != c.code || back.Status != c.status || back.Message != "m" || back.RetryAfter != 2*time.Second {
			t.Errorf("ParseError(%s) = %+v, %v", body, back, err)
		}
		if !errors.Is(c.err, &action.Error{Code: c.code}) || errors.Is(c.err, &action.Error{Code: "other"}) {
			t.Errorf("errors.Is by code fails for %v", c.err)
		}
	}
	if got := action.RateLimited("slow down", time.Second).Error(); got != "action: rate_limited (429): slow down" {
		t.Errorf("Error() = %q", got)
	}
	if got := (&action.Error{Status: 500, Code: "internal"}).Error(); got != "action: internal (500)" {
		t.Errorf("Error() = %q", got)
	}
}

func TestParseError(t *testing.T) {
	cases := []struct {
		name       string
		status     int
		body       string
		retryAfter string
		want       *action.Error // nil: ErrNotAnError
	}{
		{"plain", 403, `{"error":{"code":"forbidden","message":"no"}}`, "", &action.Error{Status: 403, Code: "forbidden", Message: "no"}},
		{"own code", 422, `{"error":{"code":"name_taken","message":"pick another"}}`, "", &action.Error{Status: 422, Code: "name_taken", Message: "pick another"}},
		{"no message", 500, `{"error":{"code":"internal"}}`, "", &action.Error{Status: 500, Code: "internal"}},
		{"extra fields ignored", 400, `{"error":{"code":"bad_request","message":"m","field":"to"},"trace":"x"}`, "", &action.Error{Status: 400, Code: "bad_request", Message: "m"}},
		{"trailing newline", 400, "{\"error\":{\"code\":\"x\"}}\n", "", &action.Error{Status: 400, Code: "x"}},
		{"retry after", 429, `{"error":{"code":"rate_limited"}}`, "3", &action.Error{Status: 429, Code: "rate_limited", RetryAfter: 3 * time.Second}},
		{"retry after date ignored", 429, `{"error":{"code":"rate_limited"}}`, "Wed, 21 Oct 2015 07:28:00 GMT", &action.Error{Status: 429, Code: "rate_limited"}},
		{"success status", 200, `{"error":{"code":"x"}}`, "", nil},
		{"status 600", 600, `{"error":{"code":"x"}}`, "", nil},
		{"html", 502, `<html>Bad Gateway</html>`, "", nil},
		{"empty", 500, ``, "", nil},
		{"no code", 400, `{"error":{"message":"m"}}`, "", nil},
		{"error not an object", 400, `{"error":"m"}`, "", nil},
		{"null error", 400, `{"error":null}`, "", nil},
		{"other object", 400, `{"message":"m"}`, "", nil},
		{"trailing data", 400, `{"error":{"code":"x"}}{"error":{"code":"y"}}`, "", nil},
		{"too large", 400, `{"error":{"code":"x","message":"` + strings.Repeat("a", 16<<10) + `"}}`, "", nil},
	}
	for _, c := range cases {
		got, err := action.ParseError(c.status, []byte(c.body), c.retryAfter)
		if c.want == nil {
			if err == nil || !errors.Is(err, action.ErrNotAnError) {
				t.Errorf("%s: ParseError = %+v, %v; want ErrNotAnError", c.name, got, err)
			}
			continue
		}
		if err != nil || *got != *c.want {
			t.Errorf("%s: ParseError = %+v, %v; want %+v", c.name, got, err, c.want)
		}
	}
}

// FuzzParseError: any answer either parses into an Error with a code and
// an error status whose JSON parses back the same, or is refused with
// ErrNotAnError.
func FuzzParseError(f *testing.F) {
	f.Add(403, `{"error":{"code":"forbidden","message":"no"}}`, "")
	f.Add(429, `{"error":{"code":"rate_limited"}}`, "3")
	f.Add(400, `{"error":{"code":"x"}} `, "-1")
	f.Add(500, `<html>`, "")
	f.Fuzz(func(t *testing.T, status int, body, retryAfter string) {
		e, err := action.ParseError(status, []byte(body), retryAfter)
		if err != nil {
			if !errors.Is(err, action.ErrNotAnError) || e != nil {
				t.Fatalf("ParseError = %v, %v", e, err)
			}
			return
		}
		if e.Code == "" || e.Status < 400 || e.Status > 599 || e.RetryAfter < 0 {
			t.Fatalf("ParseError accepted %+v", e)
		}
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		back, err := action.ParseError(status, b, "")
		if err != nil || back.Code != e.Code || back.Message != e.Message {
			t.Fatalf("round trip of %+v: %+v, %v", e, back, err)
		}
	})
}
