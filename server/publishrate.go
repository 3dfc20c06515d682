package main

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/ssewasm/ssewasm/server/clientip"
	"github.com/ssewasm/ssewasm/server/ratelimit"
)

// limitPublishes answers 429 with Retry-After to a POST /publish that l
// refuses (-publish-rate per client address, as clientip resolves it,
// so that behind -trusted-proxy the forwarded client counts, not the
// proxy; -publish-rate-global for the server), before the publish
// handler reads its body, and counts it (refusedPublishRate,
// refusedPublishRateGlobal). Retry-After is the whole seconds until a
// token is back. Other methods pass, for the handler's 405. A nil l
// passes everything.
func limitPublishes(next http.Handler, l *ratelimit.Limiter, ref *refusals) http.Handler {
	if l == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			next.ServeHTTP(w, r)
			return
		}
		ex, refused := errors.AsType[*ratelimit.ExceededError](l.Allow(clientip.Of(r).Addr))
		if !refused {
			next.ServeHTTP(w, r)
			return
		}
		secs := max(int64(math.Ceil(ex.Wait.Seconds())), 1)
		var msg string
		if ex.Scope == ratelimit.PerAddr {
			ref.add(refusedPublishRate)
			msg = fmt.Sprintf("%s publishes over the limit per address (-publish-rate %g a second, bursts of -publish-burst %d): retry in %d s", ex.Key, ex.Limit.Rate, ex.Limit.Burst, secs)
		} else {
			ref.add(refusedPublishRateGlobal)
			msg = fmt.Sprintf("the server's publishes are over their global limit (-publish-rate-global %g a second, bursts of -publish-burst-global %d): retry in %d s", ex.Limit.Rate, ex.Limit.Burst, secs)
		}
		// Not a byte of the body: answer at once, and close after it.
		setPublishReadDeadline(w, time.Now(), true)
		w.Header().Set("Connection", "close")
		w.Header().Set("Retry-After", fmt.Sprint(secs))
		writeError(w, http.StatusTooManyRequests, msg)
	})
}
