package main

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/ssewasm/ssewasm/server/internal/epoll"
	"github.com/ssewasm/ssewasm/server/sse"
)

// metricsHandler serves the broker's figures, with the Go runtime's and
// the process's, in the Prometheus text format. The figures are read from
// Broker.Stats when scraped, so the hot path keeps only its own counters.
func metricsHandler(b *sse.Broker, ref *refusals) http.Handler {
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
	for _, reason := range refusedReasons {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "ssewasm", Name: "refused_total",
			Help:        "Requests and connections refused by a cap: unknown method, over-long /web/ name, over -max-conns, -max-publishing, -publish-read-timeout, -publish-rate, -publish-rate-global; a bad Idempotency-Key; headers over -max-header-bytes (plain HTTP/1.1); TLS handshakes over the bound or too slow.",
			ConstLabels: prometheus.Labels{"reason": reason}},
			func() float64 { return float64(ref.count(reason)) }))
	}
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}
