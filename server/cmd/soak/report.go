package main

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// writeReport writes the markdown report and the plot.
func (s *soak) writeReport(r *results) error {
	s.sampleMu.Lock()
	samples := append([]sample(nil), s.samples...)
	s.sampleMu.Unlock()
	var svg bytes.Buffer
	if err := writeSVG(&svg, s.plot(samples, r.faults)); err != nil {
		return err
	}
	if err := os.WriteFile(s.cfg.svgPath, svg.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write the plot: %w", err)
	}
	var md bytes.Buffer
	s.markdown(&md, r, samples)
	if err := os.WriteFile(s.cfg.mdPath, md.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write the report: %w", err)
	}
	return nil
}

// plot draws the samples: RSS, goroutines and open files per instance,
// delivered events/s and p99 latency, with the faults marked.
func (s *soak) plot(samples []sample, faults []fault) plot {
	x := make([]float64, len(samples))
	for i, smp := range samples {
		x[i] = smp.T.Minutes()
	}
	perInstance := func(title string, get func(sample) []float64) panel {
		pn := panel{Title: title}
		for i, in := range s.cluster.instances {
			y := make([]float64, len(samples))
			for j, smp := range samples {
				y[j] = get(smp)[i]
			}
			pn.Series = append(pn.Series, series{Name: "instance " + in.name, X: x, Y: y})
		}
		return pn
	}
	one := func(title, name string, get func(sample) float64) panel {
		y := make([]float64, len(samples))
		for j, smp := range samples {
			y[j] = get(smp)
		}
		return panel{Title: title, Series: []series{{Name: name, X: x, Y: y}}}
	}
	p := plot{
		Title:  fmt.Sprintf("soak: %d clients, %d instances, %v", s.clients, len(s.cluster.instances), s.cfg.duration),
		XLabel: "minutes since the start",
		XMax:   s.cfg.duration.Minutes(),
		Panels: []panel{
			perInstance("RSS, MB", func(smp sample) []float64 { return smp.RSS }),
			perInstance("goroutines", func(smp sample) []float64 { return smp.Goroutines }),
			perInstance("open file descriptors", func(smp sample) []float64 { return smp.FDs }),
			one("events delivered per second (all clients)", "delivered/s", func(smp sample) float64 { return smp.Delivered }),
			one("publish-to-receive p99, ms (normal clients)", "p99", func(smp sample) float64 { return smp.P99 }),
		},
	}
	if len(x) > 0 {
		p.XMax = max(p.XMax, x[len(x)-1])
	}
	for _, f := range faults {
		p.Markers = append(p.Markers, marker{X: f.At.Minutes(), Label: f.Kind})
	}
	if s.loadEnd > 0 {
		p.Markers = append(p.Markers, marker{X: s.loadEnd.Minutes(), Label: "end of load"})
	}
	return p
}

// markdown writes docs/soak.md.
func (s *soak) markdown(b *bytes.Buffer, r *results, samples []sample) {
	cfg := s.cfg
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	w("# Soak\n\n")
	w("Written by `server/cmd/soak` (`SOAK=%v make soak`) on %s; do not edit by hand.\n\n", cfg.duration, s.start.UTC().Format("2006-01-02 15:04 MST"))
	verdict := "**Pass**: no event lost, doubled or reordered, no gap within history, no stream of a normal client fell silent, and every client caught up at the end."
	if r.failed() {
		verdict = "**Fail**: see the totals below."
	}
	w("%s Events lost: **%d**. Memory after warm-up (Theil–Sen slope of RSS over the last two thirds): %s.\n\n", verdict, r.lost, slopeSummary(s, r.slopes))
	if cfg.note != "" {
		w("%s\n\n", cfg.note)
	}
	w("![RSS, goroutines, open files, delivered events/s and p99 latency over time, faults marked](%s)\n\n", filepath.Base(cfg.svgPath))

	w("## Machine\n\n")
	w("| | |\n|---|---|\n")
	w("| cores | %d |\n| memory | %d MB |\n| open-file limit (hard, raised to) | %d |\n| kernel | %s |\n| Go | %s |\n", s.machine.Cores, s.machine.MemMB, s.machine.FDLimit, s.machine.Kernel, s.machine.GoVer)
	w("| load average (1 min) during the run | mean %.1f, max %.1f |\n\n", r.meanLoad, r.maxLoad)
	w("The soak, the three instances, the NATS server and every client share these cores; other work on the machine shares them too (see the load average). Latency figures are therefore noisy; memory much less so.\n\n")

	w("## Parameters\n\n")
	w("| | |\n|---|---|\n")
	w("| duration | %v (clients arrive over the first %v; publishing starts halfway through that) |\n", cfg.duration, min(cfg.duration/20, 20*time.Second))
	w("| cluster | %d instances of `bin/server -nats`, one NATS JetStream server (nats-server v2 as a library, run by the soak binary as a process of its own, store in a temporary directory) |\n", len(s.cluster.instances))
	w("| instance flags | `-history-size %d -history-bytes %d -history-age %v -max-event-size %d -publish-rate=0 -publish-rate-global=0 -log-level WARN`, the rest default (`-max-lag` 1 MiB, `-write-timeout` 10s, `-max-clients-per-ip` 100, `-publish-read-timeout` 10s) |\n", cfg.historySize, cfg.historyBytes, cfg.historyAge, cfg.maxEventSize)
	w("| clients | %d at any time (open-file limit %d less a reserve of %d), %d chains in all with churn, from %d addresses 127.1.x.y (%d each), each connecting to a random instance; a stream whose response head does not come within 10 s counts as a failed attempt and is retried |\n", s.clients, s.machine.FDLimit, cfg.fdReserve, r.chains, len(s.srcs), cfg.perSource)
	w("| kinds | %.0f %% normal, %.0f %% slow (%d B/s, 4 KB receive buffer), %.0f %% pausing (half the pauses 1–4 s, half %v–%v, beyond the write deadline; every ~%v) |\n",
		100*(1-cfg.slowShare-cfg.pauseShare), 100*cfg.slowShare, cfg.slowRate, 100*cfg.pauseShare, cfg.longPause, cfg.longPause*3/2, cfg.pauseEvery)
	w("| churn | a client stays ~%v (exponential), then leaves: half come back after 1 s–%v with Last-Event-ID, half are replaced by a new client |\n", cfg.lifetime, cfg.maxAway)
	w("| topics | %d ordinary (each client reads one or two), `hot` (%d B events, %.0f/s: every slow and pausing client and 5 %% of the others), `flood` (one client in %d) |\n", cfg.topics, cfg.hotSize, cfg.hotRate, cfg.floodEvery)
	w("| publishing | %.0f events/s through the instances in turn, a burst of %d every %v (%d bursts) |\n", cfg.rate, cfg.burstSize, cfg.burstEvery, r.bursts)
	w("| faults | one every %v, in turn: kill, reset, loris, flood, nats |\n", cfg.faultEvery)
	w("| sampling | every %v |\n\n", cfg.sampleEvery)

	w("## Totals\n\n")
	w("| | |\n|---|--:|\n")
	w("| events published (acknowledged) | %d (%.1f MB of data) |\n", r.published, float64(r.publishedBytes)/1e6)
	w("| publishes failed | %d%s |\n", r.publishFailed, failureKinds(r.publishFailures))
	w("| events delivered to the clients | %d |\n", r.delivered)
	w("| events the clients should have received | %d |\n", r.expected)
	w("| **events lost** | **%d** (normal clients %d, slow %d, pausing %d) |\n", r.lost, r.lostByKind[normal], r.lostByKind[slow], r.lostByKind[pausing])
	w("| events repeated or out of order | %d |\n", r.repeats)
	w("| events of a topic not subscribed | %d |\n", r.misrouted)
	w("| `sse.gap` beyond the history bounds (legitimate) | %d (%d events skipped) |\n", r.gapsLegit, r.missedInGaps)
	w("| `sse.gap` within the history bounds (failures) | %d |\n", r.gapsBad)
	w("| evictions (`ssewasm_clients_evicted_total`, all instances, across restarts) | %.0f |\n", r.evictions)
	w("| streams opened / of which resumed with Last-Event-ID | %d / %d |\n", r.p.connects.Load(), r.p.resumes.Load())
	w("| streams ended by the server or a fault (evictions, kills) / of which while pausing | %d / %d |\n", r.p.drops.Load(), r.p.pausedDrops.Load())
	w("| streams reset by the reset bursts | %d |\n", r.p.resets.Load())
	w("| clients that left / came back | %d / %d |\n", r.p.leaves.Load(), r.p.returns.Load())
	w("| connection attempts that failed | %d%s |\n", r.p.connectFails.Load(), r.p.failKinds())
	w("| **clients that had not caught up %v after the end of the load** (connected or still trying; a failure) | **%d** |\n", cfg.drainMax, r.late)
	w("| **streams of normal clients that fell silent** (an event published while open had not come %v later, when the stream ended; a failure) | **%d** |\n", silentAfter, r.silent)
	w("| publish-to-receive latency, normal clients, whole run | p50 %s, p99 %s, p99.9 %s, max %s (%d events) |\n", ms(r.p50), ms(r.p99), ms(r.p999), ms(r.pmax), r.latCount)
	w("| faults | %d |\n\n", len(r.faults))
	if len(r.lossExamples) > 0 {
		w("Stretches of coverage with losses (at most 12 shown; a stretch runs between two events a client received, or to the end):\n\n")
		for _, l := range r.lossExamples {
			w("- %s\n", l)
		}
		w("\n")
	}
	if len(r.silentExamples) > 0 {
		w("Streams that fell silent (at most 12 shown):\n\n")
		for _, l := range r.silentExamples {
			w("- %s\n", l)
		}
		w("\n")
	}
	if len(s.lateInfo) > 0 {
		w("Clients that had not received the last event of their topics %v after publishing stopped (at most 10 shown; the missing events of those that had received some count as lost):\n\n", cfg.drainMax)
		for _, l := range s.lateInfo {
			w("- %s\n", l)
		}
		w("\n")
	}
	if len(s.refused) > 0 {
		w("Each instance's counters of refusals, evictions and replays at the end of the load (`/metrics`, since its last start; zeros left out):\n\n")
		for i, m := range s.refused {
			var parts []string
			for k, v := range m {
				parts = append(parts, fmt.Sprintf("`%s` %.0f", k, v))
			}
			sort.Strings(parts)
			w("- %s: %s\n", s.cluster.instances[i].name, strings.Join(parts, ", "))
		}
		w("\n")
	}
	if len(r.badGaps) > 0 {
		w("Gaps within history: %s.\n\n", strings.Join(r.badGaps, "; "))
	}
	if r.fatal != nil {
		w("The run ended early: %v.\n\n", r.fatal)
	}
	if len(r.exited) > 0 {
		w("Instances that exited by themselves: %s.\n\n", strings.Join(r.exited, "; "))
	}

	w("## Memory after warm-up\n\n")
	w("Each instance's RSS over the samples of the last two thirds of the run (from %v): the Theil–Sen slope (the median of the slopes between every two samples), which the floods' short bursts of memory do not move, and the least-squares slope, which they do; and the median RSS of the first and of the last tenth of the samples. The killed instance is fitted from its last restart on, plus 30 s; its clients come back to it only as they churn, so its memory grows with its stream count then, which is not a leak (compare the stream counts; -profile-dir takes heap profiles that show what grew).\n\n", (cfg.duration / 3).Round(time.Second))
	w("| instance | fitted from – to | median RSS, first → last tenth | streams open at start → end | slope (Theil–Sen) | slope (least squares) |\n|---|---|--:|--:|--:|--:|\n")
	for i, sl := range r.slopes {
		name := s.cluster.instances[i].name
		if !sl.OK {
			w("| %s | too few samples | | |\n", name)
			continue
		}
		w("| %s | %v – %v (%d samples) | %.1f → %.1f MB | %.0f → %.0f | %+.0f KB/min | %+.0f KB/min |\n", name, sl.From.Round(time.Second), sl.To.Round(time.Second), sl.Points, sl.FirstMB, sl.LastMB, sl.FirstStreams, sl.LastStreams, sl.KBPerMin, sl.LSQPerMin)
	}
	w("\n")

	w("## Faults\n\n")
	w("| at | fault | what happened |\n|---|---|---|\n")
	for _, f := range r.faults {
		w("| %s | %s | %s |\n", fmtAt(f.At), f.Kind, strings.ReplaceAll(f.Detail, "|", "/"))
	}
	w("\n")
	if len(r.loris) > 0 {
		w("Slow-loris waves, as the attacker saw them:\n\n")
		for _, l := range r.loris {
			w("- %s\n", l)
		}
		w("\n")
	}

	w("## Samples\n\n")
	w("Every %s; per instance a / b / c; `-` while an instance is down.\n\n", every(samples))
	w("| t | streams open | RSS MB | goroutines | fds | delivered/s | p99 ms | load |\n|---|--:|---|---|---|--:|--:|--:|\n")
	step := max(1, len(samples)/30)
	for i := 0; i < len(samples); i += step {
		smp := samples[i]
		p99 := "-"
		if !math.IsNaN(smp.P99) {
			p99 = fmt.Sprintf("%.1f", smp.P99)
		}
		w("| %s | %d | %s | %s | %s | %.0f | %s | %.1f |\n", fmtAt(smp.T), smp.Connected, fmtList(smp.RSS), fmtList(smp.Goroutines), fmtList(smp.FDs), smp.Delivered, p99, smp.Load1)
	}
	w("\n## How the checks work\n\n")
	w("Event IDs are `<epoch>-<seq>`, seq being the JetStream sequence, the same on every instance, and each instance delivers in that order. The soak keeps a ledger of every event (its topic, size and publish time, from the publish answers, and from the first delivery of an event whose answer was lost). A client and its resumptions (a chain) must receive, between the first and the last event it got, and up to the last event of its topics when it stayed to the end, every event of its topics; each event once, in increasing order. An `sse.gap` answered to a resumption whose Last-Event-ID was within %.0f %% of every history bound (count, bytes with a per-event overhead, age) is a failure; beyond that, the skipped events are counted apart and coverage resumes after the gap's ID. A chain that has received no event yet has no Last-Event-ID to resume with (nor would a browser's EventSource), so at the end it owes only the events published at least a second after its open stream opened. A stream of a normal client falls silent when an event of its topics published while it was open had not come %v later, when the stream ended: it loses nothing (the next stream resumes after its last event), but its client waited, and the soak fails.\n", 100*historyMargin, silentAfter)
}

func slopeSummary(s *soak, slopes []memSlope) string {
	var parts []string
	for i, sl := range slopes {
		if sl.OK {
			parts = append(parts, fmt.Sprintf("%s %+.0f KB/min", s.cluster.instances[i].name, sl.KBPerMin))
		}
	}
	if len(parts) == 0 {
		return "not enough samples"
	}
	return strings.Join(parts, ", ")
}

func failureKinds(m map[string]int64) string {
	if len(m) == 0 {
		return ""
	}
	var parts []string
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%s ×%d", k, v))
	}
	sort.Strings(parts)
	return " (" + strings.Join(parts, ", ") + ")"
}

func (p *population) failKinds() string {
	m := map[string]int64{}
	p.failErrs.Range(func(k, v any) bool {
		m[k.(string)] = v.(interface{ Load() int64 }).Load()
		return true
	})
	return failureKinds(m)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/1e6) }

func fmtAt(d time.Duration) string {
	d = d.Round(time.Second)
	return fmt.Sprintf("%d:%02d", int(d.Minutes()), int(d.Seconds())%60)
}

func every(samples []sample) string {
	if len(samples) < 2 {
		return "sample"
	}
	step := max(1, len(samples)/30)
	d := samples[len(samples)-1].T - samples[0].T
	per := time.Duration(float64(d) / math.Max(1, float64(len(samples)-1)) * float64(step))
	return "row about every " + per.Round(time.Second).String()
}
