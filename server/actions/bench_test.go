package actions_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ssewasm/ssewasm/server/actions"
)

// BenchmarkServeHTTP is the registry's cost per call on the happy path
// (identity, CSRF, decode with the repeated-field check, handler, encode)
// and for a refusal the handler never sees.
func BenchmarkServeHTTP(b *testing.B) {
	for _, c := range []struct{ name, body string }{
		{"ok", `{"to":"bob","text":"hello there","tags":["a","b"],"meta":{"lang":"en"}}`},
		{"repeated field", `{"to":"bob","to":"eve"}`},
	} {
		b.Run(c.name, func(b *testing.B) {
			f := newFixture(b, actions.Options{})
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequest("POST", "http://app.test/action/send", strings.NewReader(c.body))
				r.Header.Set("Content-Type", "application/json")
				r.Header.Set("Sec-Fetch-Site", "same-origin")
				r.AddCookie(&http.Cookie{Name: "user", Value: "alice"})
				w := httptest.NewRecorder()
				f.reg.ServeHTTP(w, r)
			}
		})
	}
}
