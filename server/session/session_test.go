package session

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	key1 = []byte("0123456789abcdef0123456789abcdef")
	key2 = []byte("fedcba9876543210fedcba9876543210")
	t0   = time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)
)

// testManager returns a Manager of keys on a clock the test moves, with a
// map-backed Once.
func testManager(t testing.TB, keys ...[]byte) (*Manager, *time.Time) {
	t.Helper()
	now := t0
	var mu sync.Mutex
	used := map[string]bool{}
	m, err := New(Options{Keys: keys, Lifetime: time.Hour, MaxAge: 3 * time.Hour, Now: func() time.Time { return now },
		Once: func(ctx context.Context, nonce string) (bool, error) {
			mu.Lock()
			defer mu.Unlock()
			first := !used[nonce]
			used[nonce] = true
			return first, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	return m, &now
}

func TestVerifyHostile(t *testing.T) {
	m, now := testManager(t, key1)
	s, token, err := m.Issue("alice")
	if err != nil {
		t.Fatal(err)
	}
	other, _ := testManager(t, key2)
	_, otherToken, _ := other.Issue("alice")
	_, ticket, _ := m.IssueTicket(s)
	prefix, rest, _ := strings.Cut(token, ".")
	payload, tag, _ := strings.Cut(rest, ".")
	raw, _ := b64.DecodeString(payload)
	// The same session, for bob: a valid payload under a stolen tag.
	bob := append(append([]byte(nil), raw[:sessionFixed]...), "bob"...)
	// Trailing bits that strict base64 refuses: the last character of
	// the 32-byte tag carries 4 unused bits.
	last := tag[len(tag)-1]
	loose := tag[:len(tag)-1] + string(base64.RawURLEncoding.EncodeToString([]byte{0})[0]+1)
	if last == loose[len(loose)-1] {
		t.Fatal("loose tag unchanged")
	}

	cases := []struct {
		name, token string
		want        error
	}{
		{"empty", "", ErrMalformed},
		{"no version", rest, ErrMalformed},
		{"other version", "s2." + rest, ErrMalformed},
		{"ticket as a cookie", ticket, ErrMalformed},
		{"no signature", prefix + "." + payload, ErrMalformed},
		{"not base64", prefix + "." + payload + "." + tag[:10] + "!" + tag[11:], ErrMalformed},
		{"padded", prefix + "." + payload + "=." + tag, ErrMalformed},
		{"loose trailing bits", prefix + "." + payload + "." + loose, ErrMalformed},
		{"short tag", prefix + "." + payload + "." + tag[:40], ErrMalformed},
		{"short payload", prefix + "." + b64.EncodeToString(raw[:sessionFixed]) + "." + tag, ErrMalformed},
		{"too long", token + strings.Repeat("A", MaxTokenLen), ErrMalformed},
		{"other key", otherToken, ErrUnknownKey},
		{"subject changed", prefix + "." + b64.EncodeToString(bob) + "." + tag, ErrForged},
		{"tag of zeros", prefix + "." + payload + "." + b64.EncodeToString(make([]byte, 32)), ErrForged},
	}
	for _, c := range cases {
		got, err := m.Verify(c.token)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: Verify = %+v, %v; want %v", c.name, got, err, c.want)
		}
		if got != (Session{}) {
			t.Errorf("%s: a refused token returned %+v", c.name, got)
		}
		if err != nil && len(c.token) > 20 && strings.Contains(err.Error(), c.token[:20]) {
			t.Errorf("%s: the error holds the token: %v", c.name, err)
		}
	}

	*now = s.Expires.Add(-time.Millisecond)
	if _, err := m.Verify(token); err != nil {
		t.Errorf("a millisecond before expiry: %v", err)
	}
	*now = s.Expires
	if _, err := m.Verify(token); !errors.Is(err, ErrExpired) {
		t.Errorf("at expiry: %v, want ErrExpired", err)
	}
}

// TestTamperEveryByte: changing any one character of a token makes it
// refused.
func TestTamperEveryByte(t *testing.T) {
	m, _ := testManager(t, key1)
	s, token, _ := m.Issue("alice")
	_, ticket, _ := m.IssueTicket(s)
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
	for i := range token {
		for _, c := range []byte(alphabet) {
			if c == token[i] {
				continue
			}
			bad := token[:i] + string(c) + token[i+1:]
			if got, err := m.Verify(bad); err == nil {
				t.Fatalf("Verify accepted %q (byte %d changed): %+v", bad, i, got)
			}
		}
	}
	for i := range ticket {
		bad := ticket[:i] + string(ticket[i]^1) + ticket[i+1:]
		if got, err := m.VerifyTicket(bad); err == nil {
			t.Fatalf("VerifyTicket accepted byte %d changed: %+v", i, got)
		}
	}
}

func TestIssueVerify(t *testing.T) {
	m, _ := testManager(t, key1)
	seen := map[string]bool{}
	for _, subject := range []string{"alice", "bob", "Zoë", strings.Repeat("x", MaxSubjectLen), "a b"} {
		s, token, err := m.Issue(subject)
		if err != nil {
			t.Fatalf("Issue(%q): %v", subject, err)
		}
		if s.Subject != subject || len(s.ID) != 22 || !s.Issued.Equal(t0) || !s.Expires.Equal(t0.Add(time.Hour)) {
			t.Errorf("Issue(%q) = %+v", subject, s)
		}
		if seen[s.ID] {
			t.Errorf("session ID %s twice", s.ID)
		}
		seen[s.ID] = true
		got, err := m.Verify(token)
		if err != nil || got.Subject != s.Subject || got.ID != s.ID || !got.Issued.Equal(s.Issued) || !got.Expires.Equal(s.Expires) {
			t.Errorf("Verify = %+v, %v; want %+v", got, err, s)
		}
		if len(token) > MaxTokenLen {
			t.Errorf("a token of %d bytes", len(token))
		}
		id := got.Identity()
		if id.Subject != subject || id.Session != s.ID || !id.Issued.Equal(s.Issued) || !id.Expires.Equal(s.Expires) {
			t.Errorf("Identity() = %+v", id)
		}
	}
	for _, bad := range []string{"", strings.Repeat("x", MaxSubjectLen+1), "a\x00", "a\nb", "\xff", "a\x7f"} {
		if _, _, err := m.Issue(bad); err == nil {
			t.Errorf("Issue(%q) succeeded", bad)
		}
	}
}

func TestRotation(t *testing.T) {
	old, _ := testManager(t, key1)
	rotated, _ := testManager(t, key2, key1) // key2 signs, key1 still verifies
	_, oldToken, _ := old.Issue("alice")
	if s, err := rotated.Verify(oldToken); err != nil || s.Subject != "alice" {
		t.Errorf("the rotated manager refuses a token of the old key: %v", err)
	}
	_, newToken, _ := rotated.Issue("bob")
	if _, err := old.Verify(newToken); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("the old manager on a new key's token: %v, want ErrUnknownKey", err)
	}
	// A renewal moves the session to the new key.
	_, renewed, err := rotated.Renew(oldToken)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Verify(renewed); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("the renewed token is not signed with the first key: %v", err)
	}
}

func TestRenew(t *testing.T) {
	m, now := testManager(t, key1) // Lifetime 1h, MaxAge 3h
	s, token, _ := m.Issue("alice")
	cases := []struct {
		at      time.Duration // after sign-in
		expires time.Duration // after sign-in; 0: ErrTooOld
	}{
		{10 * time.Minute, 70 * time.Minute},
		{90 * time.Minute, 150 * time.Minute},  // the cookie expired: still renewable
		{150 * time.Minute, 180 * time.Minute}, // capped at MaxAge
		{180 * time.Minute, 0},
		{300 * time.Minute, 0},
	}
	for _, c := range cases {
		*now = t0.Add(c.at)
		r, rtoken, err := m.Renew(token)
		if c.expires == 0 {
			if !errors.Is(err, ErrTooOld) {
				t.Errorf("at +%v: %v, want ErrTooOld", c.at, err)
			}
			continue
		}
		if err != nil || r.ID != s.ID || !r.Issued.Equal(s.Issued) || !r.Expires.Equal(t0.Add(c.expires)) {
			t.Errorf("at +%v: Renew = %+v, %v; want expiry +%v", c.at, r, err, c.expires)
			continue
		}
		if v, err := m.Verify(rtoken); err != nil || v != r {
			t.Errorf("at +%v: the renewed token: %+v, %v", c.at, v, err)
		}
	}
	*now = t0
	for _, bad := range []string{"", "s1.x.y", token[:len(token)-2] + "AA"} {
		if _, _, err := m.Renew(bad); err == nil {
			t.Errorf("Renew(%q) succeeded", bad)
		}
	}
}

func TestCookies(t *testing.T) {
	m, now := testManager(t, key1)
	s, token, _ := m.Issue("alice")
	*now = t0.Add(30 * time.Minute)
	plain := httptest.NewRequest("POST", "http://app.test/login", nil)
	overTLS := httptest.NewRequest("POST", "https://app.test/login", nil)
	overTLS.TLS = &tls.ConnectionState{}

	c := m.Cookie(plain, token, s)
	if c.Name != DefaultCookieName || c.Value != token || c.Path != "/" || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure {
		t.Errorf("cookie over HTTP: %+v", c)
	}
	// The browser keeps it until MaxAge after sign-in, so that it can renew.
	if c.MaxAge != int((3*time.Hour-30*time.Minute).Seconds()) || !c.Expires.Equal(t0.Add(3*time.Hour)) {
		t.Errorf("cookie lifetime: MaxAge %d, Expires %v", c.MaxAge, c.Expires)
	}
	if c := m.Cookie(overTLS, token, s); !c.Secure {
		t.Errorf("cookie over TLS is not Secure")
	}
	secure, _ := New(Options{Keys: [][]byte{key1}, Secure: true, CookieName: "sid"})
	if c := secure.Cookie(plain, token, s); !c.Secure || c.Name != "sid" {
		t.Errorf("Options.Secure, CookieName: %+v", c)
	}
	clear := m.ClearCookie(overTLS)
	if clear.Name != DefaultCookieName || clear.Value != "" || clear.MaxAge != -1 || !clear.Secure || !clear.HttpOnly || clear.Path != "/" {
		t.Errorf("ClearCookie: %+v", clear)
	}
	if v := c.String(); !strings.Contains(v, "HttpOnly") || !strings.Contains(v, "SameSite=Lax") {
		t.Errorf("Set-Cookie: %s", v)
	}
}

func TestIdentify(t *testing.T) {
	m, now := testManager(t, key1)
	s, token, _ := m.Issue("alice")
	req := func(value string) *http.Request {
		r := httptest.NewRequest("GET", "/events", nil)
		if value != "" {
			r.AddCookie(&http.Cookie{Name: DefaultCookieName, Value: value})
		}
		return r
	}
	if id, err := m.Identify(req("")); err != nil || id.Subject != "" {
		t.Errorf("no cookie: %+v, %v; want anonymous", id, err)
	}
	if id, err := m.Identify(req(token)); err != nil || id != s.Identity() {
		t.Errorf("a valid cookie: %+v, %v", id, err)
	}
	if _, err := m.FromRequest(req("")); !errors.Is(err, ErrNoCookie) {
		t.Errorf("FromRequest without a cookie: %v", err)
	}
	for value, reason := range map[string]string{
		"garbage":                    "session_malformed",
		token[:len(token)-3] + "AAA": "session_forged",
	} {
		if id, err := m.Identify(req(value)); Reason(err) != reason || id.Subject != "" {
			t.Errorf("cookie %q: %+v, %v; want %s", value, id, err, reason)
		}
	}
	*now = s.Expires
	if _, err := m.Identify(req(token)); Reason(err) != "session_expired" {
		t.Errorf("expired: %v", err)
	}
}

func TestTickets(t *testing.T) {
	m, now := testManager(t, key1)
	s, token, _ := m.Issue("alice")
	tk, ticket, err := m.IssueTicket(s)
	if err != nil {
		t.Fatal(err)
	}
	if tk.Session != s || len(tk.Nonce) != 22 || !tk.ValidUntil.Equal(t0.Add(DefaultTicketLifetime)) {
		t.Errorf("IssueTicket = %+v", tk)
	}
	if _, err := m.Verify(ticket); !errors.Is(err, ErrMalformed) {
		t.Errorf("a ticket as a cookie: %v", err)
	}
	if _, err := m.VerifyTicket(token); !errors.Is(err, ErrMalformed) {
		t.Errorf("a cookie as a ticket: %v", err)
	}
	ctx := context.Background()
	got, err := m.RedeemTicket(ctx, ticket)
	if err != nil || got != tk || got.Identity() != s.Identity() {
		t.Errorf("RedeemTicket = %+v, %v; want %+v", got, err, tk)
	}
	if _, err := m.RedeemTicket(ctx, ticket); !errors.Is(err, ErrTicketReplayed) || Reason(err) != "session_ticket_replayed" {
		t.Errorf("a second use: %v", err)
	}
	// VerifyTicket alone does not consume.
	tk2, ticket2, _ := m.IssueTicket(s)
	for range 2 {
		if v, err := m.VerifyTicket(ticket2); err != nil || v.Nonce != tk2.Nonce {
			t.Errorf("VerifyTicket: %v", err)
		}
	}
	if tk2.Nonce == tk.Nonce {
		t.Error("two tickets share a nonce")
	}
	// Expired tickets are refused before Once sees them.
	*now = tk2.ValidUntil
	if _, err := m.RedeemTicket(ctx, ticket2); !errors.Is(err, ErrTicketExpired) {
		t.Errorf("an expired ticket: %v", err)
	}
	*now = tk2.ValidUntil.Add(-time.Second)
	if _, err := m.RedeemTicket(ctx, ticket2); err != nil {
		t.Errorf("the expired attempt consumed the ticket: %v", err)
	}
	// A ticket never outlives its session.
	*now = s.Expires.Add(-time.Second)
	tk3, _, _ := m.IssueTicket(s)
	if !tk3.ValidUntil.Equal(s.Expires) {
		t.Errorf("ticket valid until %v, past the session's %v", tk3.ValidUntil, s.Expires)
	}
	*now = s.Expires
	if _, _, err := m.IssueTicket(s); !errors.Is(err, ErrExpired) {
		t.Errorf("a ticket for an expired session: %v", err)
	}
	// Another key, a forged ticket.
	other, _ := testManager(t, key2)
	*now = t0
	os, _, _ := other.Issue("alice")
	_, otherTicket, _ := other.IssueTicket(os)
	if _, err := m.VerifyTicket(otherTicket); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("another key's ticket: %v", err)
	}
	if _, _, err := m.IssueTicket(Session{Subject: "alice", ID: "not-ours", Expires: t0.Add(time.Hour)}); err == nil {
		t.Error("IssueTicket of a session Issue did not make")
	}
}

func TestOnceFailures(t *testing.T) {
	boom := errors.New("nats down")
	m, err := New(Options{Keys: [][]byte{key1}, Once: func(context.Context, string) (bool, error) { return false, boom }})
	if err != nil {
		t.Fatal(err)
	}
	s, _, _ := m.Issue("alice")
	_, ticket, _ := m.IssueTicket(s)
	if _, err := m.RedeemTicket(context.Background(), ticket); !errors.Is(err, boom) || Reason(err) != "" {
		t.Errorf("Once failing: %v", err)
	}
	noOnce, _ := New(Options{Keys: [][]byte{key1}})
	if _, err := noOnce.RedeemTicket(context.Background(), ticket); err == nil || !strings.Contains(err.Error(), "Options.Once") {
		t.Errorf("without Once: %v", err)
	}
}

func TestNewErrors(t *testing.T) {
	cases := []struct {
		name string
		opts Options
		want string
	}{
		{"no key", Options{}, "no key"},
		{"short key", Options{Keys: [][]byte{[]byte("short")}}, "key 1 has 5 bytes"},
		{"same key twice", Options{Keys: [][]byte{key1, key2, key1}}, "key 3 is given twice"},
		{"max age below lifetime", Options{Keys: [][]byte{key1}, Lifetime: time.Hour, MaxAge: time.Minute}, "MaxAge 1m0s is shorter"},
		{"tiny lifetime", Options{Keys: [][]byte{key1}, Lifetime: time.Millisecond}, "want at least 1s"},
		{"negative ticket", Options{Keys: [][]byte{key1}, TicketLifetime: -time.Second}, "negative"},
	}
	for _, c := range cases {
		if _, err := New(c.opts); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	m, err := New(Options{Keys: [][]byte{key1}})
	if err != nil || m.opts.MaxAge != 7*DefaultLifetime || m.opts.TicketLifetime != DefaultTicketLifetime || m.CookieName() != DefaultCookieName {
		t.Errorf("defaults: %+v, %v", m.opts, err)
	}
}

func TestParseKey(t *testing.T) {
	raw := []byte("0123456789abcdef0123456789abcdef!")
	cases := []struct {
		in   string
		want []byte
		err  string
	}{
		{"30313233343536373839616263646566303132333435363738396162636465662" + "1", raw, ""},
		{base64.StdEncoding.EncodeToString(raw), raw, ""},
		{base64.RawStdEncoding.EncodeToString(raw) + "\n", raw, ""},
		{base64.URLEncoding.EncodeToString(raw), raw, ""},
		{base64.RawURLEncoding.EncodeToString(raw), raw, ""},
		{"00112233", nil, "has 4 bytes, want at least 32"},
		{base64.StdEncoding.EncodeToString(raw[:31]), nil, "has 31 bytes"},
		{"not a key at all, it has spaces!!", nil, "neither hex nor base64"},
		{"", nil, "has 0 bytes"},
	}
	for _, c := range cases {
		got, err := ParseKey(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseKey(%q) = %v, want %q", c.in, err, c.err)
			}
			if err != nil && len(c.in) > 8 && strings.Contains(err.Error(), c.in[:8]) {
				t.Errorf("the error holds the key: %v", err)
			}
			continue
		}
		if err != nil || string(got) != string(c.want) {
			t.Errorf("ParseKey(%q) = %q, %v", c.in, got, err)
		}
	}
	if k := RandomKey(); len(k) != MinKeyLen || string(k) == string(RandomKey()) {
		t.Errorf("RandomKey: %d bytes, or twice the same", len(k))
	}
}

func TestReadKeyFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	hex2 := "6665646362613938373635343332313066656463626139383736353433323130"
	keys, err := ReadKeyFile(write("two", "# the new key signs\n"+base64.StdEncoding.EncodeToString(key1)+"\n\n  "+hex2+"  \n"))
	if err != nil || len(keys) != 2 || string(keys[0]) != string(key1) || string(keys[1]) != string(key2) {
		t.Errorf("ReadKeyFile = %q, %v", keys, err)
	}
	for name, c := range map[string]struct{ content, want string }{
		"empty":   {"# nothing\n\n", "holds no key"},
		"short":   {"# ok\n00112233\n", ":2: session: the key has 4 bytes"},
		"garbage": {"a key?\n", ":1: session: the key is neither"},
	} {
		if _, err := ReadKeyFile(write(name, c.content)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
	if _, err := ReadKeyFile(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "reading the key file") {
		t.Errorf("missing file: %v", err)
	}
}

func TestReason(t *testing.T) {
	for err, want := range map[error]string{
		ErrNoCookie: "session_no_cookie", ErrMalformed: "session_malformed", ErrUnknownKey: "session_unknown_key",
		ErrForged: "session_forged", ErrExpired: "session_expired", ErrTooOld: "session_too_old",
		ErrTicketExpired: "session_ticket_expired", ErrTicketReplayed: "session_ticket_replayed",
		errors.New("other"): "", nil: "",
	} {
		if got := Reason(err); got != want {
			t.Errorf("Reason(%v) = %q, want %q", err, got, want)
		}
	}
}

// FuzzVerify: Verify never panics, and a token it accepts is exactly the
// token the Manager writes for that session: one session, one string.
func FuzzVerify(f *testing.F) {
	m, _ := testManager(f, key1, key2)
	_, token, _ := m.Issue("alice")
	s, _, _ := m.Issue("Zoë")
	_, ticket, _ := m.IssueTicket(s)
	f.Add(token)
	f.Add(ticket)
	f.Add("s1.AAAA.BBBB")
	f.Add("s1." + strings.Repeat("A", 60) + "." + strings.Repeat("A", 43))
	f.Fuzz(func(t *testing.T, token string) {
		s, err := m.Verify(token)
		if err != nil {
			if Reason(err) == "" {
				t.Fatalf("Verify error without a reason: %v", err)
			}
			return
		}
		if again := m.sign(m.keys[0], s); again != token {
			t.Fatalf("Verify accepted %q, which is not the canonical %q", token, again)
		}
	})
}

// FuzzVerifyTicket: VerifyTicket never panics, refuses with a reason, and
// accepts only a ticket whose payload re-encodes to the same string.
func FuzzVerifyTicket(f *testing.F) {
	m, _ := testManager(f, key1)
	s, token, _ := m.Issue("alice")
	_, ticket, _ := m.IssueTicket(s)
	f.Add(ticket)
	f.Add(token)
	f.Add("t1.AAAA.BBBB")
	f.Fuzz(func(t *testing.T, token string) {
		tk, err := m.VerifyTicket(token)
		if err != nil {
			if Reason(err) == "" {
				t.Fatalf("VerifyTicket error without a reason: %v", err)
			}
			return
		}
		if tk.Subject == "" || len(tk.Nonce) != 22 || !strings.HasPrefix(token, ticketPrefix) {
			t.Fatalf("VerifyTicket accepted %q: %+v", token, tk)
		}
		_, rest, _ := strings.Cut(token, ".")
		payload, _, _ := strings.Cut(rest, ".")
		raw, _ := b64.DecodeString(payload)
		if b64.EncodeToString(raw) != payload {
			t.Fatalf("a non-canonical payload was accepted: %q", payload)
		}
	})
}
