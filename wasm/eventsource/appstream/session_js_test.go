//go:build js && wasm

package appstream_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/maxence-charriere/go-app/v10/pkg/app"
	"github.com/ssewasm/ssewasm/shared/demo"
	"github.com/ssewasm/ssewasm/shared/protocol"
	"github.com/ssewasm/ssewasm/wasm/eventsource"
	"github.com/ssewasm/ssewasm/wasm/eventsource/appstream"
	"github.com/ssewasm/ssewasm/wasm/eventsource/internal/ssetest"
)

// chatView subscribes by topic declaration: the room and bob's inbox, on
// a stream that revokes bob's inbox after the 2nd event, and whose
// session expires after the 3rd and is renewed.
type chatView struct {
	app.Compo
	URL, RenewURL string

	stream  *appstream.Stream
	err     error
	lines   []string
	expired []string // the topics of each expired event, joined
	revoked []string
}

func (c *chatView) OnMount(ctx app.Context) {
	inbox, err := demo.Inbox.For("bob")
	if err != nil {
		c.err = err
		return
	}
	renew := c.RenewURL
	c.stream, c.err = appstream.OpenTopics(ctx, c.URL, eventsource.Options{
		WithCredentials: true, // the test server is another origin
		Renew:           func(ctx context.Context) error { return ssetest.Renew(ctx, renew) },
	},
		appstream.OnTopic(demo.Room, func(ctx app.Context, m demo.ChatMessage, id string) {
			c.lines = append(c.lines, id+" "+m.From+": "+m.Text)
		}),
		appstream.OnTopic(inbox, func(ctx app.Context, m demo.PrivateMessage, id string) {
			c.lines = append(c.lines, id+" "+m.From+" to "+m.To+": "+m.Text)
		}),
		appstream.OnTopic(demo.Room, func(ctx app.Context, m demo.ChatMessage, id string) {}), // the room again: one topic parameter
		appstream.OnExpired(func(ctx app.Context, x protocol.Expired) {
			c.expired = append(c.expired, strings.Join(x.Topics, ","))
		}),
		appstream.OnRevoked(func(ctx app.Context, r protocol.Revoked) {
			c.revoked = append(c.revoked, strings.Join(r.Topics, ","))
		}),
	)
}

func (c *chatView) OnDismount() { c.stream.Close() }

func (c *chatView) Render() app.UI {
	return app.Div().Body(
		app.Span().ID("chat-lines").Text(strconv.Itoa(len(c.lines))),
	)
}

// TestTopicsRenewRevoke: a component's OnTopic handlers get the typed
// events of the topics OpenTopics asked for; an expiry is renewed and
// resumed with nothing lost or doubled; OnExpired and OnRevoked get their
// topics, and the room goes on after the inbox is revoked.
func TestTopicsRenewRevoke(t *testing.T) {
	renew, _ := ssetest.URL(t, "/renew")
	if err := ssetest.Renew(t.Context(), renew); err != nil { // sign in
		t.Fatal(err)
	}
	comp := &chatView{
		URL: eventsURL(t,
			"e", `chat:{"from":"alice","text":"hi","at":1}`,
			"e", `private:{"from":"alice","to":"bob","text":"psst","at":2}`,
			"e", `chat:{"from":"bob","text":"hello","at":3}`,
			"e", `chat:{"from":"carol","text":"late","at":4}`,
			"revokeat", "2", "revoked", "user/bob", "expire", "3",
		),
		RenewURL: renew,
	}
	stop := mount(t, comp)
	waitText(t, "chat-lines", "4")
	stop()
	if comp.err != nil {
		t.Fatalf("OpenTopics: %v", comp.err)
	}
	want := []string{"ep-1 alice: hi", "ep-2 alice to bob: psst", "ep-3 bob: hello", "ep-4 carol: late"}
	if strings.Join(comp.lines, "|") != strings.Join(want, "|") {
		t.Errorf("lines %q, want %q", comp.lines, want)
	}
	if got := strings.Join(comp.expired, "|"); got != "room,user/bob" {
		t.Errorf("expired %q, want the stream's topics once: room,user/bob", got)
	}
	if got := strings.Join(comp.revoked, "|"); got != "user/bob" {
		t.Errorf("revoked %q, want user/bob", got)
	}
	if st := comp.stream.Source().Stats(); st.Renewals != 1 || st.Reopens != 1 {
		t.Errorf("source stats %+v, want one renewal and one reopen", st)
	}
}
