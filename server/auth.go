package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/ssewasm/ssewasm/server/clientip"
	"github.com/ssewasm/ssewasm/server/ratelimit"
	"github.com/ssewasm/ssewasm/server/session"
	"github.com/ssewasm/ssewasm/server/sse"
	"github.com/ssewasm/ssewasm/shared/action"
	"github.com/ssewasm/ssewasm/shared/demo"
	"github.com/ssewasm/ssewasm/shared/topic"
)

// The demo's sign-in: a name only, no password (it is a demo), in a
// signed session cookie (package session); the HTTP contract is in
// docs/protocol.md.
//
//	POST /login           form field name: sets the cookie
//	POST /logout          revokes the session everywhere, clears the cookie
//	POST /session/renew   a fresh cookie for a valid, unrevoked session
//	GET  /session         who am I
//	POST /ticket          a single-use ticket for /events?...&ticket=…
const (
	loginPath   = "/login"
	logoutPath  = "/logout"
	renewPath   = "/session/renew"
	sessionPath = "/session"
	ticketPath  = "/ticket"
	// chatPath is where a plain form's sign-in and sign-out lead: the
	// page where signed-in users talk.
	chatPath = "/chat"
	// ticketParam is the query parameter of /events that carries a
	// ticket. The access log never writes a query (accesslog.go).
	ticketParam = "ticket"
)

// maxFormBytes bounds the body of a sign-in form, against a client that
// sends megabytes to make the server parse them: a name is 32 bytes.
const maxFormBytes = 4 << 10

// maxLoginAddrs bounds the client addresses -login-rate tracks, against
// a flood from many addresses (see package ratelimit).
const maxLoginAddrs = 10000

// revokeTimeout bounds a sign-out's revocation: the engine may be remote.
const revokeTimeout = 10 * time.Second

// auth signs users in and out, and says who a request is for: the
// broker's and the actions' Identify hooks, and the topics they may read
// (the demo's declarations in shared/demo).
type auth struct {
	sessions *session.Manager
	broker   *sse.Broker // set once the broker is made, before serving
	topics   *topic.Set
	maxAge   time.Duration // how long after sign-in a session may be renewed: how long a revocation is remembered
	logins   *ratelimit.Limiter
	csrf     *http.CrossOriginProtection
	refused  *refusals
}

// newAuth makes the sessions from the flags: a shared key, or a random
// one with a warning.
func newAuth(cfg config, refused *refusals, log *slog.Logger) (*auth, error) {
	var keys [][]byte
	switch {
	case cfg.sessionKeyFile != "":
		k, err := session.ReadKeyFile(cfg.sessionKeyFile)
		if err != nil {
			return nil, fmt.Errorf("-session-key-file: %w", err)
		}
		keys = k
	case cfg.sessionKey != "":
		k, err := session.ParseKey(cfg.sessionKey)
		if err != nil {
			return nil, fmt.Errorf("-session-key: %w", err)
		}
		keys = [][]byte{k}
	default:
		log.Warn("sessions are signed with a random key: they end when this process does, and other instances cannot verify them; give every instance the same -session-key-file (or -session-key)")
		keys = [][]byte{session.RandomKey()}
	}
	a := &auth{topics: demoTopics(), refused: refused, csrf: http.NewCrossOriginProtection()}
	m, err := session.New(session.Options{
		Keys:     keys,
		Lifetime: cfg.sessionLifetime,
		MaxAge:   cfg.sessionMaxAge,
		Secure:   cfg.sessionSecure,
		Once: func(ctx context.Context, nonce string) (bool, error) {
			return a.broker.ConsumeOnce(ctx, "ticket-"+nonce)
		},
	})
	if err != nil {
		return nil, err
	}
	a.sessions = m
	a.maxAge = cfg.sessionMaxAge
	if a.maxAge == 0 {
		a.maxAge = 7 * cfg.sessionLifetime // session's default
	}
	if cfg.loginRate > 0 {
		a.logins = ratelimit.New(ratelimit.Limit{Rate: cfg.loginRate, Burst: cfg.loginBurst}, ratelimit.Limit{}, maxLoginAddrs)
	}
	for _, o := range cfg.allowOrigins {
		if o == "*" { // any site with the user's cookie is what the check stops
			continue
		}
		if err := a.csrf.AddTrustedOrigin(o); err != nil {
			return nil, fmt.Errorf("-allow-origin %s: %w", o, err)
		}
	}
	return a, nil
}

// demoTopics is every topic the demo declares: the server decides access
// with them. Undeclared topics are public, as before issue 21.
func demoTopics() *topic.Set {
	set, err := topic.NewSet(demo.Room, demo.Inbox, demo.StatsTopic, demo.BoardTopic)
	if err != nil {
		panic(err) // declarations are fixed: a test builds them
	}
	return set
}

// routes serves the sign-in endpoints on mux.
func (a *auth) routes(mux *http.ServeMux) {
	mux.HandleFunc("POST "+loginPath, a.login)
	mux.HandleFunc("POST "+logoutPath, a.logout)
	mux.HandleFunc("POST "+renewPath, a.renew)
	mux.HandleFunc("GET "+sessionPath, a.who)
	mux.HandleFunc("POST "+ticketPath, a.ticket)
}

// sessionError answers status with msg as an action's error
// ({"error":{"code":…,"message":…}}, shared/action), so that a client
// reads the session endpoints and the actions alike (wasm/call's
// *action.Error).
func sessionError(w http.ResponseWriter, status int, msg string) {
	code := action.CodeInternal
	switch status {
	case http.StatusBadRequest:
		code = action.CodeBadRequest
	case http.StatusUnauthorized:
		code = action.CodeUnauthorized
	case http.StatusForbidden:
		code = action.CodeForbidden
	case http.StatusUnsupportedMediaType:
		code = action.CodeUnsupportedType
	case http.StatusTooManyRequests:
		code = action.CodeRateLimited
	case http.StatusServiceUnavailable:
		code = action.CodeUnavailable
	}
	b, _ := (&action.Error{Status: status, Code: code, Message: msg}).MarshalJSON() // strings only: it cannot fail
	h := w.Header()
	h.Set("Content-Type", action.ContentType)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n')) //nolint:errcheck // the client went away
}

// refuse answers a refusal with a JSON error and counts it.
func (a *auth) refuse(w http.ResponseWriter, reason string, status int, msg string) {
	if reason != "" {
		a.refused.add(reason)
	}
	sessionError(w, status, msg)
}

// sameSite refuses a cross-site POST (a form or fetch of another site
// riding on the user's cookie: login CSRF, forced sign-out) with 403:
// Sec-Fetch-Site, or Origin against Host, and the -allow-origin list,
// as the actions check them. It reports whether r may go on.
func (a *auth) sameSite(w http.ResponseWriter, r *http.Request) bool {
	if err := a.csrf.Check(r); err != nil {
		a.refuse(w, refusedCrossSite, http.StatusForbidden, "a cross-site request: sign-in requests come from this site's pages or an -allow-origin")
		return false
	}
	return true
}

// login serves POST /login: form field name, a user name of
// demo.UserNames. It sets the session cookie and answers the session in
// JSON to a fetch (Accept: application/json), or 303 to the chat page
// to a plain form.
func (a *auth) login(w http.ResponseWriter, r *http.Request) {
	if !a.sameSite(w, r) {
		return
	}
	if a.logins != nil {
		if ex, refused := errors.AsType[*ratelimit.ExceededError](a.logins.Allow(clientip.Of(r).Addr)); refused {
			secs := max(int64(math.Ceil(ex.Wait.Seconds())), 1)
			w.Header().Set("Retry-After", fmt.Sprint(secs))
			a.refuse(w, refusedLoginRate, http.StatusTooManyRequests, fmt.Sprintf("too many sign-ins from this address (-login-rate %g a second, bursts of %d): retry in %d s", ex.Limit.Rate, ex.Limit.Burst, secs))
			return
		}
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" && mt != "multipart/form-data" {
		a.refuse(w, refusedLoginName, http.StatusUnsupportedMediaType, "send the form field name, as application/x-www-form-urlencoded")
		return
	}
	var err error
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "multipart/form-data" { // a fetch with FormData
		err = r.ParseMultipartForm(maxFormBytes)
	} else {
		err = r.ParseForm()
	}
	if err != nil {
		a.refuse(w, refusedLoginName, http.StatusBadRequest, "the form could not be read: send name=<your name>, at most a few bytes")
		return
	}
	name := r.PostForm.Get("name")
	if err := demo.UserNames.Check(name); err != nil {
		a.refuse(w, refusedLoginName, http.StatusBadRequest, err.Error()+": pick another name")
		return
	}
	s, token, err := a.sessions.Issue(name)
	if err != nil { // a valid name is a valid subject: not reached
		sessionError(w, http.StatusInternalServerError, "signing in failed")
		return
	}
	http.SetCookie(w, a.sessions.Cookie(r, token, s))
	a.answer(w, r, sessionAnswer(s))
}

// answer answers a sign-in request: the session in JSON to a fetch that
// accepts JSON, 303 to the chat page to a plain form.
func (a *auth) answer(w http.ResponseWriter, r *http.Request, s demo.Session) {
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, s)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, chatPath, http.StatusSeeOther)
}

// wantsJSON reports whether the request accepts a JSON answer: a fetch,
// not a browser's form.
func wantsJSON(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept") {
		for part := range strings.SplitSeq(v, ",") {
			if mt, _, err := mime.ParseMediaType(part); err == nil && mt == action.ContentType {
				return true
			}
		}
	}
	return false
}

func sessionAnswer(s session.Session) demo.Session {
	return demo.Session{Subject: s.Subject, Expires: s.Expires.UnixMilli()}
}

// cookieSession returns the session of r's cookie, expired or not (a
// session can be renewed, so revoked, until its max age), or why there
// is none, counted.
func (a *auth) cookieSession(r *http.Request) (session.Session, error) {
	c, err := r.Cookie(a.sessions.CookieName())
	if err != nil {
		return session.Session{}, session.ErrNoCookie
	}
	s, err := a.sessions.Verify(c.Value)
	if errors.Is(err, session.ErrExpired) {
		s, _, err = a.sessions.Renew(c.Value) // the session, as a renewal would extend it; nothing is sent
	}
	if err != nil {
		a.countSession(err)
	}
	return s, err
}

// countSession counts a bad session cookie or ticket by its reason.
func (a *auth) countSession(err error) {
	if reason := session.Reason(err); reason != "" && reason != "session_no_cookie" {
		a.refused.add(reason)
	}
}

// logout serves POST /logout: it revokes the session on every instance
// (each of its streams loses its private topics at once, and the session
// is refused from now on) and clears the cookie. Without a valid
// session it only clears the cookie.
func (a *auth) logout(w http.ResponseWriter, r *http.Request) {
	if !a.sameSite(w, r) {
		return
	}
	// A session already revoked is not revoked again: a client replaying
	// a cookie it kept would otherwise make every POST /logout a publish
	// on the control topic that every instance applies.
	if s, err := a.cookieSession(r); err == nil && !a.broker.Revoked(s.Identity()) {
		ctx, cancel := context.WithTimeout(r.Context(), revokeTimeout)
		defer cancel()
		if err := a.broker.Revoke(ctx, sse.Revocation{Subject: s.Subject, Session: s.ID, Until: s.Issued.Add(a.maxAge)}); err != nil {
			w.Header().Set("Retry-After", "1")
			sessionError(w, http.StatusServiceUnavailable, "signing out everywhere failed: retry in a second")
			return
		}
	}
	http.SetCookie(w, a.sessions.ClearCookie(r))
	a.answer(w, r, demo.Session{})
}

// renew serves POST /session/renew: a fresh cookie for the session of
// the cookie sent, valid or expired, unless it is revoked or older than
// -session-max-age.
func (a *auth) renew(w http.ResponseWriter, r *http.Request) {
	if !a.sameSite(w, r) {
		return
	}
	c, err := r.Cookie(a.sessions.CookieName())
	if err != nil {
		a.refuse(w, "", http.StatusUnauthorized, session.ErrNoCookie.Error())
		return
	}
	s, token, err := a.sessions.Renew(c.Value)
	if err != nil {
		a.countSession(err)
		sessionError(w, http.StatusUnauthorized, err.Error())
		return
	}
	if a.broker.Revoked(s.Identity()) {
		http.SetCookie(w, a.sessions.ClearCookie(r))
		a.refuse(w, refusedSessionRevoked, http.StatusUnauthorized, sse.ErrRevoked.Error())
		return
	}
	http.SetCookie(w, a.sessions.Cookie(r, token, s))
	writeJSON(w, http.StatusOK, sessionAnswer(s))
}

// who serves GET /session: the session's user and expiry, or an empty
// subject when nobody is signed in; 401 for a cookie that is expired
// (renew it), revoked or bad.
func (a *auth) who(w http.ResponseWriter, r *http.Request) {
	s, err := a.sessions.FromRequest(r)
	switch {
	case errors.Is(err, session.ErrNoCookie):
		writeJSON(w, http.StatusOK, demo.Session{})
	case err != nil:
		a.countSession(err)
		sessionError(w, http.StatusUnauthorized, err.Error())
	case a.broker.Revoked(s.Identity()):
		a.refuse(w, refusedSessionRevoked, http.StatusUnauthorized, sse.ErrRevoked.Error())
	default:
		writeJSON(w, http.StatusOK, sessionAnswer(s))
	}
}

// ticketAnswer is what POST /ticket answers.
type ticketAnswer struct {
	Ticket  string `json:"ticket"`
	Expires int64  `json:"expires"` // Unix milliseconds
}

// ticket serves POST /ticket: a single-use ticket standing for the
// session of the cookie, for a page on another origin (an -allow-origin,
// with credentials) whose EventSource cannot send the cookie.
func (a *auth) ticket(w http.ResponseWriter, r *http.Request) {
	if !a.sameSite(w, r) {
		return
	}
	s, err := a.sessions.FromRequest(r)
	switch {
	case err != nil:
		a.countSession(err)
		sessionError(w, http.StatusUnauthorized, err.Error())
		return
	case a.broker.Revoked(s.Identity()):
		a.refuse(w, refusedSessionRevoked, http.StatusUnauthorized, sse.ErrRevoked.Error())
		return
	}
	t, token, err := a.sessions.IssueTicket(s)
	if err != nil {
		sessionError(w, http.StatusUnauthorized, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, ticketAnswer{Ticket: token, Expires: t.ValidUntil.UnixMilli()})
}

// identifyStream is the broker's Identify: a ticket in the query stands
// for its session once; otherwise the session cookie. A bad ticket is
// refused (401); a bad cookie is counted and the stream is anonymous, so
// that a stale cookie (an old key, an expired session) does not keep
// anyone from public topics, while private ones answer 401.
func (a *auth) identifyStream(r *http.Request) (sse.Identity, error) {
	if token := r.URL.Query().Get(ticketParam); token != "" {
		t, err := a.sessions.RedeemTicket(r.Context(), token)
		if err != nil {
			a.countSession(err)
			return sse.Identity{}, &sse.StatusError{Code: http.StatusUnauthorized, Err: err}
		}
		return t.Session.Identity(), nil
	}
	return a.identifyCookie(r), nil
}

// identifyCookie returns the identity of r's session cookie, anonymous
// without a valid one (counted).
func (a *auth) identifyCookie(r *http.Request) sse.Identity {
	id, err := a.sessions.Identify(r)
	if err != nil {
		a.countSession(err)
		return sse.Identity{}
	}
	return id
}

// identifyAction is the actions' Identify: the session cookie, refused
// when revoked (a copy of a signed-out cookie).
func (a *auth) identifyAction(r *http.Request) (sse.Identity, error) {
	id := a.identifyCookie(r)
	if id.Subject != "" && a.broker.Revoked(id) {
		a.refused.add(refusedSessionRevoked)
		return sse.Identity{}, action.Unauthorized(sse.ErrRevoked.Error())
	}
	return id, nil
}

// mayRead is the broker's MayRead: a declared topic by its rule, any
// other topic to anyone.
func (a *auth) mayRead(id sse.Identity, name string) bool {
	declared, ok := a.topics.MayRead(id.Subject, name)
	return ok || !declared
}

// checkTopics is the broker's Authorize: a topic name in a family's
// namespace must match its key syntax ("user/Alice", "user/alice/../bob",
// "user/" are refused with 400), before any identity is looked at.
func (a *auth) checkTopics(_ *http.Request, topics []string) error {
	for _, t := range topics {
		if err := a.topics.Check(t); err != nil {
			return &sse.StatusError{Code: http.StatusBadRequest, Err: fmt.Errorf("topic %s is outside its family's names: %w", clipText(t, 80), err)}
		}
	}
	return nil
}

// private reports whether publishing to name needs the publish token: a
// declared topic that not everyone may read (a user's inbox, the room),
// or a name in a family's namespace.
func (a *auth) private(name string) bool {
	declared, anyone := a.topics.MayRead("", name)
	return declared && !anyone
}

// countRejects is the broker's Hooks.OnReject: a topic name outside its
// pattern or the topic syntax (400) counts as refusedTopicName; the
// broker counts the refusals for identities itself (BrokerStats).
func (a *auth) countRejects(_ *http.Request, reason error) {
	if errors.Is(reason, topic.ErrInvalidKey) || errors.Is(reason, sse.ErrInvalidTopic) {
		a.refused.add(refusedTopicName)
	}
}
