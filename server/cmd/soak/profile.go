package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/ssewasm/ssewasm/server/internal/proc"
)

// Heap profiles (-profile-dir): every -profile-every, each running
// instance's heap profile (after a collection) goes into the directory,
// named heap-<instance>-<seconds into the run>.pb.gz, and a line into
// profiles.tsv says when, how many streams it had open, its restarts
// and its RSS. Two profiles of one instance show what its memory grew
// by (go tool pprof -top -base earlier.pb.gz later.pb.gz), and the
// streams whether it grew with them. The instances must be a profiling
// build (go build -tags pprof -o bin/server-pprof ./server, then
// -server bin/server-pprof), which serves net/http/pprof on the
// address SSEWASM_PPROF gives it: each instance gets one of its own.

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
	fmt.Fprintln(index, "t_s\tinstance\trestarts\tstreams\trss_mb\tfile")
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
			in.mu.Lock()
			restarts := in.restarts
			in.mu.Unlock()
			fmt.Fprintf(index, "%d\t%s\t%d\t%s\t%s\t%s\n", int(t.Seconds()), in.name, restarts, streams, rss, name)
		}
	}
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
