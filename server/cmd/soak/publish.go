package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// An event's data is "k=<topic index> t=<publish time, Unix ns> " and
// padding up to its size, so that a client knows the topic (for the
// ledger) and the latency of every event it receives.

const padAlpha = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// makeData returns the data of an event of topic k published at t.
func makeData(k int, t time.Time, size int) string {
	var b strings.Builder
	b.Grow(max(size, 40))
	b.WriteString("k=")
	b.WriteString(strconv.Itoa(k))
	b.WriteString(" t=")
	b.WriteString(strconv.FormatInt(t.UnixNano(), 10))
	b.WriteByte(' ')
	for i := 0; b.Len() < size; i++ {
		b.WriteByte(padAlpha[(k+i)%len(padAlpha)])
	}
	return b.String()
}

// parseData returns the topic index and publish time of an event's
// data, or ok false for data the soak did not publish.
func parseData(data string) (k int, at int64, ok bool) {
	rest, found := strings.CutPrefix(data, "k=")
	if !found {
		return 0, 0, false
	}
	ks, rest, found := strings.Cut(rest, " t=")
	if !found {
		return 0, 0, false
	}
	ts, _, _ := strings.Cut(rest, " ")
	k, err1 := strconv.Atoi(ks)
	at, err2 := strconv.ParseInt(ts, 10, 64)
	if err1 != nil || err2 != nil || k < 0 || k >= maxTopics {
		return 0, 0, false
	}
	return k, at, true
}

// publisher sends events through POST /publish to the instances in turn.
type publisher struct {
	s      *soak
	client *http.Client
	next   atomic.Uint64 // round robin over the instances

	acked  atomic.Int64 // answered 200 with an ID
	failed atomic.Int64 // errors and other statuses
	bytes  atomic.Int64 // data bytes acknowledged

	errMu    sync.Mutex
	lastErrs map[string]int64 // failure kinds, counted
}

func newPublisher(s *soak) *publisher {
	return &publisher{
		s: s,
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			MaxIdleConnsPerHost: 16,
			DisableCompression:  true,
			IdleConnTimeout:     30 * time.Second,
		}},
		lastErrs: map[string]int64{},
	}
}

// publish sends one event of topic k with size bytes of data and records
// it in the ledger when the server answers with its ID.
func (p *publisher) publish(ctx context.Context, k, size int) {
	now := time.Now()
	data := makeData(k, now, size)
	inst := p.s.cluster.instances[p.next.Add(1)%uint64(len(p.s.cluster.instances))]
	url := inst.url + "/publish?topic=" + p.s.topics[k] + "&event=e"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(data))
	if err != nil {
		p.fail("request: " + err.Error())
		return
	}
	resp, err := p.client.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			p.fail("error (instance down?)")
		}
		return
	}
	defer resp.Body.Close()
	var answer struct{ ID string }
	err = json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&answer)
	seq := seqOf(answer.ID)
	if resp.StatusCode != http.StatusOK || err != nil || seq == 0 {
		p.fail(fmt.Sprintf("status %d", resp.StatusCode))
		return
	}
	p.s.ledger.record(seq, k, len(data), now.UnixNano())
	p.acked.Add(1)
	p.bytes.Add(int64(len(data)))
}

func (p *publisher) fail(kind string) {
	p.failed.Add(1)
	p.errMu.Lock()
	p.lastErrs[kind]++
	p.errMu.Unlock()
}

// failures returns the failure kinds and their counts.
func (p *publisher) failures() map[string]int64 {
	p.errMu.Lock()
	defer p.errMu.Unlock()
	out := make(map[string]int64, len(p.lastErrs))
	for k, v := range p.lastErrs {
		out[k] = v
	}
	return out
}

// steady publishes at the configured rate until ctx ends, with a burst
// every burstEvery: hot-topic events at hotRate of hotSize bytes, and
// the rest spread over the ordinary topics, of 100 to 500 bytes.
func (p *publisher) steady(ctx context.Context, cfg config) {
	var wg sync.WaitGroup
	defer wg.Wait()
	jobs := make(chan [2]int) // unbuffered: a due event waits for a free worker
	for range 8 {
		wg.Go(func() {
			for j := range jobs {
				p.publish(context.WithoutCancel(ctx), j[0], j[1])
			}
		})
	}
	defer close(jobs)
	interval := time.Duration(float64(time.Second) / cfg.rate)
	hotEvery := max(1, int(cfg.rate/cfg.hotRate))
	tick := time.NewTicker(interval)
	defer tick.Stop()
	burst := time.NewTicker(cfg.burstEvery)
	defer burst.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-burst.C:
			for range cfg.burstSize {
				select {
				case jobs <- [2]int{rand.IntN(cfg.topics), 100 + rand.IntN(400)}:
				case <-ctx.Done():
					return
				}
			}
			p.s.bursts.Add(1)
			continue
		case <-tick.C:
		}
		j := [2]int{rand.IntN(cfg.topics), 100 + rand.IntN(400)}
		if i%hotEvery == 0 {
			j = [2]int{p.s.hot, cfg.hotSize}
		}
		select {
		case jobs <- j:
		case <-ctx.Done():
			return
		}
	}
}
