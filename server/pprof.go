//go:build pprof

// Profiling build: `go build -tags pprof ./server`, then run with
// SSEWASM_PPROF=127.0.0.1:6060 to serve net/http/pprof there (heap and
// goroutine profiles of idle streams, for docs/design.md), and
// SSEWASM_MEMPROFILERATE=N to sample one allocation every N bytes in heap
// profiles instead of every 512 KiB (finer, for a heap of a few MB; the
// soak's -profile-dir sets it). Never in the shipped binary: the default
// build has no such listener.
package main

import (
	"fmt"
	"net/http"
	_ "net/http/pprof" //nolint:gosec // profiling build only
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"syscall"

	"github.com/ssewasm/ssewasm/server/sse"
)

func init() {
	// /debug/gc: three collections and the memory back to the OS, to
	// tell live memory (and stacks the GC shrinks) from garbage.
	http.HandleFunc("/debug/gc", func(w http.ResponseWriter, _ *http.Request) {
		for range 3 {
			runtime.GC()
		}
		debug.FreeOSMemory()
	})
	// /debug/stacks: what goroutine stacks cost, and the size new
	// goroutines start with (the runtime's adaptive stack start sets it
	// at each GC to the average stack in use).
	http.HandleFunc("/debug/stacks", func(w http.ResponseWriter, _ *http.Request) {
		samples := []metrics.Sample{{Name: "/gc/stack/starting-size:bytes"}, {Name: "/memory/classes/heap/stacks:bytes"}, {Name: "/sched/goroutines:goroutines"}, {Name: "/gc/cycles/total:gc-cycles"}}
		metrics.Read(samples)
		for _, s := range samples {
			fmt.Fprintf(w, "%s %d\n", s.Name, s.Value.Uint64())
		}
	})
	// SIGUSR1 dumps every stream's state to stderr (sse.Broker.DebugDump).
	onBroker = func(b *sse.Broker) {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGUSR1)
		go func() {
			for range ch {
				b.DebugDump(os.Stderr, "")
			}
		}()
	}
	if n, err := strconv.Atoi(os.Getenv("SSEWASM_MEMPROFILERATE")); err == nil && n > 0 {
		runtime.MemProfileRate = n
	}
	if addr := os.Getenv("SSEWASM_PPROF"); addr != "" {
		go http.ListenAndServe(addr, nil) //nolint:errcheck,gosec // profiling build only
	}
}
