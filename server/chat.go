package main

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ssewasm/ssewasm/server/actions"
	"github.com/ssewasm/ssewasm/server/ratelimit"
	"github.com/ssewasm/ssewasm/server/sse"
	"github.com/ssewasm/ssewasm/shared/action"
	"github.com/ssewasm/ssewasm/shared/demo"
)

// newActions serves the demo's typed actions (shared/demo) at
// action.PathPrefix: the /chat page's Say and SendPrivate, as the
// signed-in user, and the /live board's PostBoard, for anyone. The
// checks every action passes (cross-site requests, media type, size,
// the rate limit per identity) are package actions'.
func newActions(cfg config, a *auth, b *sse.Broker, log *slog.Logger) (*actions.Registry, error) {
	reg, err := actions.New(actions.Options{
		Identify:       a.identifyAction,
		TrustedOrigins: cfg.allowOrigins,
		RateLimit:      ratelimit.Limit{Rate: cfg.actionRate, Burst: cfg.actionBurst},
		Log:            log,
	})
	if err != nil {
		return nil, err
	}
	c := chat{broker: b}
	actions.Handle(reg, demo.Say, c.say)
	actions.Handle(reg, demo.SendPrivate, c.sendPrivate)
	actions.Handle(reg, demo.PostBoard, c.postBoard, actions.AllowAnonymous())
	return reg, nil
}

// chat publishes what the actions say, stamped by the server: who says
// it comes from the session, never from the request.
type chat struct{ broker *sse.Broker }

// say publishes a ChatMessage in the Room, from the signed-in user.
func (c chat) say(ctx context.Context, who sse.Identity, req demo.SayReq) (demo.Sent, error) {
	text, err := chatText(req.Text)
	if err != nil {
		return demo.Sent{}, err
	}
	id, err := sse.PublishTo(ctx, c.broker, demo.Room, demo.ChatMessage{From: who.Subject, Text: text, At: time.Now().UnixMilli()})
	if err != nil {
		return demo.Sent{}, publishFailed(err)
	}
	return demo.Sent{ID: id}, nil
}

// sendPrivate publishes a PrivateMessage to the recipient's Inbox, and a
// copy to the sender's, so that the sender's other tabs show it as sent.
func (c chat) sendPrivate(ctx context.Context, who sse.Identity, req demo.SendPrivateReq) (demo.Sent, error) {
	to, err := demo.Inbox.For(req.To)
	if err != nil {
		return demo.Sent{}, action.BadRequest("to: " + err.Error())
	}
	text, err := chatText(req.Text)
	if err != nil {
		return demo.Sent{}, err
	}
	m := demo.PrivateMessage{From: who.Subject, To: req.To, Text: text, At: time.Now().UnixMilli()}
	id, err := sse.PublishTo(ctx, c.broker, to, m)
	if err != nil {
		return demo.Sent{}, publishFailed(err)
	}
	if own, err := demo.Inbox.For(who.Subject); err == nil && own.Name() != to.Name() {
		if _, err := sse.PublishTo(ctx, c.broker, own, m); err != nil {
			return demo.Sent{}, publishFailed(err)
		}
	}
	return demo.Sent{ID: id}, nil
}

// postBoard publishes a BoardMessage on the /live page's board.
func (c chat) postBoard(ctx context.Context, _ sse.Identity, req demo.PostBoardReq) (demo.Sent, error) {
	text, err := chatText(req.Text)
	if err != nil {
		return demo.Sent{}, err
	}
	id, err := sse.PublishTo(ctx, c.broker, demo.BoardTopic, demo.BoardMessage{Text: text})
	if err != nil {
		return demo.Sent{}, publishFailed(err)
	}
	return demo.Sent{ID: id}, nil
}

// chatText checks a message's text: not blank, at most demo.MaxChatText
// bytes, no NUL (which Firefox drops from event data).
func chatText(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", action.BadRequest("text is empty: say something")
	case len(s) > demo.MaxChatText:
		return "", action.BadRequest("text is over " + strconv.Itoa(demo.MaxChatText) + " bytes: say less")
	case strings.ContainsRune(s, 0) || !utf8.ValidString(s):
		return "", action.BadRequest("text has a NUL or is not UTF-8")
	}
	return s, nil
}

// publishFailed turns a publish error into an action error: the text
// was checked, so the server or the engine cannot publish now (shutting
// down, NATS unreachable).
func publishFailed(error) error {
	return action.Unavailable("publishing failed: retry in a moment")
}
