package session

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Ticket stands in for the session cookie on one stream request from a
// page on another origin, where an EventSource cannot send the cookie:
// the page fetches a ticket (with credentials, through the CORS
// allow-list) and opens /events?...&ticket=<token> within seconds. A
// ticket is single-use: [Manager.RedeemTicket] accepts each nonce once.
// Keep tickets out of access logs: they are in the URL.
type Ticket struct {
	Session              // the session it stands for
	Nonce      string    // random, 22 base64url characters: what single use is checked on
	ValidUntil time.Time // the ticket's own expiry, seconds after it was issued
}

// ticketFixed: key ID, valid until, issued, expires (Unix
// milliseconds), session ID, nonce; then the subject.
const ticketFixed = kidLen + 8 + 8 + 8 + idLen + idLen

// IssueTicket returns a ticket for s, valid for TicketLifetime (never
// past s.Expires), and its token.
func (m *Manager) IssueTicket(s Session) (Ticket, string, error) {
	if err := checkSubject(s.Subject); err != nil {
		return Ticket{}, "", err
	}
	id, err := b64.DecodeString(s.ID)
	if err != nil || len(id) != idLen {
		return Ticket{}, "", errors.New("session: IssueTicket: the session's ID is not one Issue made")
	}
	now := m.now()
	if !now.Before(s.Expires) {
		return Ticket{}, "", fmt.Errorf("%w (at %s)", ErrExpired, s.Expires.UTC().Format(time.RFC3339))
	}
	nonce := make([]byte, idLen)
	rand.Read(nonce) // never fails (crypto/rand)
	t := Ticket{Session: s, Nonce: b64.EncodeToString(nonce), ValidUntil: now.Add(m.opts.TicketLifetime)}
	if t.ValidUntil.After(s.Expires) {
		t.ValidUntil = s.Expires
	}
	p := make([]byte, 0, ticketFixed+len(s.Subject))
	p = append(p, m.keys[0].id[:]...)
	p = binary.BigEndian.AppendUint64(p, uint64(t.ValidUntil.UnixMilli()))
	p = binary.BigEndian.AppendUint64(p, uint64(s.Issued.UnixMilli()))
	p = binary.BigEndian.AppendUint64(p, uint64(s.Expires.UnixMilli()))
	p = append(p, id...)
	p = append(p, nonce...)
	p = append(p, s.Subject...)
	return t, seal(m.keys[0], ticketPrefix, p), nil
}

// VerifyTicket returns the ticket of token if one of m's keys signed it
// and it has not expired, or an error wrapping ErrMalformed,
// ErrUnknownKey, ErrForged or ErrTicketExpired. It does not check single
// use: [Manager.RedeemTicket] does, or the caller with the ticket's
// Nonce.
func (m *Manager) VerifyTicket(token string) (Ticket, error) {
	p, err := m.unseal(token, ticketPrefix, ticketFixed)
	if err != nil {
		return Ticket{}, err
	}
	t := Ticket{
		ValidUntil: fromMillis(p[kidLen:]),
		Session: Session{
			Issued:  fromMillis(p[kidLen+8:]),
			Expires: fromMillis(p[kidLen+16:]),
			ID:      b64.EncodeToString(p[kidLen+24 : kidLen+24+idLen]),
			Subject: string(p[ticketFixed:]),
		},
		Nonce: b64.EncodeToString(p[kidLen+24+idLen : ticketFixed]),
	}
	if err := checkSubject(t.Subject); err != nil {
		return Ticket{}, fmt.Errorf("%w: the fields are invalid", ErrMalformed) // signed by us: not reached
	}
	if !m.now().Before(t.ValidUntil) {
		return Ticket{}, ErrTicketExpired
	}
	return t, nil
}

// RedeemTicket is VerifyTicket, then single use: Options.Once must see
// the ticket's nonce for the first time, else the error wraps
// ErrTicketReplayed. An expired or bad ticket is refused before Once is
// asked.
func (m *Manager) RedeemTicket(ctx context.Context, token string) (Ticket, error) {
	t, err := m.VerifyTicket(token)
	if err != nil {
		return Ticket{}, err
	}
	if m.opts.Once == nil {
		return Ticket{}, errors.New("session: RedeemTicket needs Options.Once, the single-use check")
	}
	first, err := m.opts.Once(ctx, t.Nonce)
	if err != nil {
		return Ticket{}, fmt.Errorf("session: checking the ticket's single use: %w", err)
	}
	if !first {
		return Ticket{}, ErrTicketReplayed
	}
	return t, nil
}
