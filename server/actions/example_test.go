package actions_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/ssewasm/ssewasm/server/actions"
	"github.com/ssewasm/ssewasm/server/sse"
	"github.com/ssewasm/ssewasm/shared/action"
)

// Greet is declared in a package both binaries import.
type GreetReq struct {
	Name string `json:"name"`
}

type Greeting struct {
	Text string `json:"text"`
}

var Greet = action.New[GreetReq, Greeting]("greet", 1<<10)

func Example() {
	reg, err := actions.New(actions.Options{
		// The app's own authentication; here, a header for the example.
		Identify: func(r *http.Request) (sse.Identity, error) {
			return sse.Identity{Subject: r.Header.Get("X-Demo-User")}, nil
		},
	})
	if err != nil {
		panic(err)
	}
	actions.Handle(reg, Greet, func(ctx context.Context, who sse.Identity, req GreetReq) (Greeting, error) {
		if req.Name == "" {
			return Greeting{}, action.BadRequest("say whom to greet")
		}
		return Greeting{Text: "hello " + req.Name + ", from " + who.Subject}, nil
	})
	mux := http.NewServeMux()
	mux.Handle(action.PathPrefix, reg)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	for _, body := range []string{`{"name":"bob"}`, `{"name":""}`, `{"name":1}`, `{"nme":"bob"}`} {
		req, _ := http.NewRequest("POST", srv.URL+Greet.Path(), strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Demo-User", "alice")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Print(resp.StatusCode, " ", string(answer))
	}
	// Output:
	// 200 {"text":"hello bob, from alice"}
	// 400 {"error":{"code":"bad_request","message":"say whom to greet"}}
	// 400 {"error":{"code":"bad_request","message":"field \"name\" must be a string, not JSON number"}}
	// 400 {"error":{"code":"bad_request","message":"unknown field \"nme\": the request has no such field"}}
}
