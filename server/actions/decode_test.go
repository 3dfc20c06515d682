package actions

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

type inner struct {
	B string `json:"b"`
}

type decodeReq struct {
	A  string           `json:"a"`
	N  int              `json:"n"`
	L  []inner          `json:"l"`
	M  map[string]inner `json:"m"`
	P  *inner           `json:"p"`
	AA [][]inner        `json:"aa"`
}

func TestDecode(t *testing.T) {
	cases := []struct{ body, err string }{
		{`{"a":"x","n":1}`, ""},
		{`{"l":[{"b":"1"},{"b":"2"}]}`, ""},                        // same key in sibling objects
		{`{"m":{"k":{"b":"1"},"j":{"b":"1"}}}`, ""},                // same inner key under different map keys
		{`{"p":{"b":"x"},"l":[{"b":"y"}],"aa":[[{"b":"z"}]]}`, ""}, // nested
		{`{"a":"x","a":"y"}`, `field "a" is repeated`},
		{`{"l":[{"b":"1","b":"2"}]}`, `field "l[].b" is repeated`},
		{`{"m":{"k":{"b":"1"},"k":{"b":"2"}}}`, `field "m.k" is repeated`},
		{`{"p":{"b":"1","b":"1"}}`, `field "p.b" is repeated`},
		{`{"aa":[[{"b":"1","b":"2"}]]}`, `field "aa[][].b" is repeated`},
		{`{"a":"x"}  {}`, "data after the JSON value at byte 12"},
		{`{"a":"x"}]`, "data after the JSON value at byte 10"},
		{"\xfe", "not valid UTF-8"},
		{"  \n", "the body is empty"},
		{`{"n":"1"}`, `field "n" must be a number (int), not JSON string`},
		{`{"l":{}}`, `field "l" must be an array, not JSON object`},
		{`{"m":[]}`, `field "m" must be an object, not JSON array`},
		{`{"p":1}`, `field "p" must be an object (actions.inner), not JSON number`},
		{`{"n":1e400}`, `field "n" must be a number (int), not JSON number 1e400`},
		{`{"a":"\ud800"}`, ""}, // a lone surrogate escape: encoding/json makes it U+FFFD, as JSON allows
		{`{"z":1}`, `unknown field "z"`},
	}
	for _, c := range cases {
		var v decodeReq
		err := decode([]byte(c.body), &v)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("decode(%s): %v", c.body, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("decode(%s) = %v, want %q", c.body, err, c.err)
		}
	}
}

// FuzzDecode: decode never panics; whatever it accepts, encoding/json
// decodes to the same value, and its re-encoding decodes back the same.
func FuzzDecode(f *testing.F) {
	f.Add(`{"a":"x","n":1,"l":[{"b":"1"}],"m":{"k":{"b":""}},"p":null}`)
	f.Add(`{"a":"x","a":"y"}`)
	f.Add(`{"a":"x"} {}`)
	f.Add(`{"l":[{"b":"1","b":"2"}]}`)
	f.Add("{\"a\":\"\xff\"}")
	f.Add(`{"A":"x"}`)
	f.Fuzz(func(t *testing.T, body string) {
		var v decodeReq
		if err := decode([]byte(body), &v); err != nil {
			if err.Error() == "" {
				t.Fatal("an empty message")
			}
			return
		}
		var w decodeReq
		if err := json.Unmarshal([]byte(body), &w); err != nil {
			t.Fatalf("decode accepted %q, json.Unmarshal: %v", body, err)
		}
		if !reflect.DeepEqual(v, w) {
			t.Fatalf("decode(%q) = %+v, json.Unmarshal %+v", body, v, w)
		}
		// What the server accepts, it can also write and read back.
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var back decodeReq
		if err := decode(b, &back); err != nil || !reflect.DeepEqual(back, v) {
			t.Fatalf("round trip of %s: %+v, %v", b, back, err)
		}
	})
}
