package session_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/ssewasm/ssewasm/server/session"
)

func Example() {
	key, _ := session.ParseKey("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
	clock := time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)
	used := map[string]bool{} // the broker's ConsumeOnce, in one process
	var mu sync.Mutex
	m, err := session.New(session.Options{
		Keys:     [][]byte{key},
		Lifetime: time.Hour,
		Now:      func() time.Time { return clock },
		Once: func(ctx context.Context, nonce string) (bool, error) {
			mu.Lock()
			defer mu.Unlock()
			first := !used[nonce]
			used[nonce] = true
			return first, nil
		},
	})
	if err != nil {
		panic(err)
	}

	// Sign-in: the cookie.
	s, token, _ := m.Issue("alice")
	c := m.Cookie(httptest.NewRequest("POST", "https://app.example/login", nil), token, s)
	fmt.Println(c.Name, c.HttpOnly, c.SameSite == 2, c.Secure, c.Path)

	// Every request: who is it?
	r := httptest.NewRequest("GET", "/events", nil)
	r.AddCookie(c)
	who, err := m.Identify(r)
	fmt.Println(who.Subject, who.Expires.Format(time.Kitchen), err)

	// An hour later the cookie has expired; the session can be renewed.
	clock = clock.Add(time.Hour)
	_, err = m.Verify(token)
	fmt.Println(session.Reason(err))
	s2, _, err := m.Renew(token)
	fmt.Println(s2.ID == s.ID, s2.Expires.Format(time.Kitchen), err)

	// A ticket for a page on another origin: single use.
	_, ticket, _ := m.IssueTicket(s2)
	t, err := m.RedeemTicket(context.Background(), ticket)
	fmt.Println(t.Subject, err)
	_, err = m.RedeemTicket(context.Background(), ticket)
	fmt.Println(err)
	// Output:
	// ssewasm_session true true true /
	// alice 4:00PM <nil>
	// session_expired
	// true 5:00PM <nil>
	// alice <nil>
	// session: ticket already used
}
