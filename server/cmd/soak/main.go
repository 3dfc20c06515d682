// Command soak runs a cluster of the real server for a long while under
// a realistic and hostile load, checks that no event is lost, and writes
// what it saw to docs/soak.md with a plot (docs/soak.svg).
//
//	make soak                 # 30 minutes (builds bin/server first)
//	SOAK=2m make soak         # a short run
//	go run ./server/cmd/soak -duration 5m -server bin/server -md /tmp/soak.md -svg /tmp/soak.svg
//
// The cluster is a NATS JetStream server (this binary run as "soak nats",
// its store in a temporary directory) and -instances processes of the
// server binary sharing it (-nats, docs/scale-out.md), all on free
// loopback ports. The soak raises its open-file limit to the hard limit
// and opens as many clients as that allows (less a reserve for the
// faults and the publishers; -clients sets the count), from 127.1.x.y
// addresses, spread over the instances:
//
//   - most read as fast as events come; some read slowly (-slow-rate);
//     some stop reading now and then, mostly briefly, sometimes for
//     -long-pause, beyond the server's write deadline, so that the server
//     evicts them and they resume from history;
//   - clients leave (each stays for a random time around -lifetime):
//     half come back after a while with Last-Event-ID, half are replaced
//     by new clients;
//   - events are published at -rate a second (a busy "hot" topic among
//     them), with a burst of -burst-size every -burst-every.
//
// Every -fault-every one of these faults comes round, marked in time: the
// last instance SIGKILLed and restarted (its clients resume on the
// others); a quarter of the streams reset with a RST at once; a slow-loris
// wave (headers a byte a second, and /publish bodies a byte a second);
// the publish flood (-flood-events of the largest accepted size); the
// NATS server stopped and restarted with its store.
//
// Checks: every client that stayed connected, or resumed within the
// history bounds, received every event of its topics, once and in order.
// A client told sse.gap for a resumption beyond the history bounds lost
// events legitimately: it is counted apart; a gap within the bounds is a
// failure. Every -sample the soak records each instance's RSS, goroutines
// and open files, the events delivered per second and the p99 latency
// from publish to receive.
//
// At the end it writes -md and -svg, and exits with status 1 if any
// event was lost, doubled or reordered, a gap came within history, or an
// instance died by itself; 2 for bad flags. It stops by itself after
// -duration (Ctrl-C stops it early and still writes the report), and
// kills every process it started on the way out.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"
)

// config is what the flags set.
type config struct {
	duration     time.Duration
	serverBin    string
	instances    int
	clients      int
	maxClients   int
	fdReserve    int
	perSource    int
	rate         float64
	hotRate      float64
	hotSize      int
	topics       int
	burstEvery   time.Duration
	burstSize    int
	faultEvery   time.Duration
	downFor      time.Duration
	sampleEvery  time.Duration
	slowShare    float64
	pauseShare   float64
	slowRate     int
	longPause    time.Duration
	pauseEvery   time.Duration
	lifetime     time.Duration
	maxAway      time.Duration
	floodEvery   int
	floodEvents  int
	maxEventSize int
	lorisConns   int
	lorisMax     time.Duration
	historySize  int
	historyBytes int64
	historyAge   time.Duration
	mdPath       string
	svgPath      string
	note         string
	drainMax     time.Duration
	memory       bool
	trace        bool
	keep         bool
	dump         bool
	profileDir   string
	profileEvery time.Duration

	lorisPublishes int
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(mainCode(ctx, os.Args[1:], os.Stderr))
}

func mainCode(ctx context.Context, args []string, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "nats" { // the cluster's NATS server: see natsServer
		if err := natsMain(args[1:]); err != nil {
			fmt.Fprintln(stderr, "soak nats:", err)
			return 1
		}
		return 0
	}
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "soak:", err)
		return 2
	}
	code, err := run(ctx, cfg, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "soak:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := 30 * time.Minute
	if v := os.Getenv("SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return c, fmt.Errorf("SOAK=%q: want a duration such as 2m or 30m", v)
		}
		def = d
	}
	fs.DurationVar(&c.duration, "duration", def, "how long the load runs (default: $SOAK, else 30m); faults, pauses and lifetimes scale with it")
	fs.StringVar(&c.serverBin, "server", "bin/server", "the server binary (make server)")
	fs.IntVar(&c.instances, "instances", 3, "server instances on the shared NATS JetStream")
	fs.IntVar(&c.clients, "clients", 0, "clients (0: as many as the open-file limit allows less -fd-reserve, at most -max-clients)")
	fs.IntVar(&c.maxClients, "max-clients", 50000, "with -clients 0, at most this many clients")
	fs.IntVar(&c.fdReserve, "fd-reserve", 2500, "open files kept for the faults, the publishers and the sampler")
	fs.IntVar(&c.perSource, "per-source", 40, "clients per source address (under the server's -max-clients-per-ip)")
	fs.Float64Var(&c.rate, "rate", 20, "events published a second, steadily")
	fs.Float64Var(&c.hotRate, "hot-rate", 2, "of which on the hot topic, which the slow and pausing clients read")
	fs.IntVar(&c.hotSize, "hot-size", 8192, "bytes of data of a hot-topic event (the others have 100 to 500)")
	fs.IntVar(&c.topics, "topics", 16, "ordinary topics")
	fs.DurationVar(&c.burstEvery, "burst-every", 0, "a burst of -burst-size events this often (0: -duration/60, from 5s to 30s)")
	fs.IntVar(&c.burstSize, "burst-size", 300, "events in a burst, published 8 at a time")
	fs.DurationVar(&c.faultEvery, "fault-every", 0, "a fault this often (0: -duration/10, at least 12s)")
	fs.DurationVar(&c.downFor, "down-for", 3*time.Second, "how long a killed instance or the stopped NATS server stays down")
	fs.DurationVar(&c.sampleEvery, "sample", 0, "sampling interval (0: -duration/360, from 1s to 5s)")
	fs.Float64Var(&c.slowShare, "slow-share", 0.05, "share of slow clients")
	fs.Float64Var(&c.pauseShare, "pause-share", 0.15, "share of pausing clients")
	fs.IntVar(&c.slowRate, "slow-rate", 32<<10, "bytes a second a slow client reads")
	fs.DurationVar(&c.longPause, "long-pause", 0, "a long pause lasts this to 1.5 times this (0: 25s, less in a run under 5 minutes); half the pauses are long, the others 1-4s")
	fs.DurationVar(&c.pauseEvery, "pause-every", 0, "a pausing client pauses about this often (0: 60s, less in short runs)")
	fs.DurationVar(&c.lifetime, "lifetime", 0, "mean time a client stays before it leaves (0: -duration/4, from 1m to 3m)")
	fs.DurationVar(&c.maxAway, "max-away", 0, "a client that leaves and comes back stays away up to this (0: 15s, at most -lifetime/4)")
	fs.IntVar(&c.floodEvery, "flood-every", 400, "one client in this many also reads the flood topic")
	fs.IntVar(&c.floodEvents, "flood-events", 40, "events of the publish flood")
	fs.IntVar(&c.maxEventSize, "max-event-size", 1<<20, "the instances' -max-event-size; the flood's events are this large")
	fs.IntVar(&c.lorisConns, "loris-conns", 600, "header slow-loris connections of a wave, over all instances")
	fs.IntVar(&c.lorisPublishes, "loris-publishes", 30, "slow /publish bodies of a wave, over all instances (each instance's -max-publishing is 64)")
	fs.DurationVar(&c.lorisMax, "loris-max", 25*time.Second, "a slow-loris wave ends after this")
	fs.IntVar(&c.historySize, "history-size", 10000, "the instances' -history-size")
	fs.Int64Var(&c.historyBytes, "history-bytes", 64<<20, "the instances' -history-bytes")
	fs.DurationVar(&c.historyAge, "history-age", time.Hour, "the instances' -history-age")
	fs.StringVar(&c.mdPath, "md", "docs/soak.md", "the report to write")
	fs.StringVar(&c.svgPath, "svg", "docs/soak.svg", "the plot to write (linked from -md by its base name)")
	fs.StringVar(&c.note, "note", os.Getenv("SOAK_NOTE"), "a note for the report, e.g. what else ran on the machine (default $SOAK_NOTE)")
	fs.DurationVar(&c.drainMax, "drain-max", time.Minute, "at the end, how long the clients get to catch up with the last event")
	fs.BoolVar(&c.memory, "memory-engine", false, "one instance (-instances 1) without NATS, its history in memory (to tell the broker's behaviour from the JetStream engine's; give -fault-every longer than -duration: a kill loses the history)")
	fs.BoolVar(&c.keep, "keep", false, "keep the work directory (the instances' logs, NATS's store)")
	fs.BoolVar(&c.dump, "dump", false, "if clients have not caught up at the end, send the instances SIGUSR1 (a server built with -tags pprof then logs every stream's state; any other build dies of it)")
	fs.StringVar(&c.profileDir, "profile-dir", "", "write each instance's heap profile into this directory every -profile-every, listed in profiles.tsv with its streams and RSS; the instances must be a profiling build (go build -tags pprof -o bin/server-pprof ./server; -server bin/server-pprof)")
	fs.DurationVar(&c.profileEvery, "profile-every", time.Minute, "with -profile-dir, how often")
	fs.BoolVar(&c.trace, "trace", false, "keep every event each client received, so that the report names the events lost (about 4 bytes per delivery)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q: every option is a flag (see -h)", fs.Args())
	}
	switch {
	case c.duration < 20*time.Second || c.duration > 4*time.Hour:
		return c, errors.New("-duration is from 20s to 4h")
	case c.memory && c.instances != 1:
		return c, errors.New("-memory-engine runs one instance (-instances 1): each would have its own IDs")
	case !c.memory && (c.instances < 2 || c.instances > 8):
		return c, errors.New("-instances is from 2 to 8 (one is killed now and then: its clients need another)")
	case c.clients < 0 || c.clients > 200_000:
		return c, errors.New("-clients is 0 (as many as the open-file limit allows) or a count up to 200000")
	case c.rate <= 0 || c.rate > 5000 || c.hotRate < 0 || c.hotRate > c.rate:
		return c, errors.New("-rate is from 0 to 5000 events a second, -hot-rate at most -rate")
	case c.topics < 1 || c.topics > maxTopics-2:
		return c, fmt.Errorf("-topics is from 1 to %d", maxTopics-2)
	case c.slowShare < 0 || c.pauseShare < 0 || c.slowShare+c.pauseShare > 1:
		return c, errors.New("-slow-share and -pause-share are fractions that add up to at most 1")
	case c.slowRate < 512:
		return c, errors.New("-slow-rate is at least 512 bytes a second")
	case c.profileDir != "" && c.profileEvery < time.Second:
		return c, errors.New("-profile-every is at least 1s")
	case c.floodEvery < 1 || c.perSource < 1:
		return c, errors.New("-flood-every and -per-source are positive")
	case c.maxEventSize < 1024 || c.maxEventSize > 8<<20:
		return c, errors.New("-max-event-size is from 1 KiB to 8 MiB")
	}
	scaled := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	scaled(&c.burstEvery, min(max(c.duration/60, 5*time.Second), 30*time.Second))
	scaled(&c.faultEvery, max(c.duration/10, 12*time.Second))
	scaled(&c.sampleEvery, min(max(c.duration/360, time.Second), 5*time.Second))
	scaled(&c.longPause, min(25*time.Second, max(c.duration/8, 12*time.Second)))
	scaled(&c.pauseEvery, min(time.Minute, max(c.duration/6, 15*time.Second)))
	scaled(&c.lifetime, min(3*time.Minute, max(c.duration/4, time.Minute)))
	scaled(&c.maxAway, min(15*time.Second, c.lifetime/4))
	return c, nil
}

// raiseFileLimit sets the soft open-file limit to the hard one (the
// instances inherit it) and returns it.
func raiseFileLimit() (uint64, error) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, err
	}
	r.Cur = r.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, err
	}
	return r.Max, nil
}

// machine describes where the soak ran.
type machine struct {
	Cores   int
	FDLimit uint64
	MemMB   int64
	Kernel  string
	GoVer   string
}

func describeMachine(fdLimit uint64) machine {
	m := machine{Cores: runtime.NumCPU(), FDLimit: fdLimit, GoVer: runtime.Version()}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		fmt.Sscanf(string(b), "MemTotal: %d kB", &kb)
		m.MemMB = kb / 1024
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = string(b[:len(b)-1])
	}
	return m
}
