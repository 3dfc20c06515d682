package call_test

import "github.com/ssewasm/ssewasm/shared/action"

// The actions of the tests, as an app declares them in shared/: both the
// test server (native) and the browser tests compile them.

type echoReq struct {
	Text string `json:"text"`
	N    int    `json:"n"`
}

type echoRes struct {
	Text    string `json:"text"`
	N       int    `json:"n"`
	Subject string `json:"subject"`
}

var (
	// echo returns the request and the caller's subject; anonymous callers welcome.
	echo = action.New[echoReq, echoRes]("echo", 256)
	// whoami needs a signed-in caller.
	whoami = action.New[struct{}, echoRes]("whoami", 16)
	// conflict always refuses with 409.
	conflict = action.New[struct{}, struct{}]("conflict", 16)
	// slow answers only when its request is cancelled, or after 10 s.
	slow = action.New[echoReq, struct{}]("slow", 256)
)

// envURL carries the test server's URL from TestBrowser (native) into the
// browser tests.
const envURL = "SSEWASM_TEST_CALL_URL"

// slowStats is the JSON of the test server's /stats.
type slowStats struct {
	Started   int `json:"started"`   // slow calls that reached the handler
	Cancelled int `json:"cancelled"` // of them, those whose request was cancelled
}
