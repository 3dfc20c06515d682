package bidi

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

func TestDecode(t *testing.T) {
	tests := []struct {
		name, remote string
		want         any // decoded into a value of want's type
		err          error
	}{
		{"number", `{"type":"number","value":2.5}`, 2.5, nil},
		{"minus zero", `{"type":"number","value":"-0"}`, 0.0, nil},
		{"NaN", `{"type":"number","value":"NaN"}`, 0.0, ErrNotSerializable},
		{"Infinity", `{"type":"number","value":"Infinity"}`, 0.0, ErrNotSerializable},
		{"string", `{"type":"string","value":"a\"b"}`, `a"b`, nil},
		{"boolean", `{"type":"boolean","value":true}`, true, nil},
		{"undefined", `{"type":"undefined"}`, (*int)(nil), nil},
		{"null", `{"type":"null"}`, (*int)(nil), nil},
		{"bigint", `{"type":"bigint","value":"12345678901234567890"}`, json.Number("12345678901234567890"), nil},
		{"date", `{"type":"date","value":"2026-12-01T10:00:00.000Z"}`, "2026-12-01T10:00:00.000Z", nil},
		{"array", `{"type":"array","value":[{"type":"string","value":"a"},{"type":"string","value":"b"}]}`, []string{"a", "b"}, nil},
		{"set", `{"type":"set","value":[{"type":"number","value":1}]}`, []int{1}, nil},
		{"object", `{"type":"object","value":[["data",{"type":"string","value":"x"}],["id",{"type":"string","value":"7"}]]}`,
			struct{ Data, ID string }{"x", "7"}, nil},
		{"nested", `{"type":"object","value":[["l",{"type":"array","value":[{"type":"object","value":[["k",{"type":"boolean","value":false}]]}]}]]}`,
			map[string][]map[string]bool{"l": {{"k": false}}}, nil},
		{"map with string keys", `{"type":"map","value":[[{"type":"string","value":"k"},{"type":"number","value":3}]]}`, map[string]int{"k": 3}, nil},
		{"map with a number key", `{"type":"map","value":[[{"type":"number","value":1},{"type":"number","value":3}]]}`, map[string]int{}, ErrNotSerializable},
		{"node", `{"type":"node","sharedId":"abc"}`, "", ErrNotSerializable},
		{"in an array", `{"type":"array","value":[{"type":"function"}]}`, []any{}, ErrNotSerializable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v RemoteValue
			if err := json.Unmarshal([]byte(tt.remote), &v); err != nil {
				t.Fatal(err)
			}
			out := reflect.New(reflect.TypeOf(tt.want))
			err := v.Decode(out.Interface())
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if err == nil && !reflect.DeepEqual(out.Elem().Interface(), tt.want) {
				t.Errorf("got %#v, want %#v", out.Elem().Interface(), tt.want)
			}
		})
	}
}

func TestTruthy(t *testing.T) {
	tests := []struct {
		remote string
		want   bool
	}{
		{`{"type":"undefined"}`, false},
		{`{"type":"null"}`, false},
		{`{"type":"boolean","value":false}`, false},
		{`{"type":"boolean","value":true}`, true},
		{`{"type":"number","value":0}`, false},
		{`{"type":"number","value":"-0"}`, false},
		{`{"type":"number","value":"NaN"}`, false},
		{`{"type":"number","value":0.5}`, true},
		{`{"type":"number","value":"Infinity"}`, true},
		{`{"type":"string","value":""}`, false},
		{`{"type":"string","value":"0"}`, true},
		{`{"type":"bigint","value":"0"}`, false},
		{`{"type":"bigint","value":"2"}`, true},
		{`{"type":"array","value":[]}`, true},
		{`{"type":"object","value":[]}`, true},
		{`{"type":"node","sharedId":"x"}`, true},
	}
	for _, tt := range tests {
		var v RemoteValue
		if err := json.Unmarshal([]byte(tt.remote), &v); err != nil {
			t.Fatal(err)
		}
		if got := v.Truthy(); got != tt.want {
			t.Errorf("%s: truthy = %v, want %v", tt.remote, got, tt.want)
		}
	}
}

// FuzzDecode: no remote value, however malformed, panics Decode or
// Truthy, and what decodes is JSON that decodes again.
func FuzzDecode(f *testing.F) {
	f.Add(`{"type":"object","value":[["a",{"type":"array","value":[{"type":"number","value":"-0"}]}]]}`)
	f.Add(`{"type":"map","value":[[{"type":"string","value":"k"},{"type":"null"}]]}`)
	f.Add(`{"type":"object","value":[[1,2]]}`)
	f.Add(`{"type":"array","value":{"not":"a list"}}`)
	f.Fuzz(func(t *testing.T, remote string) {
		var v RemoteValue
		if json.Unmarshal([]byte(remote), &v) != nil {
			return
		}
		v.Truthy()
		var out any
		if v.Decode(&out) != nil {
			return
		}
		b, err := json.Marshal(out)
		if err != nil {
			t.Fatalf("decoded %#v does not marshal: %v", out, err)
		}
		var again any
		if err := json.Unmarshal(b, &again); err != nil {
			t.Fatalf("%s does not decode: %v", b, err)
		}
	})
}
