//go:build !(js && wasm)

package ssetest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is the SSE test server the wasm tests connect to. It implements
// just enough of docs/protocol.md to test the client, and none of its code
// comes from server/.
//
// GET /stream?key=K streams, for the connection counted under K:
//
//	retry: 200
//	: hello
//	event: greet / id: 1 / data: hello / data: world
//	id: 2 / data: plain
//
// then, with burst=N, N unnamed events "burst i" in the same write; then,
// with end=1, it ends the response (the browser reconnects); otherwise it
// sends "tick i" every 20 ms until the client goes away. status=N answers
// that status instead, with retryafter=V as its Retry-After header;
// creds=0 leaves out Access-Control-Allow-Credentials, and cors=0 every
// CORS header, so that the browser refuses the answer. hangup=A-B closes
// connections A to B (from 1) of key K without an answer: a network error;
// hold=A-B holds them unanswered until the client goes away.
//
// GET /events?key=K serves a history of events with IDs ep-1, ep-2, ...:
// one per e=NAME:DATA parameter, in order (an empty NAME is an unnamed
// event; a "\n" in DATA makes several data lines), then flood=N events
// named floodname with data {"n":i}, i from 1. It starts after the
// Last-Event-ID header or, without it, the lastEventId query parameter; an
// ID it cannot place gets the sse.gap event (reason "unknown" for another
// epoch or a position past the history, "malformed" for no ID at all) and
// no replay. Then it holds the stream open, silent, or sends heartbeats
// every hb=MS milliseconds (the sse.heartbeat event with heartbeat=event, a
// comment otherwise), or with end=1 ends it. Other parameters: retry=MS
// (default 50); drop=N ends every response after N events; fail=A-B
// answers 500 (or failstatus=N) to connections A to B (from 1) of key K.
// Events go out in
// writes of about 64 KiB, not one flush each, or with batch=N in writes of
// N events, pause=MS apart.
//
// Sessions, as a server with sign-in has them: POST /renew?key=K starts
// the next session of K (1, 2, ...) and sets its cookie (HttpOnly,
// SameSite=Lax, one cookie name per key), or, with status=N, answers N
// and sets nothing; with hold=1 it answers only when the client gives up.
// With expire=N, /events needs a session of K: the session numbered g
// holds events 1 to g·N; after event g·N the stream sends the event
// sse.expired, without an ID, with the stream's topics (its topic
// parameters) as data, and ends; a request without a session, or whose
// session holds no event after its resume ID, gets 401 before any byte,
// as an expired session does. With revokeat=N, after event N the stream
// sends the event sse.revoked, without an ID, with the revoked parameters
// as its topics, and goes on.
//
// Both record each connection's status, Accept header and session in
// [Conn]: the client's status probes are connections too.
//
// GET /stats?key=K returns the [KeyStats] of K as JSON.
type Server struct {
	*httptest.Server
	done  chan struct{} // closed at cleanup: ends every stream
	start time.Time

	mu       sync.Mutex
	stats    map[string]*KeyStats
	sessions map[string]session // by cookie value
}

// session is a session /renew started.
type session struct {
	key string
	n   int // its number among key's sessions, from 1
}

// start starts a Server on 127.0.0.1, closed when t ends.
func start(t *testing.T) *Server {
	s := &Server{done: make(chan struct{}), stats: make(map[string]*KeyStats), sessions: make(map[string]session), start: time.Now()}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stream", s.stream)
	mux.HandleFunc("GET /events", s.events)
	mux.HandleFunc("POST /renew", s.renew)
	mux.HandleFunc("OPTIONS /", s.preflight)
	mux.HandleFunc("GET /stats", s.statsHandler)
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	t.Cleanup(func() { close(s.done) }) // runs before s.Close, which waits for the streams
	return s
}

// allowOrigin answers CORS for the wasmbrowsertest page, which has its own
// origin.
func allowOrigin(w http.ResponseWriter, r *http.Request, credentials bool) {
	h := w.Header()
	h.Add("Vary", "Origin")
	if origin := r.Header.Get("Origin"); origin != "" {
		h.Set("Access-Control-Allow-Origin", origin)
		if credentials {
			h.Set("Access-Control-Allow-Credentials", "true")
		}
		// The client's status probe reads it to delay its reopen.
		h.Set("Access-Control-Expose-Headers", "Retry-After")
	}
}

func (s *Server) preflight(w http.ResponseWriter, r *http.Request) {
	allowOrigin(w, r, r.URL.Query().Get("creds") != "0")
	w.Header().Set("Access-Control-Allow-Methods", "GET, POST")
	w.Header().Set("Access-Control-Allow-Headers", r.Header.Get("Access-Control-Request-Headers"))
	w.WriteHeader(http.StatusNoContent)
}

// cookieName is the name of key's session cookie: one per key, so that
// tests running in parallel in one page keep their own sessions.
func cookieName(key string) string {
	h := fnv.New64a()
	h.Write([]byte(key))
	return "ssetest_" + strconv.FormatUint(h.Sum64(), 36)
}

// keyAndStatus returns the request's key, or answers 400 without one,
// and its status parameter, 200 by default.
func keyAndStatus(w http.ResponseWriter, q url.Values) (key string, code int, ok bool) {
	key = q.Get("key")
	if key == "" {
		http.Error(w, "missing key", http.StatusBadRequest)
		return "", 0, false
	}
	code, _ = strconv.Atoi(q.Get("status"))
	if code == 0 {
		code = http.StatusOK
	}
	return key, code, true
}

// renew starts the next session of a key and sets its cookie.
func (s *Server) renew(w http.ResponseWriter, r *http.Request) {
	allowOrigin(w, r, true)
	q := r.URL.Query()
	key, code, ok := keyAndStatus(w, q)
	if !ok {
		return
	}
	s.mu.Lock()
	st := s.statsOf(key)
	st.Renewals = append(st.Renewals, Renewal{AtMS: s.sinceStart(), Status: code})
	s.mu.Unlock()
	if q.Get("hold") == "1" {
		select {
		case <-r.Context().Done():
		case <-s.done:
		}
		return
	}
	if code != http.StatusOK {
		http.Error(w, "renewal refused on purpose", code)
		return
	}
	token := make([]byte, 16)
	rand.Read(token)
	value := hex.EncodeToString(token)
	s.mu.Lock()
	st.Sessions++
	n := st.Sessions
	s.sessions[value] = session{key: key, n: n}
	s.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: cookieName(key), Value: value, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"session":%d}`+"\n", n)
}

// sessionOf returns the number of the session r carries for key, 0 if none.
func (s *Server) sessionOf(r *http.Request, key string) int {
	c, err := r.Cookie(cookieName(key))
	if err != nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ses, ok := s.sessions[c.Value]; ok && ses.key == key {
		return ses.n
	}
	return 0
}

// sinceStart is the time since the server started, in ms.
func (s *Server) sinceStart() float64 {
	return float64(time.Since(s.start).Microseconds()) / 1000
}

// connect counts a connection under key and returns its number (from 1)
// and a function that records its end.
func (s *Server) connect(key string, c Conn) (n int, record func(func(*Conn))) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.statsOf(key)
	st.Connects++
	st.LastEventIDs = append(st.LastEventIDs, c.Header)
	c.AtMS = s.sinceStart()
	st.Conns = append(st.Conns, c)
	i := len(st.Conns) - 1
	return st.Connects, func(update func(*Conn)) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if update != nil {
			update(&st.Conns[i])
		}
	}
}

func (s *Server) disconnect(key string) {
	s.mu.Lock()
	s.statsOf(key).Disconnects++
	s.mu.Unlock()
}

func (s *Server) stream(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("cors") != "0" {
		allowOrigin(w, r, q.Get("creds") != "0")
	}
	key, code, ok := keyAndStatus(w, q)
	if !ok {
		return
	}
	n, record := s.connect(key, Conn{Header: r.Header.Get("Last-Event-ID"), Query: q.Get("lastEventId"), Accept: r.Header.Get("Accept"), Status: code})
	defer s.disconnect(key)

	if inRange(q.Get("hold"), n) {
		record(func(c *Conn) { c.Status = 0 })
		select {
		case <-r.Context().Done():
		case <-s.done:
		}
		return
	}
	if inRange(q.Get("hangup"), n) {
		record(func(c *Conn) { c.Status = 0 })
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close()
		}
		return
	}

	if code != http.StatusOK {
		if v := q.Get("retryafter"); v != "" {
			w.Header().Set("Retry-After", v)
		}
		w.WriteHeader(code)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	rc := http.NewResponseController(w)

	var b strings.Builder
	b.WriteString("retry: 200\n\n: hello\n\n")
	b.WriteString("event: greet\nid: 1\ndata: hello\ndata: world\n\n")
	b.WriteString("id: 2\ndata: plain\n\n")
	burst, _ := strconv.Atoi(q.Get("burst"))
	for i := range burst {
		fmt.Fprintf(&b, "data: burst %d\n\n", i)
	}
	if _, err := fmt.Fprint(w, b.String()); err != nil {
		return
	}
	if err := rc.Flush(); err != nil {
		return
	}
	if q.Get("end") == "1" {
		return
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		case <-tick.C:
		}
		if _, err := fmt.Fprintf(w, "data: tick %d\n\n", i); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

// inRange reports whether n is in the range "A-B" (from 1); false for a
// malformed or empty range.
func inRange(r string, n int) bool {
	a, b, ok := strings.Cut(r, "-")
	lo, err1 := strconv.Atoi(a)
	hi, err2 := strconv.Atoi(b)
	return ok && err1 == nil && err2 == nil && lo <= n && n <= hi
}

// histEvent is one event of an /events history.
type histEvent struct{ name, data string }

const epoch = "ep"

func history(q map[string][]string) []histEvent {
	var h []histEvent
	for _, e := range q["e"] {
		name, data, _ := strings.Cut(e, ":")
		h = append(h, histEvent{name, data})
	}
	n, _ := strconv.Atoi(first(q["flood"]))
	name := first(q["floodname"])
	for i := 1; i <= n; i++ {
		h = append(h, histEvent{name, `{"n":` + strconv.Itoa(i) + `}`})
	}
	return h
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// position returns how many events of a history of n the client has seen
// when it sends id, or the reason of a gap.
func position(id string, n int) (seen int, gap string) {
	ep, seq, ok := strings.Cut(id, "-")
	k, err := strconv.Atoi(seq)
	switch {
	case !ok || ep == "" || err != nil || k < 0:
		return 0, "malformed"
	case ep != epoch || k > n:
		return 0, "unknown"
	}
	return k, ""
}

func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	allowOrigin(w, r, true)
	key := q.Get("key")
	if key == "" {
		http.Error(w, "missing key", http.StatusBadRequest)
		return
	}
	c := Conn{Header: r.Header.Get("Last-Event-ID"), Query: q.Get("lastEventId"), Heartbeat: q.Get("heartbeat"),
		Accept: r.Header.Get("Accept"), Status: http.StatusOK, Session: s.sessionOf(r, key)}
	n, record := s.connect(key, c)
	defer s.disconnect(key)

	if inRange(q.Get("fail"), n) {
		code, _ := strconv.Atoi(q.Get("failstatus"))
		if code == 0 {
			code = http.StatusInternalServerError
		}
		record(func(c *Conn) { c.Status = code })
		http.Error(w, "failing on purpose", code)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	rc := http.NewResponseController(w)
	hist := history(q)
	resume := c.Header // the header wins over the query parameter
	if resume == "" {
		resume = c.Query
	}
	// With sessions, the events the stream may send end at expiresAt.
	expiresAt := len(hist) + 1
	if every, _ := strconv.Atoi(q.Get("expire")); every > 0 {
		expiresAt = c.Session * every
		seen, reason := position(resume, len(hist))
		if c.Session == 0 || reason == "" && seen >= expiresAt {
			record(func(c *Conn) { c.Status = http.StatusUnauthorized })
			http.Error(w, "session expired or missing: renew it", http.StatusUnauthorized)
			return
		}
	}
	revokeAt, _ := strconv.Atoi(q.Get("revokeat"))
	retry := 50
	if v, err := strconv.Atoi(q.Get("retry")); err == nil {
		retry = v
	}
	drop, _ := strconv.Atoi(q.Get("drop"))
	batch, _ := strconv.Atoi(q.Get("batch"))
	pauseMS, _ := strconv.Atoi(q.Get("pause"))

	var b bytes.Buffer
	fmt.Fprintf(&b, "retry: %d\n\n", retry)
	from := 0
	if resume != "" {
		seen, reason := position(resume, len(hist))
		if reason == "" {
			from = seen
		} else {
			data, _ := json.Marshal(map[string]string{"lastEventId": resume, "reason": reason})
			b.WriteString("event: sse.gap\n")
			if len(hist) > 0 {
				fmt.Fprintf(&b, "id: %s-%d\n", epoch, len(hist))
			}
			fmt.Fprintf(&b, "data: %s\n\n", data)
			from = len(hist) // live events follow; there are none
		}
	}
	sent := 0
	defer func() { record(func(c *Conn) { c.Sent = sent }) }()
	flush := func() bool {
		_, err := w.Write(b.Bytes())
		b.Reset()
		return err == nil && rc.Flush() == nil
	}
	for i := from; i < len(hist); i++ {
		e := hist[i]
		if e.name != "" {
			fmt.Fprintf(&b, "event: %s\n", e.name)
		}
		fmt.Fprintf(&b, "id: %s-%d\n", epoch, i+1)
		for line := range strings.SplitSeq(e.data, "\n") {
			fmt.Fprintf(&b, "data: %s\n", line)
		}
		b.WriteByte('\n')
		sent++
		if i+1 == revokeAt {
			writeTopics(&b, "sse.revoked", q["revoked"])
		}
		if i+1 == expiresAt {
			writeTopics(&b, "sse.expired", q["topic"])
			flush()
			return // the server ends an expired stream
		}
		if drop > 0 && sent == drop {
			flush()
			return // the browser reconnects
		}
		if batch > 0 && sent%batch == 0 {
			if !flush() {
				return
			}
			select {
			case <-time.After(time.Duration(pauseMS) * time.Millisecond):
			case <-r.Context().Done():
				return
			}
			continue
		}
		if b.Len() >= 64<<10 && !flush() {
			return
		}
	}
	if !flush() || q.Get("end") == "1" {
		return
	}

	var beat <-chan time.Time
	if ms, _ := strconv.Atoi(q.Get("hb")); ms > 0 {
		t := time.NewTicker(time.Duration(ms) * time.Millisecond)
		defer t.Stop()
		beat = t.C
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		case now := <-beat:
			if c.Heartbeat == "event" {
				fmt.Fprintf(&b, "event: sse.heartbeat\ndata: %s\n\n", now.UTC().Format(time.RFC3339))
			} else {
				b.WriteString(": heartbeat\n\n")
			}
			if !flush() {
				return
			}
		}
	}
}

// writeTopics writes the event name, without an ID, whose data is
// {"topics":[...]}, as sse.revoked and sse.expired have it.
func writeTopics(b *bytes.Buffer, name string, topics []string) {
	if topics == nil {
		topics = []string{}
	}
	data, _ := json.Marshal(map[string][]string{"topics": topics})
	fmt.Fprintf(b, "event: %s\ndata: %s\n\n", name, data)
}

func (s *Server) statsHandler(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Content-Type", "application/json")
	s.mu.Lock()
	b, err := json.Marshal(s.statsOf(r.URL.Query().Get("key")))
	s.mu.Unlock()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Write(b)
}

// statsOf returns the stats of key, creating them; s.mu must be held.
func (s *Server) statsOf(key string) *KeyStats {
	st, ok := s.stats[key]
	if !ok {
		st = &KeyStats{LastEventIDs: []string{}, Conns: []Conn{}, Renewals: []Renewal{}}
		s.stats[key] = st
	}
	return st
}
