package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	hdr "github.com/ssewasm/ssewasm/server/internal/latency"
)

// publisher sends events through POST /publish.
type publisher struct {
	r      *runner
	client *http.Client
	url    string

	next      atomic.Uint64 // next sequence number
	sentN     atomic.Int64  // requests sent
	acked     atomic.Int64  // answered 2xx
	failed    atomic.Int64  // errors and other statuses
	capped    atomic.Bool   // stopped at the table's capacity
	errOnce   sync.Once
	firstErr  error
	latencies hdr.Histogram // request round trips, guarded by mu
	mu        sync.Mutex
}

func newPublisher(r *runner, inflight int, tlsConf *tls.Config) *publisher {
	tr := &http.Transport{
		TLSClientConfig:     tlsConf,
		MaxIdleConnsPerHost: inflight,
		MaxConnsPerHost:     inflight,
		DisableCompression:  true,
		IdleConnTimeout:     time.Minute,
	}
	return &publisher{
		r:      r,
		client: &http.Client{Transport: tr, Timeout: 10 * time.Second},
		url:    r.urls.publishURL,
	}
}

func (p *publisher) close() { p.client.CloseIdleConnections() }

// post sends one body and returns an error unless the server answered 2xx.
func (p *publisher) post(ctx context.Context, body string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return &statusError{code: resp.StatusCode, status: resp.Status, body: strings.TrimSpace(string(msg))}
	}
	return nil
}

type statusError struct {
	code   int
	status string
	body   string
}

func (e *statusError) Error() string {
	if e.body == "" {
		return "POST /publish answered " + e.status
	}
	return fmt.Sprintf("POST /publish answered %s: %.200s", e.status, e.body)
}

// explainPublishErr turns a failed first publish into advice.
func explainPublishErr(err error) error {
	var se *statusError
	if errors.As(err, &se) && (se.code == http.StatusNotFound || se.code == http.StatusMethodNotAllowed) {
		return fmt.Errorf("the server does not serve POST /publish (%w); it needs the endpoints of docs/protocol.md (GET /events, POST /publish?topic=T)", err)
	}
	return fmt.Errorf("publish a test event: %w", err)
}

// publishSeq publishes the measured event seq, recording it in the table
// before the request goes out so that no client can see it first.
func (p *publisher) publishSeq(ctx context.Context, seq uint64) {
	now := time.Now()
	data := makePayload(seq, now, p.r.cfg.size, p.r.cfg.multiline)
	p.r.table.put(seq, &sent{data: data, mono: now.Sub(p.r.start)})
	p.sentN.Add(1)
	err := p.post(ctx, data)
	rtt := time.Since(now)
	if err != nil {
		p.failed.Add(1)
		p.errOnce.Do(func() { p.firstErr = err })
		return
	}
	p.r.table.ack(seq)
	p.acked.Add(1)
	p.mu.Lock()
	p.latencies.Record(rtt)
	p.mu.Unlock()
}

// claim returns the next sequence number, or false at the table's end.
func (p *publisher) claim() (uint64, bool) {
	seq := p.next.Add(1) - 1
	if seq >= uint64(p.r.table.capacity()) {
		p.capped.Store(true)
		return 0, false
	}
	return seq, true
}

// runUnthrottled keeps inflight requests going until stop is done.
// Requests in flight when stop is done complete (under reqCtx), so their
// outcome is known.
func (p *publisher) runUnthrottled(stop, reqCtx context.Context, inflight int) {
	var wg sync.WaitGroup
	for range inflight {
		wg.Go(func() {
			for stop.Err() == nil {
				seq, ok := p.claim()
				if !ok {
					return
				}
				p.publishSeq(reqCtx, seq)
			}
		})
	}
	wg.Wait()
}

// runRate publishes at rate events per second, with up to inflight
// requests at once, until stop is done. Events are due at fixed times; a
// slow server makes the publisher fall behind (the achieved rate shows
// it) rather than burst to catch up by more than inflight events.
func (p *publisher) runRate(stop, reqCtx context.Context, rate float64, inflight int) {
	jobs := make(chan uint64) // unbuffered: a due event waits for a free worker
	var wg sync.WaitGroup
	for range inflight {
		wg.Go(func() {
			for seq := range jobs {
				p.publishSeq(reqCtx, seq)
			}
		})
	}
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	t := time.NewTimer(0)
	defer t.Stop()
loop:
	for i := 0; ; i++ {
		due := start.Add(time.Duration(i) * interval)
		t.Reset(time.Until(due))
		select {
		case <-stop.Done():
			break loop
		case <-t.C:
		}
		seq, ok := p.claim()
		if !ok {
			break
		}
		select {
		case jobs <- seq:
		case <-stop.Done():
			break loop
		}
	}
	close(jobs)
	wg.Wait()
}
