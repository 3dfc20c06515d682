package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// soak is one run: the cluster, the clients, the publisher and what they
// saw.
type soak struct {
	cfg     config
	start   time.Time
	machine machine
	limits  historyLimits
	stderr  io.Writer

	cluster *cluster
	ledger  ledger
	pub     *publisher
	pop     *population
	srcs    []netip.Addr
	clients int

	topics     []string // by index: the ordinary topics, then hot and flood
	hot, flood int

	delivered atomic.Int64
	lat       latShards
	bursts    atomic.Int64

	// ending is set (and endCh closed) when publishing has stopped:
	// pauses end, slow clients read at full speed, absent clients come
	// back, nobody leaves, so that every client can catch up.
	ending atomic.Bool
	endCh  chan struct{}

	faultMu      sync.Mutex
	faults       []fault
	lorisResults []string

	refused  []map[string]float64 // each instance's refusal counters at the end of the load
	lateInfo []string             // some of the clients that did not catch up at the end
	loadEnd  time.Duration        // when publishing and the faults stopped

	sampleMu  sync.Mutex
	samples   []sample
	evictions evictionCounter

	fatalOnce sync.Once
	fatalErr  error
	fatalCh   chan struct{}
}

func (s *soak) logf(format string, args ...any) {
	fmt.Fprintf(s.stderr, "soak %s "+format+"\n", append([]any{time.Since(s.start).Round(time.Second)}, args...)...)
}

// fatal ends the run early (the cluster cannot go on).
func (s *soak) fatal(err error) {
	s.fatalOnce.Do(func() {
		s.fatalErr = err
		close(s.fatalCh)
	})
}

// lifetime returns how long a client stays before it leaves.
func (s *soak) lifetime() time.Duration {
	if s.ending.Load() {
		return 24 * time.Hour
	}
	return time.Duration(rand.ExpFloat64() * float64(s.cfg.lifetime))
}

// sleepUnlessEnding sleeps d, less if the soak ends its load or ctx ends;
// it reports whether ctx is still on.
func (s *soak) sleepUnlessEnding(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-s.endCh:
		return true
	case <-t.C:
		return true
	}
}

// run does the whole soak and writes the report.
func run(ctx context.Context, cfg config, stderr io.Writer) (int, error) {
	fdLimit, err := raiseFileLimit()
	if err != nil {
		return 1, fmt.Errorf("raise the open-file limit: %w", err)
	}
	if _, err := os.Stat(cfg.serverBin); err != nil {
		return 2, fmt.Errorf("the server binary %s: %w (make server builds it)", cfg.serverBin, err)
	}
	clients := cfg.clients
	if clients == 0 {
		clients = min(cfg.maxClients, int(fdLimit)-cfg.fdReserve)
	}
	if need := uint64(clients + cfg.fdReserve); need > fdLimit {
		return 3, fmt.Errorf("%d clients need %d open files, but the hard limit is %d: lower -clients, or raise the limit (ulimit -Hn)", clients, need, fdLimit)
	}
	if clients < 10 {
		return 3, fmt.Errorf("the open-file limit %d leaves room for %d clients: raise it (ulimit -Hn)", fdLimit, clients)
	}
	s := &soak{
		cfg: cfg, start: time.Now(), machine: describeMachine(fdLimit), stderr: stderr,
		limits:  historyLimits{size: cfg.historySize, bytes: cfg.historyBytes, age: cfg.historyAge},
		clients: clients, endCh: make(chan struct{}), fatalCh: make(chan struct{}),
	}
	for i := range cfg.topics {
		s.topics = append(s.topics, "t"+strconv.Itoa(i))
	}
	s.hot, s.flood = len(s.topics), len(s.topics)+1
	s.topics = append(s.topics, "hot", "flood")
	s.srcs = sources(clients, cfg.perSource)
	s.evictions = evictionCounter{last: make([]float64, cfg.instances), base: make([]float64, cfg.instances)}

	dir, err := os.MkdirTemp("", "ssewasm-soak-")
	if err != nil {
		return 1, err
	}
	if !cfg.keep {
		defer os.RemoveAll(dir)
	}
	s.logf("%d clients (open-file limit %d), %d instances, %v, faults every %v, work dir %s", clients, fdLimit, cfg.instances, cfg.duration, cfg.faultEvery, dir)
	extra := []string{
		"-history-size", strconv.Itoa(cfg.historySize),
		"-history-bytes", strconv.FormatInt(cfg.historyBytes, 10),
		"-history-age", cfg.historyAge.String(),
		"-max-event-size", strconv.Itoa(cfg.maxEventSize),
		// The soak publishes from one address without a token, at
		// bursts over the default per-address limit: it measures
		// delivery, not the publish limits (TestHostile tests those).
		"-publish-rate=0", "-publish-rate-global=0",
	}
	s.cluster, err = newCluster(ctx, cfg.serverBin, dir, cfg.instances, cfg.memory, cfg.profileDir != "", extra)
	if s.cluster != nil {
		defer s.cluster.stop()
	}
	if err != nil {
		return 1, err
	}
	s.pub = newPublisher(s)
	s.pop = newPopulation(s)

	// The clients come in over the first 5% of the run (at most 20 s).
	clientCtx, stopClients := context.WithCancel(ctx)
	defer stopClients()
	ramp := min(cfg.duration/20, 20*time.Second)
	s.pop.wg.Go(func() { s.pop.start(clientCtx, clients, ramp) })

	loadCtx, stopLoad := context.WithTimeout(ctx, cfg.duration)
	defer stopLoad()
	go func() { // a fatal error ends the load early
		select {
		case <-s.fatalCh:
			stopLoad()
		case <-loadCtx.Done():
		}
	}()
	var wg sync.WaitGroup
	sampleCtx, stopSampler := context.WithCancel(context.Background())
	var samplerDone sync.WaitGroup
	samplerDone.Go(func() { s.runSampler(sampleCtx) })
	// Publishing starts once the ramp is under way.
	sleep(loadCtx, ramp/2)
	wg.Go(func() { s.pub.steady(loadCtx, cfg) })
	wg.Go(func() { s.runFaults(loadCtx) })
	wg.Go(func() { s.watchInstances(loadCtx) })
	if cfg.profileDir != "" {
		wg.Go(func() { s.runProfiles(loadCtx) })
	}
	<-loadCtx.Done()
	wg.Wait()
	s.loadEnd = time.Since(s.start)
	s.logf("load over: %d events acknowledged, %d publishes failed; letting the clients catch up", s.pub.acked.Load(), s.pub.failed.Load())

	// Each instance's refusals, before the drain (its reconnections would
	// only add to them).
	s.refused = make([]map[string]float64, len(s.cluster.instances))
	for i, in := range s.cluster.instances {
		s.refused[i], _ = refusals(ctx, in.url)
		s.logf("instance %s: %v", in.name, s.refused[i])
	}

	// The end: everyone catches up with the last event of its topics.
	s.ending.Store(true)
	close(s.endCh)
	caught, late := s.drain(ctx)
	n := 0
	for c, t := range late {
		if n++; n > 10 {
			break
		}
		on := "-"
		if in := c.on.Load(); in != nil {
			on = in.name
		}
		if conn := c.conn.Load(); conn != nil {
			on += " from " + conn.LocalAddr().String()
		}
		last := "none"
		if at := c.lastAt.Load(); at > 0 {
			last = fmt.Sprintf("seq %d at %s", c.lastSeq.Load(), fmtAt(time.Unix(0, at).Sub(s.start)))
		}
		open := "not connected"
		if c.conn.Load() != nil {
			open = "connected to " + on
		}
		s.lateInfo = append(s.lateInfo, fmt.Sprintf("client %d (%s, topics %v, first stream when the newest was seq %d): last event %s, want seq %d; %s", c.id, c.kind, c.topics, c.startSeq.Load(), last, t, open))
		s.logf("not caught up: %s", s.lateInfo[len(s.lateInfo)-1])
	}
	if len(late) > 0 && cfg.dump {
		// A profiling build (go build -tags pprof ./server) writes
		// every stream's state to its log on SIGUSR1.
		for _, in := range s.cluster.instances {
			if pid := in.pid(); pid > 0 {
				syscall.Kill(pid, syscall.SIGUSR1)
			}
		}
		time.Sleep(2 * time.Second)
		s.logf("asked the instances to dump their streams into their logs in %s", dir)
	}
	stopClients()
	s.pop.wg.Wait()
	stopSampler()
	samplerDone.Wait()
	s.logf("clients stopped: %d caught up, %d not", caught, len(late))
	res := s.results(late)
	if err := s.writeReport(res); err != nil {
		return 1, err
	}
	s.logf("wrote %s and %s", cfg.mdPath, cfg.svgPath)
	fmt.Fprint(stderr, res.summary())
	if s.fatalErr != nil {
		return 1, s.fatalErr
	}
	if res.failed() {
		return 1, fmt.Errorf("the soak found failures: see %s", cfg.mdPath)
	}
	return 0, nil
}

// watchInstances ends the run if an instance dies by itself.
func (s *soak) watchInstances(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if ex := s.cluster.exited(); len(ex) > 0 {
			s.fatal(fmt.Errorf("an instance exited by itself: %v", ex))
			return
		}
	}
}

// drain waits until every live client has received the last event of
// each of its topics, or cfg.drainMax. It returns how many did, and
// the chains that did not, with the seq each should have reached.
func (s *soak) drain(ctx context.Context) (int, map[*chain]uint64) {
	newest := s.ledger.newestByTopic(len(s.topics))
	// target is the seq c must reach: the newest event of each of its
	// topics. A chain that has received nothing cannot resume (it has no
	// Last-Event-ID, like a browser's EventSource), so it owes only the
	// events published at least a second after its open stream opened:
	// one that is not connected owes nothing yet. (An event acknowledged
	// after the stream opened may have been stored before.)
	target := func(c *chain) uint64 {
		var t uint64
		opened := c.openedAt.Load()
		for _, k := range c.topics {
			if c.lastSeq.Load() == 0 {
				at := s.ledger.at(newest[k])
				if c.conn.Load() == nil || at.IsZero() || at.UnixNano() < opened+int64(time.Second) {
					continue
				}
			}
			t = max(t, newest[k])
		}
		return t
	}
	deadline := time.Now().Add(s.cfg.drainMax)
	for {
		chains := s.pop.chains()
		late := map[*chain]uint64{}
		for _, c := range chains {
			if t := target(c); c.lastSeq.Load() < t {
				late[c] = t
			}
		}
		if len(late) == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			return len(chains) - len(late), late
		}
		sleep(ctx, 500*time.Millisecond)
	}
}

// newestByTopic returns the highest seq recorded for each topic index.
func (l *ledger) newestByTopic(n int) []uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]uint64, n)
	for seq, e := range l.events {
		if e.topic >= 0 && int(e.topic) < n {
			out[e.topic] = uint64(seq)
		}
	}
	return out
}

// results are the totals of the run.
type results struct {
	published, publishFailed, publishedBytes int64
	publishFailures                          map[string]int64
	delivered                                int64
	expected, lost, missedInGaps             int64
	repeats, misrouted                       int64
	gapsLegit, gapsBad                       int64
	badGaps                                  []string
	late                                     int
	evictions                                float64
	chains                                   int
	p                                        *population
	faults                                   []fault
	loris                                    []string
	slopes                                   []memSlope
	p50, p99, p999, pmax                     time.Duration
	latCount                                 uint64
	fatal                                    error
	bursts                                   int64
	lostByKind                               [3]int64
	lossExamples                             []string
	silent                                   int // streams of normal clients that fell silent
	silentExamples                           []string
	maxLoad, meanLoad                        float64
	exited                                   []string
}

func (r *results) failed() bool {
	return r.lost > 0 || r.late > 0 || r.silent > 0 || r.repeats > 0 || r.misrouted > 0 || r.gapsBad > 0 || r.fatal != nil || len(r.exited) > 0
}

func (r *results) summary() string {
	verdict := "PASS"
	if r.failed() {
		verdict = "FAIL"
	}
	return fmt.Sprintf("%s: %d events published (%d failed), %d delivered, %d lost, %d clients not caught up at the end, %d streams fell silent, %d repeated or out of order, %d misrouted, gaps: %d legitimate (%d events skipped), %d within history; %d evictions; %d faults\n",
		verdict, r.published, r.publishFailed, r.delivered, r.lost, r.late, r.silent, r.repeats, r.misrouted, r.gapsLegit, r.missedInGaps, r.gapsBad, int64(r.evictions), len(r.faults))
}

// results checks every account and gathers the totals.
func (s *soak) results(late map[*chain]uint64) *results {
	r := &results{
		published: s.pub.acked.Load(), publishFailed: s.pub.failed.Load(), publishedBytes: s.pub.bytes.Load(),
		publishFailures: s.pub.failures(), delivered: s.delivered.Load(), p: s.pop,
		misrouted: s.pop.misrouted.Load(), late: len(late), fatal: s.fatalErr, bursts: s.bursts.Load(),
		exited: s.cluster.exited(),
	}
	// The clients that stayed to the end must have everything up to the
	// last event of their topics.
	for c, t := range late {
		c.acct.extend(t)
	}
	s.pop.mu.Lock()
	accts := append([]*account(nil), s.pop.retired...)
	s.pop.mu.Unlock()
	r.chains = len(accts)
	for _, a := range accts {
		v := a.check(&s.ledger)
		r.expected += v.expected
		r.lost += v.lost
		r.lostByKind[a.kind] += v.lost
		for i, sg := range v.lossy {
			if len(r.lossExamples) >= 12 && (!s.cfg.trace || len(r.lossExamples) >= 200) {
				break
			}
			r.lossExamples = append(r.lossExamples, fmt.Sprintf("%s (published %s–%s): received %d of %d",
				a.explain(&s.ledger, sg, s.topics, s.start), fmtAt(s.ledger.at(sg.from).Sub(s.start)), fmtAt(s.ledger.at(sg.to).Sub(s.start)), sg.received, v.due[i]))
		}
		r.silent += a.silences(&s.ledger, s.start, s.topics, &r.silentExamples)
		r.missedInGaps += v.missedInGaps
		r.repeats += a.repeats
		r.gapsLegit += a.gapsLegit
		r.gapsBad += a.gapsBad
		if len(r.badGaps) < 10 {
			r.badGaps = append(r.badGaps, a.badGaps...)
		}
	}
	s.faultMu.Lock()
	r.faults = append(r.faults, s.faults...)
	r.loris = append(r.loris, s.lorisResults...)
	s.faultMu.Unlock()
	s.sampleMu.Lock()
	samples := append([]sample(nil), s.samples...)
	s.sampleMu.Unlock()
	r.evictions = s.evictions.total()
	warm := s.cfg.duration / 3
	// Memory is fitted over the load only: once it ends, the clients
	// catch up and then stop, and the instances' streams go with them.
	load := samples
	for len(load) > 0 && load[len(load)-1].T > s.loadEnd {
		load = load[:len(load)-1]
	}
	for i := range s.cluster.instances {
		r.slopes = append(r.slopes, memorySlope(load, i, warm, 30*time.Second))
	}
	s.lat.take()
	s.lat.allMu.Lock()
	h := &s.lat.all
	r.latCount, r.p50, r.p99, r.p999, r.pmax = h.Count(), h.Quantile(0.5), h.Quantile(0.99), h.Quantile(0.999), h.Max()
	s.lat.allMu.Unlock()
	var n float64
	for _, smp := range samples {
		if !math.IsNaN(smp.Load1) {
			r.maxLoad = max(r.maxLoad, smp.Load1)
			r.meanLoad += smp.Load1
			n++
		}
	}
	if n > 0 {
		r.meanLoad /= n
	}
	return r
}
