package main

import (
	"strings"
	"testing"
	"time"
)

func TestReport(t *testing.T) {
	ok := func(impl, scenario string, f func(r *result)) *result {
		r := &result{Impl: impl, Scenario: scenario, Status: "ok", Clients: 1000, Connected: 1000}
		f(r)
		return r
	}
	results := []*result{
		ok("ours", "fanout", func(r *result) { r.DeliveredPerSec = 300_000; r.Server.CPUPerEventUS = 2 }),
		ok("ours", "fanout", func(r *result) { r.DeliveredPerSec = 100_000; r.Server.CPUPerEventUS = 9 }),
		ok("ours", "fanout", func(r *result) { r.DeliveredPerSec = 310_000; r.Server.CPUPerEventUS = 2 }),
		ok("peer", "fanout", func(r *result) { r.DeliveredPerSec = 150_000; r.Server.CPUPerEventUS = 5 }),
		// Another configuration of ours: shown, never the best peer.
		ok("ours-jetstream", "fanout", func(r *result) { r.DeliveredPerSec = 900_000; r.Server.CPUPerEventUS = 1 }),
		ok("ours", "steady", func(r *result) {
			r.Rate = 50
			r.Latency.P50, r.Latency.P99 = 2, 30
			r.Server.CPUPerEventUS = 1
		}),
		ok("peer", "steady", func(r *result) { r.Rate = 50; r.Latency.P99 = 40 }),
		// The floor: shown with ours' distance to it, never the best peer.
		ok("null", "steady", func(r *result) {
			r.Rate, r.PublishRate = 50, 50
			r.Latency.P50, r.Latency.P99 = 1.5, 4
			r.Server.CPUPerEventUS = 0.75
		}),
		ok("null", "fanout", func(r *result) { r.DeliveredPerSec = 1_000_000; r.Server.CPUPerEventUS = 0.5 }),
		// A floor that could not keep the rate is said to be none.
		ok("ours", "ordinary", func(r *result) { r.Rate, r.PublishRate = 200, 200; r.Server.CPUPerEventUS = 3 }),
		ok("null", "ordinary", func(r *result) { r.Rate, r.PublishRate = 200, 117; r.Server.CPUPerEventUS = 6.5 }),
		ok("ours", "idle-10k", func(r *result) { r.Idle = true; r.Server.RSSPerConnBytes = 3000 }),
		{Impl: "peer", Scenario: "idle-100k", Idle: true, Status: "not possible", Reason: "not possible on this machine: fd hard limit 20000"},
		{Impl: "ours", Scenario: "burst", Status: "failed", Reason: "the server does not serve POST /publish | 404"},
	}
	var b strings.Builder
	writeReport(&b, results, reportInfo{command: "make bench", ours: "ours", revision: "abc123", machine: []string{"CPU: test"}, date: time.Unix(0, 0)})
	md := b.String()
	for _, want := range []string{
		"| idle-10k: RSS/conn ≤ 4 KB | 2.93 KB |  | PASS |",
		"| fanout: delivered/s ≥ 1.5× best peer | 300000 | 150000 (peer) | PASS |",
		"| fanout: CPU/event ≤ ½ best peer's | 2.00 µs | 5.00 µs (peer) | PASS |",
		"| steady: p99 ≤ ½ best peer's | 30.00 ms | 40.00 ms (peer) | FAIL |",
		"3, delivered/s 100000–310000", // the median of three runs, with the range
		"| peer | delivered/s 2.00x, CPU/event 0.40x, p99 n/a |",
		"not possible on this machine: fd hard limit 20000",
		`failed: the server does not serve POST /publish \| 404`,
		"Revision measured: abc123.",
		"ours − null: p50 +0.50 ms (2.00 against 1.50), p99 +26.00 ms (30.00 against 4.00), CPU/event +0.25 µs (1.00 against 0.75).",
		"| null | ok |",
		"could not keep the rate: it published 117 events/s of 200 (one write per stream per event fills its core), so its latency is its own backlog and no floor here; its CPU/event is 6.50 µs (ours: 3.00 µs).",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	if !strings.Contains(md, "| ours-jetstream | ok |") {
		t.Errorf("the report does not show ours-jetstream's row:\n%s", md)
	}
	if strings.Contains(md, "| ours-jetstream | delivered/s") {
		t.Errorf("ours-jetstream is rated as a peer:\n%s", md)
	}
	if strings.Contains(md, "| null | delivered/s") || strings.Contains(md, "(null)") {
		t.Errorf("the null server is rated as a peer:\n%s", md)
	}
	if n := strings.Count(md, "Above the floor"); n != 1 {
		t.Errorf("the report says how far ours is above the floor %d times, want once (steady; fanout is not at a fixed rate):\n%s", n, md)
	}
	// Scenarios appear in the order.
	if strings.Index(md, "## fanout") > strings.Index(md, "## steady") || strings.Index(md, "## idle-100k") > strings.Index(md, "## burst") {
		t.Errorf("scenarios out of order:\n%s", md)
	}
}

// The identity scenarios compare ours signed in with ours anonymous
// (issue 21): within 10 % of the fan-out, at most 0.5 KB more per idle
// stream.
func TestReportIdentityTargets(t *testing.T) {
	r := func(impl, scenario string, f func(r *result)) *result {
		r := &result{Impl: impl, Scenario: scenario, Status: "ok", Clients: 1000, Connected: 1000, OwnTopic: "solo/"}
		if strings.HasSuffix(impl, signedIn) {
			r.OwnTopic, r.SignIn = "user/", true
		}
		f(r)
		return r
	}
	for _, tt := range []struct {
		name    string
		results []*result
		want    []string
	}{
		{"pass", []*result{
			r("ours", "fanout-identity", func(r *result) { r.DeliveredPerSec = 400_000 }),
			r("ours-signed-in", "fanout-identity", func(r *result) { r.DeliveredPerSec = 380_000 }),
			r("ours", "idle-identity", func(r *result) { r.Idle = true; r.Server.RSSPerConnBytes = 3000 }),
			r("ours-signed-in", "idle-identity", func(r *result) { r.Idle = true; r.Server.RSSPerConnBytes = 3400 }),
		}, []string{
			"| fanout-identity: delivered/s signed in ≥ 90 % of anonymous, zero loss | 380000 (95.0 %, 0 missing) | 400000 (ours, anonymous) | PASS |",
			"| idle-identity: RSS/conn signed in ≤ anonymous + 0.5 KB | 3.32 KB (+400 B) | 2.93 KB (ours, anonymous) | PASS |",
			"ours-signed-in: each client first signed in (`POST /login`) and reads its private topic `user/<name>`",
			"each client also reads a topic of its own, `solo/<name>`",
		}},
		{"fail", []*result{
			r("ours", "fanout-identity", func(r *result) { r.DeliveredPerSec = 400_000 }),
			r("ours-signed-in", "fanout-identity", func(r *result) { r.DeliveredPerSec = 350_000 }),
			r("ours", "idle-identity", func(r *result) { r.Idle = true; r.Server.RSSPerConnBytes = 3000 }),
			r("ours-signed-in", "idle-identity", func(r *result) { r.Idle = true; r.Server.RSSPerConnBytes = 3600 }),
		}, []string{
			"| 350000 (87.5 %, 0 missing) | 400000 (ours, anonymous) | FAIL |",
			"| 3.52 KB (+600 B) | 2.93 KB (ours, anonymous) | FAIL |",
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			writeReport(&b, tt.results, reportInfo{command: "make bench", ours: "ours", date: time.Unix(0, 0)})
			for _, want := range tt.want {
				if !strings.Contains(b.String(), want) {
					t.Errorf("report lacks %q:\n%s", want, b.String())
				}
			}
		})
	}
}
