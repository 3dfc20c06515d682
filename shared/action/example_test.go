package action_test

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ssewasm/ssewasm/shared/action"
)

// SendReq and Receipt are an action's request and result, declared in a
// package both binaries import.
type SendReq struct {
	To   string `json:"to"`
	Text string `json:"text"`
}

type Receipt struct {
	ID string `json:"id"`
}

var Send = action.New[SendReq, Receipt]("send", 4<<10)

func Example() {
	fmt.Println(Send.Name(), Send.Path(), Send.MaxBytes())

	// A handler refuses with an *action.Error; the server sends its JSON.
	e := action.Forbidden("you may only write as yourself")
	body, _ := json.Marshal(e)
	fmt.Println(e.Status, string(body))

	// The client reads it back.
	got, err := action.ParseError(403, body, "")
	fmt.Println(got, err)
	fmt.Println(errors.Is(got, &action.Error{Code: action.CodeForbidden}))
	// Output:
	// send /action/send 4096
	// 403 {"error":{"code":"forbidden","message":"you may only write as yourself"}}
	// action: forbidden (403): you may only write as yourself <nil>
	// true
}
