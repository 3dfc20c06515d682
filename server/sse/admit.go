package sse

import (
	"net/http"
	"strings"
	"sync"
)

// Admit counts a stream that the broker does not serve itself (a
// handler of your own built on [NewStream]) under Options.MaxClients
// and MaxClientsPerIP, and in Stats.Clients, so that no way in escapes
// the limits. Over a limit, or after Shutdown, it answers the request
// as ServeHTTP would (503 with Retry-After, counted in Stats.Rejected)
// and returns nil: the handler must then return. Otherwise it returns
// the function that ends the count, to be called once when the stream
// ends (calling it again does nothing).
//
//	release := b.Admit(w, r)
//	if release == nil {
//		return
//	}
//	defer release()
func (b *Broker) Admit(w http.ResponseWriter, r *http.Request) (release func()) {
	ip := strings.Clone(b.opts.ClientIP(r))
	if err := b.admit(ip); err != nil {
		b.reject(w, r, http.StatusServiceUnavailable, err)
		return nil
	}
	var once sync.Once
	return func() { once.Do(func() { b.unadmit(ip) }) }
}

func (b *Broker) admit(ip string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.mayOpen(ip); err != nil {
		return err
	}
	b.admitted++
	b.perIP[ip]++
	b.stats.clients.Add(1)
	return nil
}

func (b *Broker) unadmit(ip string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.admitted--
	if n := b.perIP[ip] - 1; n > 0 {
		b.perIP[ip] = n
	} else {
		delete(b.perIP, ip)
	}
	b.stats.clients.Add(-1)
}

// CountEvicted counts in Stats.Evicted a stream of your own (see Admit)
// that you ended because its client could not keep up, such as one
// whose [Stream.Send] returned an error wrapping ErrStalled.
func (b *Broker) CountEvicted() { b.stats.evicted.Add(1) }
