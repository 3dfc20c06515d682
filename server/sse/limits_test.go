package sse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssewasm/ssewasm/shared/topic"
)

// get GETs url with srv's client, which speaks srv's protocol.
func get(t *testing.T, srv *httptest.Server, url string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func TestLimits(t *testing.T) { run(t, testLimits) }

func testLimits(t *testing.T, mode testMode) {
	var mu sync.Mutex
	var rejects []error
	b, srv := newTestBroker(t, mode, Options{
		MaxClients:      3,
		MaxClientsPerIP: 2,
		RetryAfter:      7 * time.Second,
		ClientIP:        func(r *http.Request) string { return r.Header.Get("X-Test-IP") },
		Hooks: Hooks{OnReject: func(_ *http.Request, err error) {
			mu.Lock()
			rejects = append(rejects, err)
			mu.Unlock()
		}},
	})
	ip := func(s string) http.Header { return http.Header{"X-Test-IP": {s}} }
	connect(t, srv, "", ip("1"))
	c2 := connect(t, srv, "", ip("1"))

	check := func(header http.Header, want error) {
		t.Helper()
		resp, body := get(t, srv, srv.URL, header)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "7" {
			t.Errorf("status %d, Retry-After %q; want 503 and 7", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
		if !strings.HasPrefix(body, "sse: ") {
			t.Errorf("body %q does not say why", body)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(rejects) == 0 || !errors.Is(rejects[len(rejects)-1], want) {
			t.Errorf("OnReject got %v, want %v", rejects, want)
		}
	}
	check(ip("1"), ErrTooManyClientsPerIP)
	connect(t, srv, "", ip("2"))
	check(ip("3"), ErrTooManyClients)
	if s := b.Stats(); s.Rejected != 2 || s.Clients != 3 {
		t.Errorf("stats %+v, want 2 rejected, 3 clients", s)
	}

	// A slot frees up when a stream ends.
	c2.Close()
	waitFor(t, "the slot to free", func() bool { return b.Stats().Clients == 2 })
	connect(t, srv, "", ip("1"))

	// After Shutdown: 503 too.
	b.Shutdown(context.Background())
	check(ip("4"), ErrClosed)
}

func TestUnlimited(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: 150 streams from one address in every mode")
	}
	run(t, testUnlimited)
}

func testUnlimited(t *testing.T, mode testMode) {
	b, srv := newTestBroker(t, mode, Options{MaxClients: -1, MaxClientsPerIP: -1})
	for range 150 { // beyond the per-IP default of 100
		connect(t, srv, "", nil)
	}
	if n := b.Stats().Clients; n != 150 {
		t.Errorf("%d clients", n)
	}
}

func TestAuthorize(t *testing.T) { run(t, testAuthorize) }

func testAuthorize(t *testing.T, mode testMode) {
	var rejected []error
	_, srv := newTestBroker(t, mode, Options{
		Authorize: func(r *http.Request, topics []string) error {
			for _, tp := range topics {
				if strings.HasPrefix(tp, "private/") && r.Header.Get("Authorization") != "Bearer "+strings.TrimPrefix(tp, "private/") {
					if r.Header.Get("Authorization") == "" {
						return &StatusError{Code: http.StatusUnauthorized, Err: errors.New("log in to subscribe to " + tp)}
					}
					return fmt.Errorf("no access to %s", tp)
				}
			}
			return nil
		},
		Hooks: Hooks{OnReject: func(_ *http.Request, err error) { rejected = append(rejected, err) }},
	})
	url := srv.URL + "/events?" + topicsQuery("public", "private/alice")
	if resp, body := get(t, srv, url, http.Header{"Authorization": {"Bearer bob"}}); resp.StatusCode != http.StatusForbidden || body != "no access to private/alice\n" {
		t.Errorf("bob: %d %q, want 403", resp.StatusCode, body)
	}
	if resp, body := get(t, srv, url, nil); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "log in") {
		t.Errorf("anonymous: %d %q, want 401", resp.StatusCode, body)
	}
	connect(t, srv, topicsQuery("public", "private/alice"), http.Header{"Authorization": {"Bearer alice"}})
	connect(t, srv, topicsQuery("public"), nil)
	if len(rejected) != 2 {
		t.Errorf("OnReject called %d times, want 2", len(rejected))
	}
}

func TestBadRequests(t *testing.T) { run(t, testBadRequests) }

func testBadRequests(t *testing.T, mode testMode) {
	b, srv := newTestBroker(t, mode, Options{})
	for _, tt := range []struct {
		query string
		want  string
	}{
		{"topic=", "invalid topic"},
		{"topic=a%20b", "invalid topic"},
		{"topic=a,b", "invalid topic"},
		{"topic=" + strings.Repeat("x", topic.MaxLen+1), "invalid topic"},
		{strings.Repeat("topic=a&", maxTopicsPerStream+1), "at most"},
		{"heartbeat=yes", "heartbeat=event"},
		{"topic=a&b=%zz", "malformed"}, // not silently the default topic
	} {
		resp, body := get(t, srv, srv.URL+"/events?"+tt.query, nil)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, tt.want) || !strings.HasPrefix(body, "sse: ") {
			t.Errorf("?%.40s: %d %q, want 400 with %q", tt.query, resp.StatusCode, body, tt.want)
		}
	}
	resp, err := srv.Client().Post(srv.URL, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET" {
		t.Errorf("POST: %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
	if s := b.Stats(); s.Rejected != 8 || s.Clients != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestPublishErrors(t *testing.T) {
	b, err := New(Options{MaxEventSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tt := range []struct {
		name  string
		topic string
		e     Event
		want  error
	}{
		{"too large", "a", Event{Data: "01234567890"}, ErrEventTooLarge},
		{"name counted with the data", "a", Event{Name: "name", Data: "0123456"}, ErrEventTooLarge},
		{"reserved", "a", Event{Name: "sse.gap"}, ErrReservedEvent},
		{"reserved prefix", "a", Event{Name: "sse.mine"}, ErrReservedEvent},
		{"ID set", "a", Event{ID: "1"}, ErrIDAssigned},
		{"bad topic", "a b", Event{}, ErrInvalidTopic},
		{"bad name", "a", Event{Name: "a\nb"}, ErrInvalidEvent},
		{"negative retry", "a", Event{Retry: -1}, ErrInvalidRetry},
		{"NUL in data", "a", Event{Data: "a\x00b"}, ErrInvalidData},
		{"NUL only", "a", Event{Data: "\x00"}, ErrInvalidData},
	} {
		if _, err := b.Publish(ctx, tt.topic, tt.e); !errors.Is(err, tt.want) || !strings.HasPrefix(err.Error(), "sse: ") {
			t.Errorf("%s: Publish = %v, want %v", tt.name, err, tt.want)
		}
	}
	if id, err := b.Publish(ctx, "a", Event{Data: "0123456789"}); err != nil || id == "" {
		t.Errorf("at the size limit: %q, %v", id, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := b.Publish(cctx, "a", Event{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
	if s := b.Stats(); s.Published != 1 {
		t.Errorf("BrokerStats.Published = %d, want 1", s.Published)
	}
	if err := b.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Shutdown(ctx); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
	if _, err := b.Publish(ctx, "a", Event{}); !errors.Is(err, ErrClosed) {
		t.Errorf("after Shutdown: %v, want ErrClosed", err)
	}
}

func TestNewOptions(t *testing.T) {
	for _, tt := range []struct {
		opts Options
		want string
	}{
		{Options{QueueSize: -1}, "QueueSize"},
		{Options{MaxLag: -1}, "MaxLag"},
		{Options{FlushWindow: -1}, "FlushWindow"},
		{Options{FlushWindow: time.Minute}, "FlushWindow"},
		{Options{HistorySize: -1}, "HistorySize"},
		{Options{HistoryAge: -1}, "HistoryAge"},
		{Options{Engine: NewMemoryEngine(MemoryOptions{}), HistorySize: 5}, "default engine only"},
		{Options{MaxEventSize: -1}, "MaxEventSize"},
		{Options{RetryAfter: -1}, "RetryAfter"},
		{Options{RetryJitter: 1.5}, "RetryJitter"},
		{Options{HistoryBytes: -1}, "HistoryBytes"},
		{Options{DefaultTopic: "a b"}, "DefaultTopic"},
	} {
		if _, err := New(tt.opts); err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "sse: ") {
			t.Errorf("New(%+v) = %v, want an error naming %s", tt.opts, err, tt.want)
		}
	}
}

func TestRetryField(t *testing.T) { run(t, testRetryField) }

func testRetryField(t *testing.T, mode testMode) {
	for _, tt := range []struct {
		retry, want time.Duration
	}{
		{2 * time.Second, 2 * time.Second},
		{0, DefaultRetry}, // the default
		{-1, 0},           // none
	} {
		// RetryJitter -1: exact (the jitter has TestRetryJitter).
		b, srv := newTestBroker(t, mode, Options{Retry: tt.retry, RetryJitter: -1})
		c := connect(t, srv, "", nil)
		waitFor(t, "client", func() bool { return b.Stats().Clients == 1 })
		publish(t, b, "", "x")
		if e := c.nextEvent(); e.Retry != tt.want {
			t.Errorf("Options.Retry %v: the stream's retry is %v, want %v", tt.retry, e.Retry, tt.want)
		}
	}
}
