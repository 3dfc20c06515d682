//go:build !(js && wasm)

package call_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssewasm/ssewasm/server/actions"
	"github.com/ssewasm/ssewasm/server/ratelimit"
	"github.com/ssewasm/ssewasm/server/sse"
	"github.com/ssewasm/ssewasm/shared/action"
	"github.com/ssewasm/ssewasm/wasm/internal/browsertest"
)

// TestBrowser runs the wasm tests of this package (*_js_test.go) in
// headless Chromium against a server of package server/actions.
func TestBrowser(t *testing.T) {
	browsertest.Run(t, func(t *testing.T) []string {
		return []string{envURL + "=" + startServer(t)}
	})
}

// startServer starts the test server on 127.0.0.1 and returns its URL.
// The wasmbrowsertest page is on 127.0.0.1 too, on another port: the two
// are same-site but cross-origin, so the cookie of /login, with
// SameSite=Lax, goes with fetch's credentials "include", and the
// registries' CSRF check sees a cross-origin page it must trust.
//
//	/action/...           the actions of actions_test.go; identity from the cookie "user"
//	/untrusted/action/... the same, on a registry that trusts no other origin
//	/limited/action/...   the same, one call per 10 s per caller
//	/trust?origin=O       the first two registries trust O from now on
//	/login?user=U         sets the cookie user=U (U empty: removes it)
//	/stats                the slowStats of the slow action
//	/raw/action/{html,text,badjson}   answers that are not an action's
//	/redirect/action/echo             a redirect to /action/echo
//	/nocors/action/echo               echo without CORS headers
//	GET /session          {"subject": the cookie's user}
//	POST /form            {"text": the form's name, "subject": the cookie's user}; 400 without a name
//	POST /empty           204 No Content
func startServer(t *testing.T) string {
	var stats struct{ started, cancelled atomic.Int64 }
	identify := func(r *http.Request) (sse.Identity, error) {
		if c, err := r.Cookie("user"); err == nil {
			return sse.Identity{Subject: c.Value}, nil
		}
		return sse.Identity{}, nil
	}
	newReg := func(limit ratelimit.Limit) *actions.Registry {
		reg, err := actions.New(actions.Options{Identify: identify, RateLimit: limit})
		if err != nil {
			t.Fatal(err)
		}
		actions.Handle(reg, echo, func(ctx context.Context, who sse.Identity, req echoReq) (echoRes, error) {
			return echoRes{Text: req.Text, N: req.N, Subject: who.Subject}, nil
		}, actions.AllowAnonymous())
		actions.Handle(reg, whoami, func(ctx context.Context, who sse.Identity, req struct{}) (echoRes, error) {
			return echoRes{Subject: who.Subject}, nil
		})
		actions.Handle(reg, conflict, func(ctx context.Context, who sse.Identity, req struct{}) (struct{}, error) {
			return struct{}{}, action.Conflict("the board changed: reload it")
		}, actions.AllowAnonymous())
		actions.Handle(reg, slow, func(ctx context.Context, who sse.Identity, req echoReq) (struct{}, error) {
			stats.started.Add(1)
			select {
			case <-ctx.Done():
				stats.cancelled.Add(1)
				return struct{}{}, ctx.Err()
			case <-time.After(10 * time.Second):
				return struct{}{}, nil
			}
		}, actions.AllowAnonymous())
		return reg
	}
	main, untrusted := newReg(ratelimit.Limit{}), newReg(ratelimit.Limit{})
	limited := newReg(ratelimit.Limit{Rate: 0.1, Burst: 1})

	mux := http.NewServeMux()
	mux.Handle("/action/", main)
	mux.Handle("/untrusted/", http.StripPrefix("/untrusted", untrusted))
	mux.Handle("/limited/", http.StripPrefix("/limited", limited))
	mux.HandleFunc("POST /trust", func(w http.ResponseWriter, r *http.Request) {
		for _, reg := range []*actions.Registry{main, limited} {
			if err := reg.TrustOrigin(r.URL.Query().Get("origin")); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
		}
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		c := &http.Cookie{Name: "user", Value: r.URL.Query().Get("user"), Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode}
		if c.Value == "" {
			c.MaxAge = -1
		}
		http.SetCookie(w, c)
	})
	mux.HandleFunc("GET /session", func(w http.ResponseWriter, r *http.Request) {
		who, _ := identify(r)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(echoRes{Subject: who.Subject})
	})
	mux.HandleFunc("POST /form", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
			w.WriteHeader(http.StatusUnsupportedMediaType)
			json.NewEncoder(w).Encode(action.UnsupportedType("a form, not " + ct))
			return
		}
		name := r.PostFormValue("name")
		if name == "" {
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(action.BadRequest("say your name"))
			return
		}
		who, _ := identify(r)
		json.NewEncoder(w).Encode(echoRes{Text: name, Subject: who.Subject})
	})
	mux.HandleFunc("POST /empty", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(slowStats{Started: int(stats.started.Load()), Cancelled: int(stats.cancelled.Load())})
	})
	mux.HandleFunc("POST /raw/action/html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		w.Write([]byte("<html><h1>502 Bad Gateway</h1></html>"))
	})
	mux.HandleFunc("POST /raw/action/text", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("ok"))
	})
	mux.HandleFunc("POST /raw/action/badjson", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"n":"two"}`))
	})
	mux.HandleFunc("POST /redirect/action/echo", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/action/echo", http.StatusTemporaryRedirect)
	})
	nocors := http.StripPrefix("/nocors", main)

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.URL.Path) >= 8 && r.URL.Path[:8] == "/nocors/" {
			nocors.ServeHTTP(w, r)
			return
		}
		cors(mux).ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// cors answers the wasmbrowsertest page, which has its own origin, with
// credentials, as a server's CORS allow-list does for a listed origin.
func cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Add("Vary", "Origin")
		if origin := r.Header.Get("Origin"); origin != "" {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Set("Access-Control-Expose-Headers", "Retry-After")
		}
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", "GET, POST")
			h.Set("Access-Control-Allow-Headers", "Content-Type, Accept")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}
