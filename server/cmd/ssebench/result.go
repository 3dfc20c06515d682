package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"text/tabwriter"
	"time"

	hdr "github.com/ssewasm/ssewasm/server/internal/latency"
	"github.com/ssewasm/ssewasm/server/internal/proc"
)

// result is one run's outcome, the tool's JSON output. Durations are in
// the unit their name says.
type result struct {
	Impl     string `json:"impl"`
	Scenario string `json:"scenario"`
	Status   string `json:"status"`           // "ok", "failed" or "not possible"
	Reason   string `json:"reason,omitempty"` // why, unless ok
	URL      string `json:"url"`
	Started  string `json:"started"`

	Clients   int     `json:"clients"` // requested
	Idle      bool    `json:"idle"`
	Rate      float64 `json:"rate"`     // target events/s; 0: unthrottled
	Inflight  int     `json:"inflight"` // publish requests in flight
	Size      int     `json:"size"`     // event data bytes
	Multiline bool    `json:"multiline"`
	Duration  float64 `json:"duration_s"` // publishing (or idle) phase, as asked
	Sources   int     `json:"sources"`    // source addresses used; 0: the kernel's choice
	// Readers that pause: each stops reading PauseMS once every
	// PauseEveryMS; with NoReconnect, a stream the server ends stays ended.
	PauseMS      float64 `json:"pause_ms,omitempty"`
	PauseEveryMS float64 `json:"pause_every_ms,omitempty"`
	NoReconnect  bool    `json:"no_reconnect,omitempty"`
	// Each client's own topic (its prefix) besides the shared one, and
	// whether it signed in (issue 21's cost of identities).
	OwnTopic string `json:"own_topic,omitempty"`
	SignIn   bool   `json:"sign_in,omitempty"`

	Connected         int64   `json:"connected"` // clients whose first stream opened
	ConnectFailures   int64   `json:"connect_failures"`
	FirstConnectError string  `json:"first_connect_error,omitempty"`
	ConnectSeconds    float64 `json:"connect_s"`
	SignInSeconds     float64 `json:"sign_in_s,omitempty"` // -sign-in: time to sign every client in
	WarmupSeconds     float64 `json:"warmup_s"`
	ClientsAtEnd      int64   `json:"clients_at_end"` // streams open when measuring ended

	Published      int64   `json:"published"`      // publish requests sent
	Acked          int64   `json:"acked"`          // answered 2xx
	PublishErrors  int64   `json:"publish_errors"` // failed requests
	FirstPubError  string  `json:"first_publish_error,omitempty"`
	PublishSeconds float64 `json:"publish_s"`
	PublishRate    float64 `json:"publish_rate"` // acked events/s
	EventCapHit    bool    `json:"event_cap_hit,omitempty"`
	PublishRTT     latency `json:"publish_rtt_ms"`

	Expected        int64   `json:"expected"`  // acked events x clients that connected
	Delivered       int64   `json:"delivered"` // distinct measured events received
	DeliveredPerSec float64 `json:"delivered_per_s"`
	Missing         int64   `json:"missing"` // expected but never received
	LossRatio       float64 `json:"loss_ratio"`
	Duplicates      int64   `json:"duplicates"`
	Corrupt         int64   `json:"corrupt"` // data or event name not byte-for-byte what was published
	Unknown         int64   `json:"unknown"` // "seq=" data never published
	Unacked         int64   `json:"unacked_delivered"`
	Gaps            int64   `json:"gaps"` // sse.gap events
	Latency         latency `json:"latency_ms"`

	Disconnects         int64 `json:"server_disconnects"`   // streams the server ended
	ClientsDisconnected int64 `json:"clients_disconnected"` // distinct clients among them
	Reconnects          int64 `json:"reconnects"`
	ReconnectFailures   int64 `json:"reconnect_failures"`

	Server server `json:"server"`

	LoadgenCPUSeconds float64 `json:"loadgen_cpu_s"`
	GoVersion         string  `json:"go_version"`

	// Set by the report when it picks the median of several runs.
	runs, failedRuns int
	keyMin, keyMax   float64
}

type latency struct {
	Count uint64  `json:"count"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
}

func latencyOf(h *hdr.Histogram) latency {
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	return latency{Count: h.Count(), P50: ms(h.Quantile(0.5)), P90: ms(h.Quantile(0.9)), P99: ms(h.Quantile(0.99)), Max: ms(h.Max())}
}

// server holds the server process's figures, given -pid.
type server struct {
	PID             int   `json:"pid,omitempty"`
	RSSBeforeKB     int64 `json:"rss_before_kb,omitempty"`
	RSSConnectedKB  int64 `json:"rss_connected_kb,omitempty"`
	RSSEndKB        int64 `json:"rss_end_kb,omitempty"`
	RSSPerConnBytes int64 `json:"rss_per_conn_bytes,omitempty"` // (connected - before) / clients
	// RSSEndPerConnBytes is (end - before) / clients at end, for idle
	// runs: the figure once the server has settled for -duration (its
	// garbage collected and, after long enough, returned to the OS).
	RSSEndPerConnBytes int64   `json:"rss_end_per_conn_bytes,omitempty"`
	CPUSeconds         float64 `json:"cpu_s,omitempty"`            // during the measured phase
	CPUPerEventUS      float64 `json:"cpu_per_event_us,omitempty"` // CPUSeconds / delivered
}

func newResult(cfg config) *result {
	return &result{
		Impl: cfg.impl, Scenario: cfg.scenario, URL: cfg.url,
		Started: time.Now().UTC().Format(time.RFC3339),
		Clients: cfg.clients, Idle: cfg.idle, Rate: cfg.rate, Inflight: cfg.inflight,
		Size: cfg.size, Multiline: cfg.multiline, Duration: cfg.duration.Seconds(),
		PauseMS: float64(cfg.pause.Milliseconds()), PauseEveryMS: float64(cfg.pauseEvery.Milliseconds()), NoReconnect: cfg.noReconnect,
		OwnTopic: cfg.ownTopic, SignIn: cfg.signIn,
		Server:    server{PID: cfg.pid},
		GoVersion: runtime.Version(),
	}
}

// collect sums the clients' tallies into res; the clients have stopped.
func (r *runner) collect(res *result, measureStart time.Duration) {
	p := r.pub
	res.Published = p.sentN.Load()
	res.Acked = p.acked.Load()
	res.PublishErrors = p.failed.Load()
	if p.firstErr != nil {
		res.FirstPubError = p.firstErr.Error()
	}
	res.EventCapHit = p.capped.Load()
	if res.PublishSeconds > 0 {
		res.PublishRate = float64(res.Acked) / res.PublishSeconds
	}
	res.PublishRTT = latencyOf(&p.latencies)

	res.ConnectFailures = r.connectFailed.Load()
	res.FirstConnectError = r.firstConnectError()
	acked := r.table.ackedSet(p.next.Load())
	var h hdr.Histogram
	var last time.Duration
	for _, c := range r.clients {
		if !c.everConnected() {
			continue
		}
		res.Connected++
		t := &c.tally
		res.Expected += res.Acked
		res.Delivered += t.unique.Load()
		res.Missing += t.lossCount(acked)
		res.Duplicates += t.dups
		res.Corrupt += t.corrupt
		res.Unknown += t.unknown
		res.Unacked += t.unackedCount(acked)
		res.Gaps += t.gaps
		h.Merge(t.hist)
		last = max(last, time.Duration(t.lastAt.Load()))
		if c.disconnects > 0 {
			res.ClientsDisconnected++
		}
	}
	res.Latency = latencyOf(&h)
	res.Disconnects = r.disconnects.Load()
	res.Reconnects = r.reconnects.Load()
	res.ReconnectFailures = r.reconnectFailures.Load()
	if res.Expected > 0 {
		res.LossRatio = float64(res.Missing) / float64(res.Expected)
	}
	// Delivered events per second: from the start of publishing to the
	// last delivery, so a server that delivers late is not flattered.
	if window := last - measureStart; res.Delivered > 0 && window > 0 {
		res.DeliveredPerSec = float64(res.Delivered) / window.Seconds()
	}
	if res.Server.CPUSeconds > 0 && res.Delivered > 0 {
		res.Server.CPUPerEventUS = res.Server.CPUSeconds / float64(res.Delivered) * 1e6
	}
	if self, err := proc.CPU(os.Getpid()); err == nil {
		res.LoadgenCPUSeconds = self.Seconds()
	}
}

// procSample is a server's RSS and CPU time at one moment.
type procSample struct {
	rss int64
	cpu time.Duration
}

func sampleProc(pid int) (procSample, error) {
	rss, err := proc.RSS(pid)
	if err != nil {
		return procSample{}, err
	}
	cpu, err := proc.CPU(pid)
	if err != nil {
		return procSample{}, err
	}
	return procSample{rss: rss, cpu: cpu}, nil
}

// startProgress prints a line to the log every interval until the
// returned function is called (which is idempotent).
func (r *runner) startProgress(every time.Duration) func() {
	if every <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(every)
		defer t.Stop()
		var lastDelivered, lastAcked int64
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			var delivered int64
			for _, c := range r.clients {
				delivered += c.tally.unique.Load()
			}
			acked := r.pub.acked.Load()
			fmt.Fprintf(r.log, "ssebench %6.1fs %-8s connected=%d failed=%d published=%d (%.0f/s) delivered=%d (%.0f/s) disconnects=%d reconnects=%d\n",
				r.now().Seconds(), r.phase.Load(), r.connected.Load(), r.connectFailed.Load(),
				acked, float64(acked-lastAcked)/every.Seconds(),
				delivered, float64(delivered-lastDelivered)/every.Seconds(),
				r.disconnects.Load(), r.reconnects.Load())
			lastDelivered, lastAcked = delivered, acked
		}
	}()
	var once bool
	return func() {
		if !once {
			once = true
			close(done)
			<-stopped
		}
	}
}

func writeJSON(path string, res *result) error {
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write -json file: %w", err)
	}
	return nil
}

// writeTable prints res as a two-column table.
func writeTable(w io.Writer, res *result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, f string, a ...any) { fmt.Fprintf(tw, "%s\t"+f+"\n", append([]any{k}, a...)...) }
	row("implementation", "%s", res.Impl)
	row("scenario", "%s", res.Scenario)
	row("status", "%s", res.Status)
	if res.Reason != "" {
		row("reason", "%s", res.Reason)
	}
	row("clients connected", "%d of %d (%d failed, %.1f s to connect)", res.Connected, res.Clients, res.ConnectFailures, res.ConnectSeconds)
	if res.OwnTopic != "" || res.SignIn {
		row("each client", "a topic of its own %q+name; signed in %v (%.1f s to sign in)", res.OwnTopic, res.SignIn, res.SignInSeconds)
	}
	row("clients at end", "%d", res.ClientsAtEnd)
	if !res.Idle {
		mode := "unthrottled"
		if res.Rate > 0 {
			mode = fmt.Sprintf("%g/s target", res.Rate)
		}
		row("published", "%d acked, %d errors in %.1f s (%.0f/s; %s, %d in flight)", res.Acked, res.PublishErrors, res.PublishSeconds, res.PublishRate, mode, res.Inflight)
		row("delivered", "%d of %d expected (%.0f events/s)", res.Delivered, res.Expected, res.DeliveredPerSec)
		row("loss", "%d missing (%.4f%%), %d duplicates, %d corrupt, %d unknown", res.Missing, 100*res.LossRatio, res.Duplicates, res.Corrupt, res.Unknown)
		row("latency ms", "p50 %.3f  p90 %.3f  p99 %.3f  max %.3f", res.Latency.P50, res.Latency.P90, res.Latency.P99, res.Latency.Max)
	}
	row("server disconnects", "%d (%d clients), %d reconnects", res.Disconnects, res.ClientsDisconnected, res.Reconnects)
	if res.Server.PID > 0 {
		row("server RSS", "%d KB before, %d KB connected, %d KB at end", res.Server.RSSBeforeKB, res.Server.RSSConnectedKB, res.Server.RSSEndKB)
		row("RSS per connection", "%d bytes", res.Server.RSSPerConnBytes)
		if res.Idle {
			row("RSS per connection at end", "%d bytes (after the %g s hold)", res.Server.RSSEndPerConnBytes, res.Duration)
		}
		row("server CPU", "%.2f s (%.2f µs per delivered event)", res.Server.CPUSeconds, res.Server.CPUPerEventUS)
	}
	row("load tool CPU", "%.2f s", res.LoadgenCPUSeconds)
	tw.Flush()
}
