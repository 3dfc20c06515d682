package h2_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/summerwind/h2spec/config"
	"github.com/summerwind/h2spec/generic"
	h2spechpack "github.com/summerwind/h2spec/hpack"
	h2spechttp2 "github.com/summerwind/h2spec/http2"
	"github.com/summerwind/h2spec/spec"

	"github.com/ssewasm/ssewasm/server/h2"
)

// TestH2Spec runs h2spec, the HTTP/2 conformance suite (RFC 7540 and
// 7541: every section, the strict cases included), against the server.
// Each of its cases is a subtest here; a case h2spec skips fails.
func TestH2Spec(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) //nolint:errcheck // h2spec's bodies are small
		io.WriteString(w, strings.Repeat("h2spec wants a body of some length\n", 100))
	})
	for _, tt := range []struct {
		name  string
		start func(testing.TB, http.Handler, *h2.Server) *httptest.Server
	}{
		{"ServeConn", newServer},   // through http.Server's TLSNextProto, the read loop waits
		{"Start", newParkedServer}, // as the ssewasm server serves: parked read loops
	} {
		t.Run(tt.name, func(t *testing.T) {
			ts := tt.start(t, mux, nil)
			host, port, _ := net.SplitHostPort(strings.TrimPrefix(ts.URL, "https://"))
			p, _ := strconv.Atoi(port)
			c := &config.Config{
				Host: host, Port: p, Path: "/", Timeout: 2 * time.Second,
				MaxHeaderLen: 4000, TLS: true, Insecure: true, Strict: true,
			}
			for _, g := range []*spec.TestGroup{generic.Spec(), h2spechttp2.Spec(), h2spechpack.Spec()} {
				g.Test(c)
				report(t, g)
			}
		})
	}
}

// report makes each case of g a subtest that fails as it did.
func report(t *testing.T, g *spec.TestGroup) {
	for _, tc := range append(g.Tests, g.StrictTests...) {
		name := g.ID() + " " + g.Name + ": " + tc.Desc
		r := tc.Result
		t.Run(name, func(t *testing.T) {
			switch {
			case r == nil:
				t.Error("not run")
			case r.Skipped:
				t.Errorf("skipped: %v", r.Error)
			case r.Failed:
				t.Errorf("%s\n%v", tc.Requirement, r.Error)
			}
		})
	}
	for _, sub := range g.Groups {
		report(t, sub)
	}
}
