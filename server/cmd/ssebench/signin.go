package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// clientName is client i's user name with -sign-in and the key of its
// -own-topic: a valid user name of the demo (shared/demo.UserNames).
func clientName(i int) string { return "b" + strconv.Itoa(i) }

// signInConcurrency is how many sign-ins are in flight at once: enough to
// sign 10,000 clients in within seconds, few enough not to flood the
// server's accept queue.
const signInConcurrency = 32

// signInAll signs every client in (POST /login with its name, from its
// source address, as a fetch) and keeps its session cookie for its
// stream. It fails on the first refusal: a server whose -login-rate
// does not allow the run, or one without sign-in.
func (r *runner) signInAll(ctx context.Context, res *result) error {
	r.phase.Store("sign-in")
	t0 := time.Now()
	transports := map[string]*http.Transport{} // one per source address, keeping its connections
	var mu sync.Mutex
	transport := func(c *client) *http.Transport {
		mu.Lock()
		defer mu.Unlock()
		key := c.src.String()
		if t := transports[key]; t != nil {
			return t
		}
		nd := &net.Dialer{Timeout: r.dialer.dialTimeout}
		if c.src.IsValid() {
			nd.LocalAddr = &net.TCPAddr{IP: c.src.AsSlice()}
		}
		t := &http.Transport{DialContext: nd.DialContext, TLSClientConfig: r.dialer.tls, MaxIdleConnsPerHost: signInConcurrency}
		transports[key] = t
		return t
	}
	defer func() {
		for _, t := range transports {
			t.CloseIdleConnections()
		}
	}()
	var failed atomic.Pointer[error]
	sem := make(chan struct{}, signInConcurrency)
	var wg sync.WaitGroup
	for i, c := range r.clients {
		if failed.Load() != nil || ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			cookie, err := signIn(ctx, &http.Client{Transport: transport(c), Timeout: 10 * time.Second}, r.urls.loginURL, clientName(i))
			if err != nil {
				failed.CompareAndSwap(nil, &err)
				return
			}
			c.own.cookie = cookie
		})
	}
	wg.Wait()
	if p := failed.Load(); p != nil {
		return fmt.Errorf("-sign-in: %w", *p)
	}
	res.SignInSeconds = time.Since(t0).Seconds()
	fmt.Fprintf(r.log, "ssebench: %d clients signed in in %.1fs\n", len(r.clients), res.SignInSeconds)
	return ctx.Err()
}

// signIn signs name in at loginURL and returns its session cookie, as
// "name=value".
func signIn(ctx context.Context, hc *http.Client, loginURL, name string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, loginURL, strings.NewReader(url.Values{"name": {name}}.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		return "", fmt.Errorf("POST %s as %s answered %s: %s", loginURL, name, resp.Status, strings.TrimSpace(string(msg)))
	}
	io.Copy(io.Discard, resp.Body) // the connection is reused
	for _, c := range resp.Cookies() {
		return c.Name + "=" + c.Value, nil
	}
	return "", fmt.Errorf("POST %s as %s set no cookie", loginURL, name)
}
