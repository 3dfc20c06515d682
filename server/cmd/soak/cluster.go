package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// natsServer is the JetStream server the instances share: a process of
// its own (this binary, run as "soak nats", see natsMain) on a free
// loopback port with its store in a directory, so that it can be
// restarted on the same port with the same store, and so that it does
// not compete for the scheduler with the soak's thousands of clients.
type natsServer struct {
	dir  string
	port int
	log  string
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

func (n *natsServer) url() string { return "nats://127.0.0.1:" + strconv.Itoa(n.port) }

// start (re)starts the server and waits until it accepts connections.
func (n *natsServer) start(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil {
		return nil
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	logf, err := os.OpenFile(n.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(self, "nats", "-port", strconv.Itoa(n.port), "-store", n.dir)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start the NATS server: %w", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(done) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(n.port), time.Second)
		if err == nil {
			c.Close()
			n.cmd, n.done = cmd, done
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("the NATS server exited at start: %s", tail(n.log))
		case <-ctx.Done():
			cmd.Process.Kill()
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			return fmt.Errorf("the NATS server did not listen within 20s: %s", tail(n.log))
		}
	}
}

// stop ends the server gracefully (SIGTERM: JetStream flushes its
// store); start brings it back with that store.
func (n *natsServer) stop() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return
	}
	n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(15 * time.Second):
		n.cmd.Process.Kill()
		<-n.done
	}
	n.cmd = nil
}

// natsMain is "soak nats": a NATS server with JetStream, storing in
// -store, on 127.0.0.1:-port, until SIGTERM or SIGINT.
func natsMain(args []string) error {
	fs := flag.NewFlagSet("soak nats", flag.ContinueOnError)
	port := fs.Int("port", 0, "port to listen on")
	store := fs.String("store", "", "JetStream store directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *port <= 0 || *store == "" {
		return errors.New("soak nats needs -port and -store")
	}
	srv, err := server.NewServer(&server.Options{
		Host:       "127.0.0.1",
		Port:       *port,
		JetStream:  true,
		StoreDir:   *store,
		MaxPayload: 8 << 20, // room for the flood's 1 MiB events, like -nats-embedded
		NoSigs:     true,
		NoLog:      true,
	})
	if err != nil {
		return fmt.Errorf("NATS server: %w", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return errors.New("the NATS server did not start within 10s")
	}
	sig := make(chan os.Signal, 1) // buffered: signal.Notify does not block
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
	srv.Shutdown()
	srv.WaitForShutdown()
	return nil
}

// instance is one server process of the cluster. Its port stays the
// same across restarts.
type instance struct {
	name string
	addr string // 127.0.0.1:port
	url  string // http://addr
	args []string
	log  string // the file its stderr goes to (appended across restarts)
	// pprof is where a profiling build serves net/http/pprof
	// (SSEWASM_PPROF), or "" (see profile.go).
	pprof string

	mu       sync.Mutex
	cmd      *exec.Cmd
	done     chan struct{} // closed when cmd has exited
	restarts int
	started  time.Time // the current process's start
}

// pid returns the current process's PID, or 0 when it is not running.
func (in *instance) pid() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.cmd == nil || in.cmd.Process == nil {
		return 0
	}
	select {
	case <-in.done:
		return 0
	default:
	}
	return in.cmd.Process.Pid
}

// cluster is the NATS server and the instances.
type cluster struct {
	bin       string
	web       string
	nats      *natsServer
	instances []*instance
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// newCluster starts the NATS server and n instances of bin with extra
// flags, everything under dir; with profiling, each instance serves
// net/http/pprof on a port of its own.
func newCluster(ctx context.Context, bin, dir string, n int, memory, profiling bool, extra []string) (*cluster, error) {
	web := filepath.Join(dir, "web")
	// The server serves the browser app from -web and refuses to start
	// without app.wasm; the soak never loads it, so an empty one will do.
	if err := os.MkdirAll(web, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(web, "app.wasm"), nil, 0o644); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	c := &cluster{bin: bin, web: web, nats: &natsServer{dir: filepath.Join(dir, "jetstream"), port: port, log: filepath.Join(dir, "nats.log")}}
	if err := c.nats.start(ctx); err != nil {
		return nil, err
	}
	for i := range n {
		port, err := freePort()
		if err != nil {
			return c, err
		}
		in := &instance{name: string(rune('a' + i)), addr: "127.0.0.1:" + strconv.Itoa(port), log: filepath.Join(dir, fmt.Sprintf("instance-%c.log", 'a'+i))}
		in.url = "http://" + in.addr
		in.args = []string{"-addr", in.addr, "-web", web, "-log-level", "WARN"}
		if !memory {
			in.args = append(in.args, "-nats", c.nats.url())
		}
		in.args = append(in.args, extra...)
		if profiling {
			port, err := freePort()
			if err != nil {
				return c, err
			}
			in.pprof = "127.0.0.1:" + strconv.Itoa(port)
		}
		c.instances = append(c.instances, in)
		if err := c.startInstance(ctx, in); err != nil {
			return c, err
		}
	}
	return c, nil
}

// startInstance runs in's process and waits until /healthz answers.
func (c *cluster) startInstance(ctx context.Context, in *instance) error {
	logf, err := os.OpenFile(in.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(c.bin, in.args...)
	if in.pprof != "" {
		cmd.Env = append(os.Environ(), "SSEWASM_PPROF="+in.pprof, "SSEWASM_MEMPROFILERATE="+strconv.Itoa(profileSampleBytes))
	}
	cmd.Stdout = io.Discard
	cmd.Stderr = logf
	// Its own process group, and SIGKILL if the soak dies without
	// cleaning up: no instance outlives the soak.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w (build it with make server)", c.bin, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(done) }()
	in.mu.Lock()
	in.cmd, in.done, in.started = cmd, done, time.Now()
	in.mu.Unlock()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if healthy(ctx, in.url) {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("instance %s exited at start: %s", in.name, tail(in.log))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("instance %s: /healthz did not answer within 20s: %s", in.name, tail(in.log))
		}
	}
}

// healthy reports whether url's /healthz answers 200.
func healthy(ctx context.Context, url string) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/healthz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// kill sends SIGKILL to in and waits for it to exit.
func (in *instance) kill() {
	in.mu.Lock()
	cmd, done := in.cmd, in.done
	in.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// restart starts in again on its port (after kill).
func (c *cluster) restart(ctx context.Context, in *instance) error {
	in.mu.Lock()
	in.restarts++
	in.mu.Unlock()
	var err error
	for range 20 { // the port may take a moment to be free again
		if err = c.startInstance(ctx, in); err == nil || ctx.Err() != nil {
			return err
		}
		time.Sleep(250 * time.Millisecond)
	}
	return err
}

// stop kills every instance and the NATS server.
func (c *cluster) stop() {
	for _, in := range c.instances {
		in.kill()
	}
	c.nats.stop()
}

// exited returns the instances whose process exited by itself, with the
// end of their logs.
func (c *cluster) exited() []string {
	var out []string
	for _, in := range c.instances {
		in.mu.Lock()
		cmd := in.cmd
		in.mu.Unlock()
		if cmd != nil && cmd.ProcessState != nil && !cmd.ProcessState.Success() && cmd.ProcessState.String() != "signal: killed" {
			out = append(out, fmt.Sprintf("%s: %s: %s", in.name, cmd.ProcessState, tail(in.log)))
		}
	}
	return out
}

// tail returns the last lines of a log file.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	b = bytes.TrimSpace(b)
	if len(b) > 1500 {
		b = b[len(b)-1500:]
	}
	return string(b)
}

// scrape reads the figures of an instance's /metrics that the soak
// samples (Prometheus text format, unlabelled or first label set).
func scrape(ctx context.Context, url string, names ...string) (map[string]float64, error) {
	var out map[string]float64
	err := readMetrics(ctx, url, func(r io.Reader) (err error) {
		out, err = parseMetrics(r, names...)
		return err
	})
	return out, err
}

// readMetrics hands an instance's /metrics body to read, within 3 s.
func readMetrics(ctx context.Context, url string, read func(io.Reader) error) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return read(resp.Body)
}

// refusals returns an instance's counters of refused requests and
// connections, by series ("ssewasm_refused_total{reason=...}" and the
// like), for the report.
func refusals(ctx context.Context, url string) (map[string]float64, error) {
	out := map[string]float64{}
	err := readMetrics(ctx, url, func(r io.Reader) error {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			for _, p := range []string{"ssewasm_refused_total", "ssewasm_connections_rejected_total", "ssewasm_gaps_total", "ssewasm_publishes_stalled_total", "ssewasm_clients_evicted_total", "ssewasm_events_replayed_total", "ssewasm_replays_failed_total"} {
				if strings.HasPrefix(line, p) {
					i := strings.LastIndexByte(line, ' ')
					if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil && v != 0 {
						out[line[:i]] = v
					}
				}
			}
		}
		return sc.Err()
	})
	return out, err
}

// parseMetrics returns the values of the named metrics; a labelled
// metric's values are summed over its label sets.
func parseMetrics(r io.Reader, names ...string) (map[string]float64, error) {
	want := make(map[string]bool, len(names))
	for _, n := range names {
		want[n] = true
	}
	out := make(map[string]float64, len(names))
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest, ok := strings.Cut(line, " ")
		if i := strings.IndexByte(line, '{'); i >= 0 && i < len(name) {
			name = line[:i]
			j := strings.LastIndexByte(line, '}')
			if j < 0 {
				continue
			}
			rest = strings.TrimSpace(line[j+1:])
			ok = true
		}
		if !ok || !want[name] {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		out[name] += v
	}
	return out, sc.Err()
}
