package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ssewasm/ssewasm/server/sse/jetstream/jstest"
	"github.com/ssewasm/ssewasm/shared/demo"
	"github.com/ssewasm/ssewasm/shared/protocol"
)

// TestClusterRevoke: two instances on JetStream share the session key.
// Alice signs in on A and reads her inbox, the room and the public board
// on B; she signs out on A: within a second B's stream gets sse.revoked
// for the room and her inbox, then only the board, and B refuses her
// cookie. Measured: from POST /logout on A to sse.revoked on B.
func TestClusterRevoke(t *testing.T) {
	checkLeaks(t)
	jstest.Run(t, testClusterRevoke)
}

func testClusterRevoke(t *testing.T, ns *jstest.Server) {
	s := startCluster(t, ns, 2, "-session-key", strings.Repeat("3c", 32))
	a, b := s[0], s[1]
	bob := signIn(t, a, "bob")
	var took []time.Duration
	for round := range 5 {
		alice := signIn(t, a, "alice")
		onB := openStreamWith(t, b, "topic=room&topic=user/alice&topic=board", http.Header{"Cookie": {alice.String()}})
		// Delivery is live on B: a private message sent through A.
		if code := act(t, a, demo.SendPrivate.Path(), `{"to":"alice","text":"hi"}`, bob); code != 200 {
			t.Fatalf("send-private: %d", code)
		}
		if e := onB.next(t, 10*time.Second); e.Event != "private" {
			t.Fatalf("B's stream got %+v, want the private message", e)
		}
		start := time.Now()
		if code := postWith(t, a, "logout", alice); code != 200 {
			t.Fatalf("logout on A: %d", code)
		}
		e := onB.next(t, 10*time.Second)
		took = append(took, time.Since(start))
		var d protocol.Revoked
		if e.Event != protocol.RevokedEvent || json.Unmarshal([]byte(e.Data), &d) != nil || !slices.Equal(d.Topics, []string{"room", "user/alice"}) {
			t.Fatalf("B's stream got %+v, want sse.revoked for the room and her inbox", e)
		}
		act(t, a, demo.SendPrivate.Path(), `{"to":"alice","text":"after"}`, bob)
		act(t, a, demo.Say.Path(), `{"text":"room, after"}`, bob)
		if code := act(t, a, demo.PostBoard.Path(), `{"text":"public"}`, nil); code != 200 {
			t.Fatalf("post-board: %d", code)
		}
		if e := onB.next(t, 10*time.Second); e.Event != "board" || e.Data != "public" {
			t.Errorf("round %d: after sign-out B's stream got %+v, want the board only", round, e)
		}
		if code := streamStatus(t, b, "topic=user/alice", alice); code != http.StatusUnauthorized {
			t.Errorf("round %d: her signed-out cookie on B: %d, want 401", round, code)
		}
		onB.cancel()
	}
	slices.Sort(took)
	t.Logf("NATS %s: POST /logout on A to sse.revoked on B, 5 sign-outs: median %v, max %v", ns.Version(), took[len(took)/2], took[len(took)-1])
	if took[len(took)-1] > time.Second {
		t.Errorf("a sign-out took %v to stop delivery on the other instance, over 1s", took[len(took)-1])
	}
}

// signIn signs name in on srv (POST /login, as a fetch) and returns the
// session cookie.
func signIn(t *testing.T, srv *server, name string) *http.Cookie {
	t.Helper()
	req, _ := http.NewRequest("POST", srv.URL+"login", strings.NewReader(url.Values{"name": {name}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := httpc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s demo.Session
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&s) != nil || s.Subject != name || len(resp.Cookies()) != 1 {
		t.Fatalf("sign in %s on %s: %s", name, srv.URL, resp.Status)
	}
	return resp.Cookies()[0]
}

// postWith POSTs an empty body to srv's path with cookie, as a fetch.
func postWith(t *testing.T, srv *server, path string, cookie *http.Cookie) int {
	t.Helper()
	req, _ := http.NewRequest("POST", srv.URL+path, nil)
	req.Header.Set("Accept", "application/json")
	return statusWith(t, req, cookie)
}

// act calls an action on srv with a JSON body, as cookie's user (nil:
// anonymous), and returns the status.
func act(t *testing.T, srv *server, path, body string, cookie *http.Cookie) int {
	t.Helper()
	req, _ := http.NewRequest("POST", strings.TrimSuffix(srv.URL, "/")+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return statusWith(t, req, cookie)
}

// streamStatus returns the status of a stream request with cookie, and
// closes it.
func streamStatus(t *testing.T, srv *server, query string, cookie *http.Cookie) int {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.URL+"events?"+query, nil)
	return statusWith(t, req, cookie)
}

// statusWith sends req with cookie (nil: none) and returns its status,
// closing the body.
func statusWith(t *testing.T, req *http.Request, cookie *http.Cookie) int {
	t.Helper()
	if cookie != nil {
		req.AddCookie(cookie)
	}
	resp, err := httpc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
