package main

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestCheckTarget(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		url    string
		remote bool
		ok     bool
	}{
		{"http://127.0.0.1:8844", false, true},
		{"http://127.0.0.9:80/base", false, true},
		{"http://[::1]:8844", false, true},
		{"http://localhost:8844", false, true},
		{"http://192.0.2.1:8844", false, false},
		{"http://[2001:db8::1]:8844", false, false},
		{"http://0.0.0.0:8844", false, false},
		{"http://192.0.2.1:8844", true, true},
		{"https://127.0.0.1:8844", false, true},
		{"ftp://127.0.0.1:8844", false, false},
		{"127.0.0.1:8844", false, false},
	} {
		_, err := checkTarget(ctx, tc.url, tc.remote, nil)
		if (err == nil) != tc.ok {
			t.Errorf("checkTarget(%q, allowRemote=%v) = %v, want ok=%v", tc.url, tc.remote, err, tc.ok)
		}
		if err != nil && !tc.ok && strings.Contains(tc.url, "192.0.2.1") && !strings.Contains(err.Error(), "-allow-remote") {
			t.Errorf("refusal %q does not name -allow-remote", err)
		}
	}
}

func TestCheckFDs(t *testing.T) {
	if err := checkFDs(10_000, 20_000, 20_000); err != nil {
		t.Errorf("10k clients under a 20k limit: %v", err)
	}
	err := checkFDs(100_000, 20_000, 0)
	var np *errNotPossible
	if !errors.As(err, &np) || !strings.Contains(err.Error(), "not possible on this machine: fd hard limit 20000") {
		t.Errorf("100k clients under a 20k limit: got %v", err)
	}
	if err := checkFDs(19_950, 20_000, 0); err == nil {
		t.Error("19,950 clients leave no headroom under 20,000: want an error")
	}
	if err := checkFDs(15_000, 0, 1024); !errors.As(err, &np) || !strings.Contains(err.Error(), "server") {
		t.Errorf("server limit 1024: got %v", err)
	}
}

func TestSourceAddrs(t *testing.T) {
	got, err := sourceAddrs(60_000, 0, 28_232, true)
	if err != nil || len(got) != 3 || got[0].String() != "127.0.0.1" || got[2].String() != "127.0.0.3" {
		t.Errorf("60k clients: %v, %v; want 127.0.0.1..3", got, err)
	}
	if got, err := sourceAddrs(100, 0, 28_232, true); err != nil || len(got) != 1 {
		t.Errorf("100 clients: %v, %v; want one address", got, err)
	}
	if _, err := sourceAddrs(60_000, 1, 28_232, true); err == nil || !strings.Contains(err.Error(), "-sources 3") {
		t.Errorf("60k clients on one address: %v; want advice to use -sources 3", err)
	}
	if got, err := sourceAddrs(300, 300, 28_232, true); err != nil || got[254].String() != "127.0.1.1" {
		t.Errorf("300 sources: %v, %v", got, err)
	}
	if _, err := sourceAddrs(10, 2, 28_232, false); err == nil {
		t.Error("-sources with a remote target: want an error")
	}
}

func TestValidateBounds(t *testing.T) {
	for _, args := range [][]string{
		{"-clients", "0"},
		{"-clients", "1000000"},
		{"-duration", "1h"},
		{"-inflight", "0"},
		{"-rate", "-1"},
		{"-pause", "1s", "-pause-every", "1s"},
		{"-pause", "-1ms"},
		{"extra"},
	} {
		if _, err := parseFlags(args, discard{}); err == nil {
			t.Errorf("parseFlags(%q): want an error", args)
		}
	}
	if _, err := parseFlags(nil, discard{}); err != nil {
		t.Errorf("defaults: %v", err)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
