package main

import (
	"net/http"
	"slices"
)

// cors answers cross-origin requests from an allow-list of origins. A
// listed origin is echoed with credentials allowed; "*" allows any origin
// but never with credentials (browsers refuse that pair, and it would hand
// cookies to every site). Requests from other origins get no CORS headers,
// so browsers keep their answers from the page.
func cors(next http.Handler, allowed []string) http.Handler {
	if len(allowed) == 0 {
		return next
	}
	anyOrigin := slices.Contains(allowed, "*")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		h := w.Header()
		h.Add("Vary", "Origin")
		switch {
		case origin == "":
		case slices.Contains(allowed, origin):
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
		case anyOrigin:
			h.Set("Access-Control-Allow-Origin", "*")
		default:
			origin = "" // not allowed: answer as to a same-origin request
		}
		if origin != "" {
			// The page may read whether its publish was a retry, and the
			// wasm client's status probe reads Retry-After on 429 and 503
			// to wait before reopening (docs/protocol.md).
			h.Set("Access-Control-Expose-Headers", replayedHeader+", Retry-After")
		}
		if r.Method == http.MethodOptions && origin != "" && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Idempotency-Key, Last-Event-ID")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}
