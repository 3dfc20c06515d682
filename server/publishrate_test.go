package main

import (
	"bufio"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ssewasm/ssewasm/server/ratelimit"
)

// rawPublish sends one POST /publish from ip with extra header lines and
// returns the status, Retry-After and body.
func rawPublish(t *testing.T, ip, addr, headers string) (int, string, string) {
	t.Helper()
	c := dialFrom(t, ip, addr)
	fmt.Fprintf(c, "POST /publish?topic=rl HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n%s\r\nx", headers)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("publish from %s: %v", ip, err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	bufio.NewReader(resp.Body).WriteTo(&b)
	return resp.StatusCode, resp.Header.Get("Retry-After"), b.String()
}

// TestPublishRateLimits runs the limits through the whole server, from
// several client addresses (127.0.0.x), and behind a trusted proxy.
func TestPublishRateLimits(t *testing.T) {
	type pub struct {
		ip, headers string
		status      int
		retryAfter  string // for a 429
		msg         string // in the body of a 429
	}
	for _, tt := range []struct {
		name  string
		flags []string
		pubs  []pub
		count map[string]uint64
	}{
		{"per address, a burst of 3, Retry-After rounded up", []string{"-publish-rate", "0.3", "-publish-burst", "3", "-publish-rate-global", "0"}, []pub{
			{"127.0.4.1", "", 200, "", ""}, {"127.0.4.1", "", 200, "", ""}, {"127.0.4.1", "", 200, "", ""},
			{"127.0.4.1", "", 429, "4", "127.0.4.1/32 publishes over the limit per address (-publish-rate 0.3"}, // 1/0.3 = 3.3 s
			{"127.0.4.2", "", 200, "", ""}, // its own bucket
			{"127.0.4.1", "", 429, "4", "per address"},
		}, map[string]uint64{refusedPublishRate: 2}},
		{"global, over every address", []string{"-publish-rate", "0", "-publish-rate-global", "0.5", "-publish-burst-global", "2"}, []pub{
			{"127.0.4.1", "", 200, "", ""}, {"127.0.4.2", "", 200, "", ""},
			{"127.0.4.3", "", 429, "2", "global limit (-publish-rate-global 0.5"},
		}, map[string]uint64{refusedPublishRateGlobal: 1}},
		{"behind -trusted-proxy the forwarded client counts", []string{"-trusted-proxy", "127.0.5.1", "-publish-rate", "1", "-publish-burst", "1", "-publish-rate-global", "0"}, []pub{
			{"127.0.5.1", "X-Forwarded-For: 192.0.2.7", 200, "", ""},
			{"127.0.5.1", "X-Forwarded-For: 192.0.2.8", 200, "", ""}, // another client, same proxy
			{"127.0.5.1", "X-Forwarded-For: 192.0.2.7", 429, "1", "192.0.2.7/32 publishes over the limit"},
			{"127.0.5.2", "X-Forwarded-For: 192.0.2.9", 200, "", ""}, // not a trusted proxy: its own address counts
			{"127.0.5.2", "X-Forwarded-For: 192.0.2.10", 429, "1", "127.0.5.2/32"},
		}, map[string]uint64{refusedPublishRate: 2}},
		{"with a token, no limit by default", []string{"-publish-token", "s3cret"}, []pub{
			{"127.0.4.1", "Authorization: Bearer s3cret", 200, "", ""},
		}, map[string]uint64{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ts, svc := newHostileServer(t, defaults(t, tt.flags...), quiet)
			addr := ts.Listener.Addr().String()
			for i, p := range tt.pubs {
				status, ra, body := rawPublish(t, p.ip, addr, p.headers+"\r\n")
				if status != p.status || status == 429 && (ra != p.retryAfter || !strings.Contains(body, p.msg)) {
					t.Errorf("publish %d from %s %s: %d, Retry-After %q, %s; want %d, %q, %q", i, p.ip, p.headers, status, ra, body, p.status, p.retryAfter, p.msg)
				}
			}
			for _, reason := range []string{refusedPublishRate, refusedPublishRateGlobal} {
				if got := svc.refused.count(reason); got != tt.count[reason] {
					t.Errorf("counted %d %s, want %d", got, reason, tt.count[reason])
				}
			}
		})
	}
}

func TestPublishRateDefaults(t *testing.T) {
	for _, tt := range []struct {
		args                []string
		perAddr, global     float64
		limiterOn           bool
		perAddrBurst, burst int
	}{
		{nil, defaultPublishRate, defaultPublishRateGlobal, true, 500, 2000},
		{[]string{"-publish-token", "t"}, 0, 0, false, 500, 2000},
		{[]string{"-publish-token", "t", "-publish-rate", "5"}, 5, 0, true, 500, 2000},
		{[]string{"-publish-rate", "0", "-publish-rate-global", "0"}, 0, 0, false, 500, 2000},
	} {
		c := defaults(t, tt.args...)
		if c.publishRate != tt.perAddr || c.publishRateGlobal != tt.global || c.publishBurst != tt.perAddrBurst || c.publishBurstGlobal != tt.burst {
			t.Errorf("%v: rates %g/%g bursts %d/%d, want %g/%g %d/%d", tt.args, c.publishRate, c.publishRateGlobal, c.publishBurst, c.publishBurstGlobal, tt.perAddr, tt.global, tt.perAddrBurst, tt.burst)
		}
		l := ratelimit.New(ratelimit.Limit{Rate: c.publishRate, Burst: c.publishBurst}, ratelimit.Limit{Rate: c.publishRateGlobal, Burst: c.publishBurstGlobal}, c.publishRateAddrs)
		if (l != nil) != tt.limiterOn {
			t.Errorf("%v: limiter %v, want on=%v", tt.args, l, tt.limiterOn)
		}
	}
	if _, err := parseFlags([]string{"-publish-burst", "0"}, new(strings.Builder)); err == nil {
		t.Error("-publish-burst 0 accepted")
	}
}
