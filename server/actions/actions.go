// Package actions serves the typed actions of shared/action: the browser
// POSTs a request of a declared type, the server's handler gets the
// decoded value and the caller's identity, and its result or error goes
// back as JSON.
//
//	reg, err := actions.New(actions.Options{
//		Identify:       sessions.Identify,             // the app's own authentication
//		TrustedOrigins: []string{"https://app.example"}, // cross-site pages allowed to call, with cookies
//		RateLimit:      ratelimit.Limit{Rate: 5, Burst: 20},
//	})
//	actions.Handle(reg, demo.SendPrivate, func(ctx context.Context, who sse.Identity, req demo.SendPrivateReq) (demo.Receipt, error) {
//		... // who.Subject is signed in: Handle requires it unless AllowAnonymous
//	})
//	mux.Handle(action.PathPrefix, reg) // "/action/"
//
// Every request passes the same checks, in this order, and a refused one
// never reaches the handler, so bad input changes nothing:
//
//   - the path names a registered action, else 404;
//   - the method is POST, else 405;
//   - it is not a cross-site request (Sec-Fetch-Site, or Origin against
//     Host, and the trusted origins, by [http.CrossOriginProtection]),
//     else 403: a form or fetch from another site cannot act with the
//     user's cookie;
//   - the body is application/json, else 415;
//   - Identify accepts the request, else 401; the action needs a subject
//     (unless registered with [AllowAnonymous]), else 401;
//   - the caller is within the rate limit (per subject, or per client
//     address when anonymous), else 429 with Retry-After;
//   - the body is at most the action's MaxBytes, else 413;
//   - the body is exactly one JSON value of the request type: valid
//     UTF-8, no unknown field, no repeated field, no wrong type, nothing
//     after it; else 400 with a message that says what is wrong.
//
// Each refusal is counted by reason in [Registry.Stats], for the
// binary's metrics. Request bodies and cookies are never logged.
package actions

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ssewasm/ssewasm/server/clientip"
	"github.com/ssewasm/ssewasm/server/ratelimit"
	"github.com/ssewasm/ssewasm/server/sse"
	"github.com/ssewasm/ssewasm/shared/action"
)

// Reasons of refusals, the keys of RegistryStats.Refused; the binary exports
// them as ssewasm_refused_total{reason="..."}.
const (
	RefusedNotFound   = "action_not_found"   // no such action: 404
	RefusedMethod     = "action_method"      // not POST: 405
	RefusedCrossSite  = "action_cross_site"  // a cross-site request: 403
	RefusedMediaType  = "action_media_type"  // not application/json: 415
	RefusedIdentity   = "action_identity"    // Identify failed (a bad cookie): 401
	RefusedSignIn     = "action_sign_in"     // anonymous, and the action needs a subject: 401
	RefusedRate       = "action_rate"        // over Options.RateLimit: 429
	RefusedTooLarge   = "action_too_large"   // over the action's MaxBytes: 413
	RefusedBadRequest = "action_bad_request" // malformed, unknown field, wrong type: 400
)

var reasons = []string{
	RefusedNotFound, RefusedMethod, RefusedCrossSite, RefusedMediaType, RefusedIdentity,
	RefusedSignIn, RefusedRate, RefusedTooLarge, RefusedBadRequest,
}

// DefaultMaxCallers is the default of Options.MaxCallers.
const DefaultMaxCallers = 10000

// Options configure a [Registry]: Options{} serves every caller as
// anonymous, trusts no other origin and sets no rate limit. The zero value of every field is its
// default, which the field documents; a negative number or duration
// turns the feature off or lifts the limit where the field says so, and
// New refuses it elsewhere.
type Options struct {
	// Identify returns the identity of a request, from the app's own
	// authentication (its session cookie). An error refuses the request
	// with 401 and the error's message, or with the status and message
	// of an *action.Error. Default nil: every caller is anonymous.
	Identify func(*http.Request) (sse.Identity, error)

	// TrustedOrigins are the origins ("https://app.example.com") of pages
	// on other sites that may call actions with the user's cookie: the
	// binary's CORS allow-list. "*" is skipped: trusting every site with
	// the user's cookie is what the check is for. Default: none, only
	// same-origin pages.
	TrustedOrigins []string

	// RateLimit bounds how many actions each caller sends: per subject
	// when signed in, per client address when anonymous, so that one
	// user or one address cannot flood the handlers. Bad requests count
	// too. Default zero (or a Rate not above 0): no limit.
	RateLimit ratelimit.Limit

	// MaxCallers bounds the callers the rate limiter tracks, against an
	// attacker with many addresses or accounts (see package ratelimit).
	// Default (0) DefaultMaxCallers.
	MaxCallers int

	// ClientAddr returns the address of an anonymous caller, for its rate
	// limit. Default: clientip.Of(r).Addr, the client behind trusted
	// proxies when the binary installed clientip's handler.
	ClientAddr func(*http.Request) netip.Addr

	// Log receives handler failures: the action's name and the error,
	// never the request body, its cookies or the caller. Default
	// slog.Default().
	Log *slog.Logger
}

// Registry serves the actions registered with [Handle] at
// action.PathPrefix. Make it with [New]; it is safe for concurrent use,
// and actions may be registered while it serves.
type Registry struct {
	opts     Options
	csrf     *http.CrossOriginProtection
	subjects *ratelimit.Limiter // signed-in callers, keyed by subjectKey
	addrs    *ratelimit.Limiter // anonymous callers, keyed by address
	seed     maphash.Seed

	mu      sync.RWMutex
	entries map[string]*entry // guarded by mu

	handled, failed atomic.Uint64
	refused         map[string]*atomic.Uint64 // read-only after New
}

// entry is one registered action, with the types erased.
type entry struct {
	name      string
	maxBytes  int
	anonymous bool
	newReq    func() any // a pointer to a new Req
	call      func(ctx context.Context, who sse.Identity, req any) (any, error)
}

// New returns a registry with opts. It fails on an invalid trusted
// origin.
func New(opts Options) (*Registry, error) {
	if opts.ClientAddr == nil {
		opts.ClientAddr = func(r *http.Request) netip.Addr { return clientip.Of(r).Addr }
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.MaxCallers < 0 {
		return nil, fmt.Errorf("actions: Options.MaxCallers is %d; use a positive count, or 0 for the default %d", opts.MaxCallers, DefaultMaxCallers)
	}
	opts.MaxCallers = cmp.Or(opts.MaxCallers, DefaultMaxCallers)
	reg := &Registry{
		opts:    opts,
		csrf:    http.NewCrossOriginProtection(),
		seed:    maphash.MakeSeed(),
		entries: make(map[string]*entry),
		refused: make(map[string]*atomic.Uint64, len(reasons)),
	}
	for _, o := range opts.TrustedOrigins {
		if err := reg.TrustOrigin(o); err != nil {
			return nil, err
		}
	}
	if opts.RateLimit.Rate > 0 {
		reg.subjects = ratelimit.New(opts.RateLimit, ratelimit.Limit{}, opts.MaxCallers)
		reg.addrs = ratelimit.New(opts.RateLimit, ratelimit.Limit{}, opts.MaxCallers)
	}
	for _, r := range reasons {
		reg.refused[r] = new(atomic.Uint64)
	}
	return reg, nil
}

// TrustOrigin adds a trusted origin (see Options.TrustedOrigins), also
// while the registry serves.
func (reg *Registry) TrustOrigin(origin string) error {
	if origin == "*" {
		return nil
	}
	if err := reg.csrf.AddTrustedOrigin(origin); err != nil {
		return fmt.Errorf("actions: trusted origin %q: %w; write it as scheme://host[:port]", origin, err)
	}
	return nil
}

// Option configures one action in [Handle].
type Option func(*entry)

// AllowAnonymous lets callers without a subject call the action. Without
// it, an anonymous caller gets 401.
func AllowAnonymous() Option { return func(e *entry) { e.anonymous = true } }

// Handle registers h for a: h gets the request's context, the caller's
// identity and the decoded request, and returns the result or an error.
// An *action.Error (errors.As) is the answer as it is; any other error
// answers 500 with a message that says nothing more, and is logged. It
// panics when an action of that name is registered already: handlers are
// registered once, at start-up.
func Handle[Req, Res any](reg *Registry, a action.Action[Req, Res], h func(ctx context.Context, who sse.Identity, req Req) (Res, error), opts ...Option) {
	// The generic part is kept to the two conversions; everything else
	// is shared by every action.
	e := &entry{
		name:     a.Name(),
		maxBytes: a.MaxBytes(),
		newReq:   func() any { return new(Req) },
		call: func(ctx context.Context, who sse.Identity, req any) (any, error) {
			return h(ctx, who, *req.(*Req))
		},
	}
	if e.name == "" {
		panic("actions: Handle: a zero Action: declare it with action.New")
	}
	for _, o := range opts {
		o(e)
	}
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if _, dup := reg.entries[e.name]; dup {
		panic("actions: Handle: the action " + strconv.Quote(e.name) + " is registered twice")
	}
	reg.entries[e.name] = e
}

// RegistryStats are a registry's counters.
type RegistryStats struct {
	Handled uint64            // requests whose handler returned a result
	Failed  uint64            // requests whose handler returned an error
	Refused map[string]uint64 // refused requests by reason (Refused...), every reason present
}

// Stats returns the registry's counters.
func (reg *Registry) Stats() RegistryStats {
	s := RegistryStats{Handled: reg.handled.Load(), Failed: reg.failed.Load(), Refused: make(map[string]uint64, len(reg.refused))}
	for r, n := range reg.refused {
		s.Refused[r] = n.Load()
	}
	return s
}

// ServeHTTP serves POST action.PathPrefix+name: see the package doc.
func (reg *Registry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, _ := strings.CutPrefix(r.URL.Path, action.PathPrefix)
	reg.mu.RLock()
	e := reg.entries[name]
	reg.mu.RUnlock()
	if e == nil {
		reg.refuse(w, RefusedNotFound, action.NotFound("no action named "+clip(name)))
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		reg.refuse(w, RefusedMethod, action.MethodNotAllowed("an action is called with POST, not "+clip(r.Method)))
		return
	}
	if err := reg.csrf.Check(r); err != nil {
		reg.refuse(w, RefusedCrossSite, action.Forbidden("a cross-site request: actions are called from this site's pages or a trusted origin"))
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != action.ContentType {
		reg.refuse(w, RefusedMediaType, action.UnsupportedType("the body must be "+action.ContentType+", not "+clip(r.Header.Get("Content-Type"))))
		return
	}
	var who sse.Identity
	if reg.opts.Identify != nil {
		id, err := reg.opts.Identify(r)
		if err != nil {
			ae, ok := errors.AsType[*action.Error](err)
			if !ok {
				ae = action.Unauthorized(err.Error())
			}
			reg.refuse(w, RefusedIdentity, ae)
			return
		}
		who = id
	}
	if who.Subject == "" && !e.anonymous {
		reg.refuse(w, RefusedSignIn, action.Unauthorized("sign in first: the action "+strconv.Quote(e.name)+" needs a signed-in user"))
		return
	}
	if err := reg.allow(r, who); err != nil {
		ex, _ := errors.AsType[*ratelimit.ExceededError](err)
		reg.refuse(w, RefusedRate, action.RateLimited(fmt.Sprintf("too many actions (%g a second, bursts of %d): retry in %v",
			ex.Limit.Rate, ex.Limit.Burst, ex.Wait.Round(time.Millisecond)), ex.Wait))
		return
	}
	tooLarge := action.TooLarge("the body is over " + strconv.Itoa(e.maxBytes) + " bytes, the limit of " + strconv.Quote(e.name))
	if r.ContentLength > int64(e.maxBytes) {
		reg.refuse(w, RefusedTooLarge, tooLarge)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(e.maxBytes)))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			reg.refuse(w, RefusedTooLarge, tooLarge)
			return
		}
		reg.refuse(w, RefusedBadRequest, action.BadRequest("the body could not be read"))
		return
	}
	req := e.newReq()
	if err := decode(body, req); err != nil {
		reg.refuse(w, RefusedBadRequest, action.BadRequest(err.Error()))
		return
	}

	res, err := e.call(r.Context(), who, req)
	if err != nil {
		reg.failed.Add(1)
		ae, ok := errors.AsType[*action.Error](err)
		if !ok {
			if r.Context().Err() != nil {
				return // the caller is gone: nobody reads an answer
			}
			reg.opts.Log.Error("actions: the handler failed", "action", e.name, "err", err)
			ae = action.Internal("the action failed; the server logged why")
		}
		writeError(w, ae)
		return
	}
	b, err := json.Marshal(res)
	if err != nil {
		reg.failed.Add(1)
		reg.opts.Log.Error("actions: the result does not encode", "action", e.name, "err", err)
		writeError(w, action.Internal("the result does not encode; the server logged why"))
		return
	}
	reg.handled.Add(1)
	writeJSON(w, http.StatusOK, b)
}

// allow takes a token of the caller's rate limit.
func (reg *Registry) allow(r *http.Request, who sse.Identity) error {
	if reg.subjects == nil {
		return nil
	}
	if who.Subject != "" {
		return reg.subjects.Allow(reg.subjectKey(who.Subject))
	}
	return reg.addrs.Allow(reg.opts.ClientAddr(r))
}

// subjectKey maps a subject to the key of its bucket in the subjects'
// limiter, which counts IPv6 addresses by /64: a keyed 64-bit hash of the
// subject, as the /64. The seed is random per registry, so no caller can
// choose subjects that share a bucket.
func (reg *Registry) subjectKey(subject string) netip.Addr {
	h := maphash.String(reg.seed, subject)
	var a [16]byte
	for i := range 8 {
		a[i] = byte(h >> (56 - 8*i))
	}
	return netip.AddrFrom16(a)
}

func (reg *Registry) refuse(w http.ResponseWriter, reason string, e *action.Error) {
	reg.refused[reason].Add(1)
	writeError(w, e)
}

// writeError answers e: its status (500 if it is not an error status),
// Retry-After when it has one, and its JSON.
func writeError(w http.ResponseWriter, e *action.Error) {
	status := e.Status
	if status < 400 || status > 599 {
		status = http.StatusInternalServerError
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(e.RetryAfter.Seconds()))))
	}
	b, _ := e.MarshalJSON() // strings only: it cannot fail
	writeJSON(w, status, b)
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", action.ContentType)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}

// clip quotes s for a message, cut to 40 bytes.
func clip(s string) string {
	if len(s) > 40 {
		return strconv.Quote(s[:40]) + "…"
	}
	return strconv.Quote(s)
}
