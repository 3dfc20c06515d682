package call

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ssewasm/ssewasm/shared/action"
)

type result struct {
	Text string `json:"text"`
	N    int    `json:"n"`
}

// TestDecode covers every kind of answer, on both platforms.
func TestDecode(t *testing.T) {
	const url = "https://api.example/action/echo"
	cases := []struct {
		name string
		a    answer
		want result
		err  any // nil, *action.Error or *AnswerError (compared by fields below)
	}{
		{"result", answer{200, "application/json", "", `{"text":"hé","n":2}`}, result{"hé", 2}, nil},
		{"result with charset", answer{200, "application/json; charset=utf-8", "", `{"text":"a"}`}, result{Text: "a"}, nil},
		{"unknown result fields ignored", answer{200, "application/json", "", `{"text":"a","extra":1}`}, result{Text: "a"}, nil},
		{"action error", answer{403, "application/json", "", `{"error":{"code":"forbidden","message":"no"}}`}, result{},
			&action.Error{Status: 403, Code: "forbidden", Message: "no"}},
		{"rate limited", answer{429, "application/json", "3", `{"error":{"code":"rate_limited","message":"slow"}}`}, result{},
			&action.Error{Status: 429, Code: "rate_limited", Message: "slow", RetryAfter: 3 * time.Second}},
		{"proxy page", answer{502, "text/html", "", "<html>Bad Gateway</html>"}, result{},
			&AnswerError{URL: url, Status: 502, ContentType: "text/html", Body: "<html>Bad Gateway</html>"}},
		{"error without a body", answer{500, "", "", ""}, result{}, &AnswerError{URL: url, Status: 500}},
		{"JSON that is not an error", answer{404, "application/json", "", `{"message":"nope"}`}, result{},
			&AnswerError{URL: url, Status: 404, ContentType: "application/json", Body: `{"message":"nope"}`}},
		{"text on success", answer{200, "text/plain", "", "ok"}, result{}, &AnswerError{URL: url, Status: 200, ContentType: "text/plain", Body: "ok"}},
		{"wrong result type", answer{200, "application/json", "", `{"n":"two"}`}, result{},
			&AnswerError{URL: url, Status: 200, ContentType: "application/json", Body: `{"n":"two"}`}},
		{"malformed result", answer{200, "application/json", "", `{"n":`}, result{}, &AnswerError{URL: url, Status: 200, ContentType: "application/json", Body: `{"n":`}},
		{"long body clipped", answer{502, "text/html", "", strings.Repeat("x", 300)}, result{},
			&AnswerError{URL: url, Status: 502, ContentType: "text/html", Body: strings.Repeat("x", 200)}},
	}
	for _, c := range cases {
		var got result
		err := c.a.decode(url, &got)
		switch want := c.err.(type) {
		case nil:
			if err != nil || got != c.want {
				t.Errorf("%s: %+v, %v; want %+v", c.name, got, err, c.want)
			}
		case *action.Error:
			e, ok := errors.AsType[*action.Error](err)
			if !ok || *e != *want {
				t.Errorf("%s: %v; want %+v", c.name, err, want)
			}
		case *AnswerError:
			e, ok := errors.AsType[*AnswerError](err)
			if !ok || e.URL != want.URL || e.Status != want.Status || e.ContentType != want.ContentType || e.Body != want.Body || e.Err == nil {
				t.Errorf("%s: %#v; want %+v", c.name, err, want)
				continue
			}
			if _, isAction := errors.AsType[*action.Error](err); isAction {
				t.Errorf("%s: an AnswerError that is also an action error", c.name)
			}
			if !strings.Contains(e.Error(), "call: "+url+": ") {
				t.Errorf("%s: message %q", c.name, e)
			}
		}
	}
}
