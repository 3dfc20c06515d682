//go:build js && wasm

package call_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"

	"github.com/ssewasm/ssewasm/shared/action"
	"github.com/ssewasm/ssewasm/wasm/call"
)

// An app calls its actions with Do at its own origin; this example's
// server is on another origin, so it uses DoWith with a Base. It runs in
// the browser, against the server of browser_test.go.
func Example() {
	api := call.Client{Base: os.Getenv(envURL)}
	if api.Base == "" {
		fmt.Println("hi 2\nconflict 409: the board changed: reload it") // run alone: nothing to call
		return
	}
	ctx := context.Background()

	res, err := call.DoWith(ctx, api, echo, echoReq{Text: "hi", N: 2})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Text, res.N)

	_, err = call.DoWith(ctx, api, conflict, struct{}{})
	if e, ok := errors.AsType[*action.Error](err); ok {
		fmt.Printf("%s %d: %s\n", e.Code, e.Status, e.Message)
	}
	// Output:
	// hi 2
	// conflict 409: the board changed: reload it
}

// The session endpoints are not actions but answer as they do: Fetch
// (FetchWith for another origin) sends a form, as POST /login takes it,
// and decodes the JSON answer. It runs in the browser, against the
// server of browser_test.go.
func ExampleFetchWith() {
	api := call.Client{Base: os.Getenv(envURL)}
	if api.Base == "" {
		fmt.Println("hello, dave") // run alone: nothing to call
		return
	}
	res, err := call.FetchWith[echoRes](context.Background(), api, "POST", "/form", url.Values{"name": {"dave"}})
	if err != nil {
		panic(err)
	}
	fmt.Println("hello,", res.Text)
	// Output: hello, dave
}
