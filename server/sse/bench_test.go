package sse

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countWriter is a flushing ResponseWriter that counts frames and
// discards them.
type countWriter struct {
	nullWriter
	n atomic.Int64
}

func (w *countWriter) Write(p []byte) (int, error) {
	w.n.Add(1)
	return len(p), nil
}

// BenchmarkPublishFanout publishes to 1,000 in-process subscribers whose
// writers discard; allocs/op and B/op are per published event, and the
// delivered/op metric says how many deliveries that is. Per delivered
// event: allocs/op / 1000.
func BenchmarkPublishFanout(b *testing.B) {
	for _, clients := range []int{1, 1000} {
		b.Run(fmt.Sprint(clients, "clients"), func(b *testing.B) {
			br, err := New(Options{MaxClients: -1, MaxClientsPerIP: -1, MaxLag: 1 << 30, Heartbeat: -1})
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			writers := make([]*countWriter, clients)
			for i := range writers {
				w := &countWriter{}
				writers[i] = w
				wg.Go(func() { br.ServeHTTP(w, newRequest(ctx, "topic=bench")) })
			}
			for br.Stats().Clients != clients {
				time.Sleep(time.Millisecond)
			}
			e := Event{Name: "update", Data: `{"price":42.5,"symbol":"ABC"}`}
			// Warm up: grow every queue's buffers.
			for range 100 {
				br.Publish(ctx, "bench", e)
			}
			for br.Stats().Delivered < uint64(100*clients) {
				time.Sleep(time.Millisecond)
			}
			before := br.Stats().Delivered
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := br.Publish(ctx, "bench", e); err != nil {
					b.Fatal(err)
				}
			}
			want := before + uint64(b.N*clients)
			for br.Stats().Delivered < want {
				time.Sleep(100 * time.Microsecond)
			}
			b.StopTimer()
			b.ReportMetric(float64(clients), "delivered/op")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*clients), "ns/delivery")
			if s := br.Stats(); s.Evicted != 0 {
				b.Fatalf("%d evicted", s.Evicted)
			}
			cancel()
			br.Shutdown(context.Background())
			wg.Wait()
		})
	}
}

// BenchmarkEncode measures the one encoding of an event at publish.
func BenchmarkEncode(b *testing.B) {
	m := NewMemoryEngine(MemoryOptions{HistorySize: 1024})
	e := Event{Name: "update", Data: `{"price":42.5,"symbol":"ABC"}`}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Publish(context.Background(), "t", e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPublishIdempotent compares a publish without a key, with a new
// key each time (the history of 10,000 is full, so each publish also
// forgets the oldest key), and a retry answered from the keys.
func BenchmarkPublishIdempotent(b *testing.B) {
	keys := make([]string, 1<<16) // reused only long after they left the history
	for i := range keys {
		keys[i] = fmt.Sprintf("8e03978e-40d5-43e8-bc93-%012d", i)
	}
	e := Event{Name: "update", Data: `{"price":42.5,"symbol":"ABC"}`}
	for _, c := range []struct {
		name string
		key  func(i int) string
	}{
		{"no-key", func(int) string { return "" }},
		{"new-key", func(i int) string { return keys[i%len(keys)] }},
		{"retry", func(int) string { return keys[0] }},
	} {
		b.Run(c.name, func(b *testing.B) {
			br, err := New(Options{Heartbeat: -1})
			if err != nil {
				b.Fatal(err)
			}
			defer br.Shutdown(context.Background())
			ctx := context.Background()
			for i := range DefaultHistorySize { // a full history, with keys
				br.PublishWith(ctx, "bench", e, PublishOptions{IdempotencyKey: keys[(i+1)%len(keys)]})
			}
			br.PublishWith(ctx, "bench", e, PublishOptions{IdempotencyKey: keys[0]})
			b.ReportAllocs()
			i := DefaultHistorySize + 1
			for b.Loop() {
				if _, err := br.PublishWith(ctx, "bench", e, PublishOptions{IdempotencyKey: c.key(i)}); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
