package main

import (
	"net/http"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/ssewasm/ssewasm/server/actions"
	"github.com/ssewasm/ssewasm/server/internal/epoll"
	"github.com/ssewasm/ssewasm/server/sse"
)

// metricsHandler serves the broker's figures, with the Go runtime's and
// the process's, in the Prometheus text format. The figures are read from
// Broker.Stats when scraped, so the hot path keeps only its own counters.
func metricsHandler(b *sse.Broker, ref *refusals, acts *actions.Registry) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	gauge := func(name, help string, f func(sse.BrokerStats) float64) {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "ssewasm", Name: name, Help: help},
			func() float64 { return f(b.Stats()) }))
	}
	counter := func(name, help string, f func(sse.BrokerStats) float64) {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "ssewasm", Name: name, Help: help},
			func() float64 { return f(b.Stats()) }))
	}
	gauge("clients", "Event streams open now.", func(s sse.BrokerStats) float64 { return float64(s.Clients) })
	counter("events_published_total", "Events published.", func(s sse.BrokerStats) float64 { return float64(s.Published) })
	counter("events_delivered_total", "Events queued for delivery to clients, replayed ones included.", func(s sse.BrokerStats) float64 { return float64(s.Delivered) })
	counter("publishes_deduplicated_total", "Publishes answered with the ID of an earlier one with the same Idempotency-Key: nothing stored.", func(s sse.BrokerStats) float64 { return float64(s.Deduplicated) })
	counter("events_replayed_total", "Events replayed to reconnecting clients from history.", func(s sse.BrokerStats) float64 { return float64(s.Replayed) })
	counter("clients_evicted_total", "Clients disconnected because they could not keep up (they replay on reconnect).", func(s sse.BrokerStats) float64 { return float64(s.Evicted) })
	counter("publishes_stalled_total", "Publishes that waited (at most -publish-stall) for clients more than -max-lag behind.", func(s sse.BrokerStats) float64 { return float64(s.PublishWaits) })
	counter("connections_rejected_total", "Stream requests refused over a limit, or during shutdown.", func(s sse.BrokerStats) float64 { return float64(s.Rejected) })
	counter("gaps_total", "Streams told that their Last-Event-ID could not be replayed.", func(s sse.BrokerStats) float64 { return float64(s.Gaps) })
	counter("replays_failed_total", "Replays, or parts of one, that the engine could not read; each client got the sse.gap event (unavailable), then live events.", func(s sse.BrokerStats) float64 { return float64(s.ReplaysFailed) })
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "ssewasm", Name: "epoll_errors_total",
		Help: "Failures of epoll_wait (the broker's watcher of hijacked streams, the HTTP/2 server's parked connections): each ended the streams or closed the connections of its set, which reconnect; any is a bug to report."},
		func() float64 { return float64(epoll.Errors()) }))
	counter("revocations_total", "Revocations applied (sign-outs), wherever they were made: each once per instance.", func(s sse.BrokerStats) float64 { return float64(s.Revocations) })
	counter("streams_revoked_total", "Streams a revocation made anonymous: they lost their private topics (sse.revoked).", func(s sse.BrokerStats) float64 { return float64(s.RevokedStreams) })
	counter("streams_expired_total", "Streams ended at their session's expiry, after sse.expired.", func(s sse.BrokerStats) float64 { return float64(s.Expired) })
	refused := func(reason string, f func() float64) {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "ssewasm", Name: "refused_total",
			Help:        "Requests and connections refused, by reason: caps (unknown method, over-long /web/ name, over -max-conns, -max-publishing, -publish-read-timeout, -publish-rate, -publish-rate-global, headers over -max-header-bytes, TLS handshakes over the bound or too slow; a bad Idempotency-Key), sign-in and private topics (login_*, cross_site, topic_name, publish_private, session_*, stream_*: docs/protocol.md), actions (action_*).",
			ConstLabels: prometheus.Labels{"reason": reason}}, f))
	}
	for _, reason := range slices.Concat(refusedReasons, identityReasons) {
		refused(reason, func() float64 { return float64(ref.count(reason)) })
	}
	for reason, f := range map[string]func(sse.BrokerStats) uint64{
		"stream_identify":  func(s sse.BrokerStats) uint64 { return s.RefusedIdentify },
		"stream_sign_in":   func(s sse.BrokerStats) uint64 { return s.RefusedSignIn },
		"stream_forbidden": func(s sse.BrokerStats) uint64 { return s.RefusedForbidden },
		"stream_revoked":   func(s sse.BrokerStats) uint64 { return s.RefusedRevoked },
		"stream_expired":   func(s sse.BrokerStats) uint64 { return s.RefusedExpired },
	} {
		refused(reason, func() float64 { return float64(f(b.Stats())) })
	}
	if acts != nil {
		for reason := range acts.Stats().Refused {
			refused(reason, func() float64 { return float64(acts.Stats().Refused[reason]) })
		}
	}
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}
