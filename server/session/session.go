// Package session signs users in with a cookie: a signed, HttpOnly
// session cookie that says who the user is, which sign-in it is and until
// when it holds, checked on every request without a database; and
// single-use tickets for pages on other origins, which cannot send the
// cookie with an EventSource.
//
//	m, err := session.New(session.Options{Keys: keys, Lifetime: time.Hour})
//
//	// POST /login, once the app knows who it is:
//	s, token, err := m.Issue("alice")
//	http.SetCookie(w, m.Cookie(r, token, s))
//
//	// every request: the broker's and the actions' Identify hook
//	who, err := m.Identify(r) // anonymous without a cookie; ErrExpired, ErrForged, ... for a bad one
//
//	// POST /session/renew, after the stream said the session expired
//	// (check first that the session is not revoked):
//	s, token, err = m.Renew(oldToken) // allowed up to Options.MaxAge after sign-in
//
// A cookie's value is "s1." + base64url(payload) + "." +
// base64url(HMAC-SHA256): the payload holds the ID of the signing key,
// the sign-in time, the expiry, a random 128-bit session ID and the
// subject. "s1" is the format's version; tickets use "t1", signed apart,
// so neither can stand in for the other. Several keys verify (the first
// signs), so that keys can be rotated without signing everyone out; the
// instances behind one load balancer must share them.
//
// Every hostile case has its own error, so that the binary counts each by
// [Reason]: [ErrMalformed], [ErrUnknownKey], [ErrForged], [ErrExpired],
// [ErrTooOld], [ErrTicketExpired], [ErrTicketReplayed]. No error holds
// the token: errors end up in logs.
package session

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ssewasm/ssewasm/server/sse"
)

// Defaults of [Options].
const (
	DefaultCookieName     = "ssewasm_session"
	DefaultLifetime       = time.Hour
	DefaultTicketLifetime = 30 * time.Second
)

// MaxSubjectLen is the longest subject, in bytes.
const MaxSubjectLen = 256

// MaxTokenLen bounds the tokens Verify looks at: a token of the longest
// subject is about 420 bytes, and a longer one is refused before any
// decoding, so that a hostile cookie costs nothing.
const MaxTokenLen = 1024

// The errors of the hostile cases; each is wrapped with what is wrong.
var (
	ErrNoCookie       = errors.New("session: no session cookie: sign in")
	ErrMalformed      = errors.New("session: malformed token")
	ErrUnknownKey     = errors.New("session: signed with a key this server does not hold (rotated out, or instances that do not share the key)")
	ErrForged         = errors.New("session: the signature does not match: the token was altered or forged")
	ErrExpired        = errors.New("session: the session expired: renew it")
	ErrTooOld         = errors.New("session: the sign-in is older than the longest session: sign in again")
	ErrTicketExpired  = errors.New("session: the ticket expired: ask for a new one")
	ErrTicketReplayed = errors.New("session: ticket already used")
)

// Reason returns the metric label of err, one of the errors above
// ("session_forged", ...), or "" for any other error.
func Reason(err error) string {
	for _, r := range []struct {
		err   error
		label string
	}{
		{ErrNoCookie, "session_no_cookie"},
		{ErrMalformed, "session_malformed"},
		{ErrUnknownKey, "session_unknown_key"},
		{ErrForged, "session_forged"},
		{ErrExpired, "session_expired"},
		{ErrTooOld, "session_too_old"},
		{ErrTicketExpired, "session_ticket_expired"},
		{ErrTicketReplayed, "session_ticket_replayed"},
	} {
		if errors.Is(err, r.err) {
			return r.label
		}
	}
	return ""
}

// Options configure a [Manager]. Keys is required. The zero value of every field is its
// default, which the field documents; a negative number or duration
// turns the feature off or lifts the limit where the field says so, and
// New refuses it elsewhere.
type Options struct {
	// Keys sign and verify: the first signs, every one verifies. Each is
	// at least MinKeyLen random bytes (see [ParseKey], [ReadKeyFile],
	// [RandomKey]). Required.
	Keys [][]byte

	// Lifetime is how long one cookie's grants last; a renewal issues a
	// new cookie. Default (0) DefaultLifetime.
	Lifetime time.Duration

	// MaxAge is how long after sign-in a session may still be renewed;
	// after it the user signs in again. Default (0) 7 × Lifetime.
	MaxAge time.Duration

	// TicketLifetime is how long a ticket is valid: a few seconds, the
	// time for a page to open its stream. Default (0)
	// DefaultTicketLifetime.
	TicketLifetime time.Duration

	// CookieName is the cookie's name. Default DefaultCookieName.
	CookieName string

	// Secure marks cookies Secure even on plain-HTTP requests, for a
	// server behind a proxy that terminates TLS. Requests that came over
	// TLS always get Secure cookies. Default false.
	Secure bool

	// Once makes tickets single-use: it returns true the first time it
	// sees a nonce and false every later time, on every instance (the
	// broker's ConsumeOnce). RedeemTicket fails without it. Default nil.
	Once func(ctx context.Context, nonce string) (first bool, err error)

	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Manager issues and verifies sessions and tickets. Make it with [New];
// it is safe for concurrent use.
type Manager struct {
	opts Options
	keys []key // keys[0] signs
}

// New returns a Manager with opts, or an error that says which option
// is wrong.
func New(opts Options) (*Manager, error) {
	if len(opts.Keys) == 0 {
		return nil, errors.New("session: no key: give at least one of MinKeyLen random bytes (session.RandomKey, or a shared key for several instances)")
	}
	m := &Manager{}
	for i, k := range opts.Keys {
		if len(k) < MinKeyLen {
			return nil, fmt.Errorf("session: key %d has %d bytes, want at least %d random bytes", i+1, len(k), MinKeyLen)
		}
		nk := newKey(k)
		for _, other := range m.keys {
			if other.id == nk.id {
				return nil, fmt.Errorf("session: key %d is given twice", i+1)
			}
		}
		m.keys = append(m.keys, nk)
	}
	if opts.Lifetime == 0 {
		opts.Lifetime = DefaultLifetime
	}
	if opts.MaxAge == 0 {
		opts.MaxAge = 7 * opts.Lifetime
	}
	if opts.TicketLifetime == 0 {
		opts.TicketLifetime = DefaultTicketLifetime
	}
	switch {
	case opts.Lifetime < time.Second:
		return nil, fmt.Errorf("session: Lifetime %v, want at least 1s", opts.Lifetime)
	case opts.MaxAge < opts.Lifetime:
		return nil, fmt.Errorf("session: MaxAge %v is shorter than Lifetime %v", opts.MaxAge, opts.Lifetime)
	case opts.TicketLifetime < 0:
		return nil, fmt.Errorf("session: TicketLifetime %v is negative", opts.TicketLifetime)
	}
	if opts.CookieName == "" {
		opts.CookieName = DefaultCookieName
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	m.opts = opts
	return m, nil
}

// Session is one sign-in.
type Session struct {
	Subject string    // who
	ID      string    // the session's random ID, 22 base64url characters
	Issued  time.Time // when the user signed in; renewals keep it
	Expires time.Time // when this cookie's grants end
}

// Identity returns the session as the broker and the actions know it.
func (s Session) Identity() sse.Identity {
	return sse.Identity{Subject: s.Subject, Session: s.ID, Issued: s.Issued, Expires: s.Expires}
}

// Issue signs subject in: a new session with a random ID, valid for
// Lifetime, and its token, the cookie's value. subject is 1 to
// [MaxSubjectLen] bytes of UTF-8 without control characters.
func (m *Manager) Issue(subject string) (Session, string, error) {
	if err := checkSubject(subject); err != nil {
		return Session{}, "", err
	}
	id := make([]byte, idLen)
	rand.Read(id) // never fails (crypto/rand)
	now := m.now()
	s := Session{Subject: subject, ID: b64.EncodeToString(id), Issued: now, Expires: now.Add(m.opts.Lifetime)}
	return s, m.sign(m.keys[0], s), nil
}

// Verify returns the session of a token that this Manager's keys signed
// and that has not expired, or an error wrapping ErrMalformed,
// ErrUnknownKey, ErrForged or ErrExpired.
func (m *Manager) Verify(token string) (Session, error) {
	s, err := m.open(token)
	if err != nil {
		return Session{}, err
	}
	if !m.now().Before(s.Expires) {
		return Session{}, fmt.Errorf("%w (at %s)", ErrExpired, s.Expires.UTC().Format(time.RFC3339))
	}
	return s, nil
}

// Renew returns a new cookie for the session of token, which may have
// expired: the same subject, ID and sign-in time, valid for another
// Lifetime but never past MaxAge after sign-in. A sign-in older than
// MaxAge gets ErrTooOld. Renew does not know revocations: check that
// the session is not revoked before renewing it.
func (m *Manager) Renew(token string) (Session, string, error) {
	s, err := m.open(token)
	if err != nil {
		return Session{}, "", err
	}
	now := m.now()
	end := s.Issued.Add(m.opts.MaxAge)
	if !now.Before(end) {
		return Session{}, "", fmt.Errorf("%w (signed in at %s)", ErrTooOld, s.Issued.UTC().Format(time.RFC3339))
	}
	s.Expires = now.Add(m.opts.Lifetime)
	if s.Expires.After(end) {
		s.Expires = end
	}
	return s, m.sign(m.keys[0], s), nil
}

// FromRequest returns the session of r's cookie (see Verify), or
// ErrNoCookie.
func (m *Manager) FromRequest(r *http.Request) (Session, error) {
	c, err := r.Cookie(m.opts.CookieName)
	if err != nil {
		return Session{}, ErrNoCookie
	}
	return m.Verify(c.Value)
}

// Identify returns the identity of r's session cookie, for the broker's
// and the actions' Identify hooks: the zero (anonymous) Identity and nil
// without a cookie, the session's identity for a valid one, and Verify's
// error for a bad one (count it with [Reason], then refuse or treat the
// caller as anonymous).
func (m *Manager) Identify(r *http.Request) (sse.Identity, error) {
	s, err := m.FromRequest(r)
	if errors.Is(err, ErrNoCookie) {
		return sse.Identity{}, nil
	}
	if err != nil {
		return sse.Identity{}, err
	}
	return s.Identity(), nil
}

// Cookie returns the session cookie holding token, for
// http.SetCookie: HttpOnly (page scripts cannot read it), SameSite=Lax
// (other sites' forms and fetches do not carry it), Path=/, Secure when r
// came over TLS or Options.Secure is set. The browser keeps it until
// MaxAge after sign-in, past the session's expiry, so that the session
// can still be renewed with it.
func (m *Manager) Cookie(r *http.Request, token string, s Session) *http.Cookie {
	end := s.Issued.Add(m.opts.MaxAge)
	return &http.Cookie{
		Name:     m.opts.CookieName,
		Value:    token,
		Path:     "/",
		Expires:  end,
		MaxAge:   max(1, int(end.Sub(m.now()).Seconds())),
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
		Secure:   r.TLS != nil || m.opts.Secure,
	}
}

// ClearCookie returns the cookie that removes the session cookie, for
// sign-out.
func (m *Manager) ClearCookie(r *http.Request) *http.Cookie {
	return &http.Cookie{
		Name:     m.opts.CookieName,
		Value:    "",
		Path:     "/",
		MaxAge:   -1,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
		Secure:   r.TLS != nil || m.opts.Secure,
	}
}

// CookieName returns the name of the session cookie.
func (m *Manager) CookieName() string { return m.opts.CookieName }

// now returns the clock's time as tokens hold it: UTC, in whole
// milliseconds, so that a Session compares equal to its verified copy.
func (m *Manager) now() time.Time { return m.opts.Now().UTC().Truncate(time.Millisecond) }

// fromMillis reads a time a token holds.
func fromMillis(b []byte) time.Time { return time.UnixMilli(int64(binary.BigEndian.Uint64(b))).UTC() }

// The token format.
const (
	sessionPrefix = "s1."
	ticketPrefix  = "t1."
	kidLen        = 4
	idLen         = 16 // the session ID and a ticket's nonce: 128 random bits
	tagLen        = sha256.Size
	// sessionFixed: key ID, issued and expires (Unix milliseconds), ID;
	// then the subject.
	sessionFixed = kidLen + 8 + 8 + idLen
)

// b64 is base64url without padding, strict: a token has one encoding,
// so that it cannot be altered without altering its bytes.
var b64 = base64.RawURLEncoding.Strict()

// sign returns the session token of s, signed with k.
func (m *Manager) sign(k key, s Session) string {
	id, _ := b64.DecodeString(s.ID) // ours: Issue made it
	p := make([]byte, 0, sessionFixed+len(s.Subject))
	p = append(p, k.id[:]...)
	p = binary.BigEndian.AppendUint64(p, uint64(s.Issued.UnixMilli()))
	p = binary.BigEndian.AppendUint64(p, uint64(s.Expires.UnixMilli()))
	p = append(p, id...)
	p = append(p, s.Subject...)
	return seal(k, sessionPrefix, p)
}

// open returns the session of token if one of m's keys signed it,
// expired or not.
func (m *Manager) open(token string) (Session, error) {
	p, err := m.unseal(token, sessionPrefix, sessionFixed)
	if err != nil {
		return Session{}, err
	}
	s := Session{
		Issued:  fromMillis(p[kidLen:]),
		Expires: fromMillis(p[kidLen+8:]),
		ID:      b64.EncodeToString(p[kidLen+16 : sessionFixed]),
		Subject: string(p[sessionFixed:]),
	}
	if err := checkSubject(s.Subject); err != nil || !s.Expires.After(s.Issued) {
		// Signed by us, so not reached unless a key leaked.
		return Session{}, fmt.Errorf("%w: the fields are invalid", ErrMalformed)
	}
	return s, nil
}

// seal returns prefix + base64url(payload) + "." + base64url(tag).
func seal(k key, prefix string, payload []byte) string {
	signed := prefix + b64.EncodeToString(payload)
	return signed + "." + b64.EncodeToString(k.tag(signed))
}

// unseal checks a token of the form seal writes, with a payload of at
// least fixed+1 bytes, and returns its payload.
func (m *Manager) unseal(token, prefix string, fixed int) ([]byte, error) {
	if len(token) > MaxTokenLen {
		return nil, fmt.Errorf("%w: %d bytes, over %d", ErrMalformed, len(token), MaxTokenLen)
	}
	rest, ok := strings.CutPrefix(token, prefix)
	if !ok {
		return nil, fmt.Errorf("%w: it does not start with %q", ErrMalformed, prefix)
	}
	enc, encTag, ok := strings.Cut(rest, ".")
	if !ok {
		return nil, fmt.Errorf("%w: no signature", ErrMalformed)
	}
	payload, err1 := b64.DecodeString(enc)
	tag, err2 := b64.DecodeString(encTag)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("%w: not base64url", ErrMalformed)
	}
	if len(tag) != tagLen || len(payload) <= fixed {
		return nil, fmt.Errorf("%w: wrong length", ErrMalformed)
	}
	k, ok := m.key(payload[:kidLen])
	if !ok {
		return nil, ErrUnknownKey
	}
	if !hmac.Equal(tag, k.tag(token[:len(prefix)+len(enc)])) {
		return nil, ErrForged
	}
	return payload, nil
}

func checkSubject(s string) error {
	if s == "" || len(s) > MaxSubjectLen || !utf8.ValidString(s) {
		return fmt.Errorf("session: a subject is 1 to %d bytes of UTF-8", MaxSubjectLen)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("session: a subject has no control characters")
		}
	}
	return nil
}
