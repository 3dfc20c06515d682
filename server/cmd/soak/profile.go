package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ssewasm/ssewasm/server/internal/proc"
)

// Heap profiles (-profile-dir): every -profile-every, each running
// instance's heap profile (after a collection) goes into the directory,
// named heap-<instance>-<seconds into the run>.pb.gz, and a line into
// profiles.tsv says when, how many streams it had open, its restarts,
// its RSS, and where the Go runtime's memory is (runtime.MemStats, MB:
// heap in use, heap free and not returned to the OS, goroutine stacks,
// all the runtime took from the OS). Two profiles of one instance show
// what its memory grew by (go tool pprof -top -base earlier.pb.gz
// later.pb.gz), and the streams whether it grew with them. The
// instances must be a profiling build (go build -tags pprof -o
// bin/server-pprof ./server, then -server bin/server-pprof), which
// serves net/http/pprof on the address SSEWASM_PPROF gives it (each
// instance one of its own), sampling an allocation every
// profileSampleBytes (SSEWASM_MEMPROFILERATE): the default 512 KiB
// sees little of a heap of a few MB.

// profileSampleBytes is the instances' heap profile sampling rate.
const profileSampleBytes = 8 << 10

// runProfiles takes the profiles until ctx ends.
func (s *soak) runProfiles(ctx context.Context) {
	dir := s.cfg.profileDir
	if err := os.MkdirAll(dir, 0o755); err != nil {
		s.fatal(fmt.Errorf("-profile-dir: %w", err))
		return
	}
	index, err := os.Create(filepath.Join(dir, "profiles.tsv"))
	if err != nil {
		s.fatal(fmt.Errorf("-profile-dir: %w", err))
		return
	}
	defer index.Close()
	fmt.Fprintln(index, "t_s\tinstance\trestarts\tstreams\trss_mb\theap_inuse_mb\theap_free_mb\tstacks_mb\tgo_sys_mb\tfile")
	warned := map[string]bool{}
	tick := time.NewTicker(s.cfg.profileEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		t := time.Since(s.start).Round(time.Second)
		for _, in := range s.cluster.instances {
			pid := in.pid()
			if pid == 0 {
				continue
			}
			name := fmt.Sprintf("heap-%s-%04d.pb.gz", in.name, int(t.Seconds()))
			if err := saveHeap(ctx, in.pprof, filepath.Join(dir, name)); err != nil {
				if !warned[in.name] {
					warned[in.name] = true
					s.logf("instance %s: no heap profile (%v): is -server a profiling build (go build -tags pprof)?", in.name, err)
				}
				continue
			}
			streams := "NaN"
			if m, err := scrape(ctx, in.url, "ssewasm_clients"); err == nil {
				streams = fmt.Sprint(m["ssewasm_clients"])
			}
			rss := "NaN"
			if r, err := proc.RSS(pid); err == nil {
				rss = fmt.Sprintf("%.1f", float64(r)/1e6)
			}
			ms := []string{"NaN", "NaN", "NaN", "NaN"}
			if m, err := memStats(ctx, in.pprof); err == nil {
				mb := func(n float64) string { return fmt.Sprintf("%.1f", n/1e6) }
				ms = []string{mb(m["HeapInuse"]), mb(m["HeapIdle"] - m["HeapReleased"]), mb(m["Stack"]), mb(m["Sys"])}
			}
			in.mu.Lock()
			restarts := in.restarts
			in.mu.Unlock()
			fmt.Fprintf(index, "%d\t%s\t%d\t%s\t%s\t%s\t%s\n", int(t.Seconds()), in.name, restarts, streams, rss, strings.Join(ms, "\t"), name)
		}
	}
}

// memStats reads the runtime.MemStats that the text heap profile at addr
// ends with ("# HeapInuse = 123", "# Stack = 456 / 789": the first is in
// use), by name.
func memStats(ctx context.Context, addr string) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/debug/pprof/heap?debug=1", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "# "), " = ")
		if !ok || name == sc.Text() {
			continue
		}
		value, _, _ = strings.Cut(value, " ")
		if v, err := strconv.ParseFloat(value, 64); err == nil {
			out[name] = v
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if _, ok := out["HeapInuse"]; !ok {
		return nil, fmt.Errorf("%s: no runtime.MemStats in the heap profile", req.URL)
	}
	return out, nil
}

// saveHeap writes the heap profile served at addr, taken after a
// collection, to path.
func saveHeap(ctx context.Context, addr, path string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/debug/pprof/heap?gc=1", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", req.URL, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
