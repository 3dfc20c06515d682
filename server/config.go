package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/ssewasm/ssewasm/server/clientip"
	"github.com/ssewasm/ssewasm/server/session"
	"github.com/ssewasm/ssewasm/server/sse"
)

// config is what the flags set. Every limit has a sane default.
type config struct {
	addr          string
	web           string
	shutdownGrace time.Duration
	logLevel      slog.Level
	// releaseAfterBurst: -release-after-burst (package memrelease).
	releaseAfterBurst bool

	// The broker (see server/sse.Options for what each means).
	historySize     int
	historyAge      time.Duration
	historyBytes    int
	maxLag          int
	publishWait     time.Duration
	flushWindow     time.Duration
	queueSize       int // deprecated
	writeTimeout    time.Duration
	heartbeat       time.Duration
	retry           time.Duration
	retryJitter     float64
	maxClients      int
	maxClientsPerIP int
	maxEventSize    int

	publishToken string
	allowOrigins []string
	tlsCert      string
	tlsKey       string
	tlsHTTP2     bool   // -tls-http2: offer HTTP/2 over TLS
	http2Server  string // -http2-server: "h2" (package server/h2) or "net/http"

	trustedProxies clientip.Proxies // -trusted-proxy
	drain          time.Duration    // -drain

	// Caps on every way in (guard.go).
	maxConns           int           // -max-conns
	maxHeaderBytes     int           // -max-header-bytes
	maxPublishing      int           // -max-publishing
	publishReadTimeout time.Duration // -publish-read-timeout

	// Publish rate limits (package ratelimit).
	publishRate, publishRateGlobal   float64 // -publish-rate, -publish-rate-global; <0: the default
	publishBurst, publishBurstGlobal int     // -publish-burst, -publish-burst-global
	publishRateAddrs                 int     // -publish-rate-addrs

	engine engineConfig

	// Sign-in (auth.go, package session).
	sessionKey      string        // -session-key, or $SSEWASM_SESSION_KEY
	sessionKeyFile  string        // -session-key-file
	sessionLifetime time.Duration // -session-lifetime
	sessionMaxAge   time.Duration // -session-max-age; 0: 7 × lifetime
	sessionSecure   bool          // -session-secure
	loginRate       float64       // -login-rate, per client address
	loginBurst      int           // -login-burst
	actionRate      float64       // -action-rate, per identity
	actionBurst     int           // -action-burst

	devBuild string // -dev-build: development mode (make dev)

	// streamInterval is /stream's ping interval, 1 s; tests shorten it.
	streamInterval time.Duration
}

// The publish rate limits without -publish-token (anyone may publish):
// generous for people and scripts, far below what fan-out to many
// clients can carry. With a token there are none by default.
const (
	defaultPublishRate       = 50.0   // a second, per client address
	defaultPublishRateGlobal = 1000.0 // a second, for the server
)

// tokenEnv is read when -publish-token is not given, so the token need
// not appear in the process list.
const tokenEnv = "SSEWASM_PUBLISH_TOKEN"

// sessionKeyEnv is read when neither -session-key nor -session-key-file
// is given, likewise.
const sessionKeyEnv = "SSEWASM_SESSION_KEY"

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8844", "address to listen on (host:port; port 0 picks a free port)")
	fs.StringVar(&c.web, "web", "web", "directory holding app.wasm, the icons and the CSS (served at /web/)")
	fs.DurationVar(&c.shutdownGrace, "shutdown-grace", 5*time.Second, "how long a graceful shutdown may take before connections are cut")
	fs.TextVar(&c.logLevel, "log-level", slog.LevelInfo, "log level: DEBUG, INFO, WARN or ERROR")

	fs.IntVar(&c.historySize, "history-size", sse.DefaultHistorySize, "events kept for Last-Event-ID replay (all topics together)")
	fs.IntVar(&c.historyBytes, "history-bytes", sse.DefaultHistoryBytes, "bytes of encoded events kept for replay, at most (JetStream: the stream's MaxBytes); the oldest go first")
	fs.DurationVar(&c.historyAge, "history-age", sse.DefaultHistoryAge, "how long an event stays replayable")
	fs.IntVar(&c.maxLag, "max-lag", sse.DefaultMaxLag, "bytes of events a client may fall behind; over it, publishers wait up to -publish-stall for it, then it is disconnected (it replays on reconnect)")
	fs.DurationVar(&c.publishWait, "publish-stall", sse.DefaultPublishWait, "longest a publish waits for clients over -max-lag before they are disconnected (negative: no wait)")
	fs.DurationVar(&c.flushWindow, "flush-window", 2*time.Millisecond, "after an idle spell, wait this long before writing so one write carries several events (0: write at once)")
	fs.IntVar(&c.queueSize, "queue-size", 0, "deprecated, use -max-lag: also disconnect a client with this many events queued (0: no count bound)")
	fs.DurationVar(&c.writeTimeout, "write-timeout", sse.DefaultWriteTimeout, "deadline for each write to a client; on Linux a stream whose client has taken no byte for this long while bytes waited is ended too")
	fs.DurationVar(&c.heartbeat, "heartbeat", sse.DefaultHeartbeat, "silence after which a stream gets a heartbeat")
	fs.DurationVar(&c.retry, "retry", sse.DefaultRetry, "reconnection delay sent to browsers on /events, each stream its own within -retry-jitter so that clients dropped together come back spread (0: browser default)")
	fs.Float64Var(&c.retryJitter, "retry-jitter", sse.DefaultRetryJitter, "spread of -retry per stream, a fraction from 0 (every stream gets -retry exactly) to 1")
	fs.IntVar(&c.maxClients, "max-clients", sse.DefaultMaxClients, "open streams in total (-1: unlimited); over it: 503 with Retry-After")
	fs.IntVar(&c.maxClientsPerIP, "max-clients-per-ip", sse.DefaultMaxClientsPerIP, "open streams per client IP (-1: unlimited)")
	fs.IntVar(&c.maxEventSize, "max-event-size", sse.DefaultMaxEventSize, "largest event accepted by /publish, name and data together, in bytes (over it: 413)")

	fs.StringVar(&c.publishToken, "publish-token", "", "bearer token required by POST /publish (default: $"+tokenEnv+"; empty: no token)")
	fs.Func("allow-origin", "an origin allowed to use the API from a browser, with credentials (repeatable; \"*\": any origin, without credentials)", func(s string) error {
		if s != "*" && (!strings.HasPrefix(s, "http://") && !strings.HasPrefix(s, "https://") || strings.HasSuffix(s, "/")) {
			return fmt.Errorf("want an origin like https://example.com (scheme, host, optional port, no path), or *")
		}
		c.allowOrigins = append(c.allowOrigins, s)
		return nil
	})
	fs.StringVar(&c.tlsCert, "tls-cert", "", "TLS certificate file (with -tls-key: serve HTTPS, and HTTP/2 to browsers)")
	fs.StringVar(&c.tlsKey, "tls-key", "", "TLS private key file")
	fs.BoolVar(&c.releaseAfterBurst, "release-after-burst", true, "after a burst of new streams (at least 1,000, and an eighth of those open), once a second passes without more, give the memory their opening left behind back to the OS (one garbage collection, at most every 5 s; docs/design.md, \"What an idle stream costs\")")
	fs.BoolVar(&c.tlsHTTP2, "tls-http2", true, "with -tls-cert: offer HTTP/2; false serves HTTP/1.1 over TLS only (docs/scale-out.md)")
	c.http2Server = "h2"
	fs.Func("http2-server", "with -tls-http2, which HTTP/2 server: h2 (ours, server/h2: an idle event stream costs no goroutine) or net/http (Go's: about 45 KB per connection with one idle stream, 15 KB per further stream) (default h2)", func(s string) error {
		if s != "h2" && s != "net/http" {
			return fmt.Errorf("want h2 or net/http")
		}
		c.http2Server = s
		return nil
	})
	fs.Func("trusted-proxy", "a reverse proxy (CIDR or IP; repeatable) whose X-Forwarded-For or Forwarded header names the client, for -max-clients-per-ip and the logs; other peers' headers are ignored", func(s string) error {
		p, err := clientip.ParseProxy(s)
		if err != nil {
			return err
		}
		c.trustedProxies = append(c.trustedProxies, p)
		return nil
	})
	fs.DurationVar(&c.drain, "drain", 0, "on SIGTERM, how long /healthz answers 503 and new streams are refused with 503 (so that a load balancer sends clients elsewhere) while the open streams are closed one by one, spread over it; 0: close them at once")

	fs.IntVar(&c.maxConns, "max-conns", 0, "open connections at most; over it a new connection is closed at once (0: the open-file limit less a headroom of a tenth, at least 64; -1: no cap)")
	fs.IntVar(&c.maxHeaderBytes, "max-header-bytes", 16<<10, "largest request line and headers, in bytes (over it: 431)")
	fs.IntVar(&c.maxPublishing, "max-publishing", 64, "publishes in progress at most, each holding up to -max-event-size of body (over it: 503 with Retry-After)")
	fs.DurationVar(&c.publishReadTimeout, "publish-read-timeout", 10*time.Second, "deadline for reading a /publish request's body (over it: 408 and the connection closes)")

	fs.Float64Var(&c.publishRate, "publish-rate", -1, fmt.Sprintf("publishes a second per client address (after -trusted-proxy; IPv6 by /64), in bursts of -publish-burst; over it: 429 with Retry-After (0: no limit; -1: %g without -publish-token, when anyone may publish, and none with a token, whose holders are your own publishers)", defaultPublishRate))
	fs.IntVar(&c.publishBurst, "publish-burst", 500, "publishes one client address may send at once before -publish-rate applies")
	fs.Float64Var(&c.publishRateGlobal, "publish-rate-global", -1, fmt.Sprintf("publishes a second for the whole server, in bursts of -publish-burst-global; over it: 429 with Retry-After (0: no limit; -1: %g without -publish-token, which bounds a flood from many addresses, and none with a token)", defaultPublishRateGlobal))
	fs.IntVar(&c.publishBurstGlobal, "publish-burst-global", 2000, "publishes the whole server takes at once before -publish-rate-global applies")
	fs.IntVar(&c.publishRateAddrs, "publish-rate-addrs", 10000, "client addresses -publish-rate tracks at most (about 100 bytes each); idle ones are dropped, and addresses beyond it share one bucket")

	fs.StringVar(&c.sessionKey, "session-key", "", "key that signs session cookies and tickets: at least 32 random bytes in hex or base64 (openssl rand -hex 32); instances behind one load balancer share it (default: $"+sessionKeyEnv+"; neither this nor -session-key-file: a random key, and sessions end when the process does)")
	fs.StringVar(&c.sessionKeyFile, "session-key-file", "", "file of session keys, one a line in hex or base64, # comments: the first signs, all verify (to rotate, add the new key first on every instance)")
	fs.DurationVar(&c.sessionLifetime, "session-lifetime", session.DefaultLifetime, "how long a session cookie's grants last before the page renews it (POST /session/renew); a stream gets sse.expired then")
	fs.DurationVar(&c.sessionMaxAge, "session-max-age", 0, "how long after sign-in a session may still be renewed; then the user signs in again (0: 7 × -session-lifetime)")
	fs.BoolVar(&c.sessionSecure, "session-secure", false, "mark session cookies Secure on plain HTTP too, behind a proxy that terminates TLS (over TLS they always are)")
	fs.Float64Var(&c.loginRate, "login-rate", 1, "sign-ins (POST /login) a second per client address (after -trusted-proxy; IPv6 by /64), in bursts of -login-burst; over it: 429 with Retry-After (0: no limit)")
	fs.IntVar(&c.loginBurst, "login-burst", 10, "sign-ins one client address may make at once before -login-rate applies")
	fs.Float64Var(&c.actionRate, "action-rate", 5, "actions (POST /action/...) a second per signed-in user, or per client address when anonymous, in bursts of -action-burst; over it: 429 with Retry-After (0: no limit)")
	fs.IntVar(&c.actionBurst, "action-burst", 20, "actions one user or address may send at once before -action-rate applies")

	addEngineFlags(fs, &c.engine)
	addDevFlags(fs, &c.devBuild)

	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q: every option is a flag (see -h)", fs.Args())
	}
	if c.publishToken == "" {
		c.publishToken = os.Getenv(tokenEnv)
	}
	if (c.tlsCert == "") != (c.tlsKey == "") {
		return c, errors.New("-tls-cert and -tls-key go together: give both or neither")
	}
	if c.drain < 0 {
		return c, errors.New("-drain must be 0 or a positive duration such as 2s")
	}
	if c.maxEventSize <= 0 {
		return c, errors.New("-max-event-size must be positive")
	}
	if c.retry < 0 {
		return c, errors.New("-retry must be 0 (browser default) or a positive duration such as 3s")
	}
	if c.maxClients < -1 || c.maxClientsPerIP < -1 {
		return c, errors.New("-max-clients and -max-clients-per-ip are a count, or -1 for no limit")
	}
	if c.retryJitter < 0 || c.retryJitter > 1 {
		return c, errors.New("-retry-jitter is a fraction from 0 to 1, such as 0.5 for ±50 %")
	}
	if c.historyBytes <= 0 {
		return c, errors.New("-history-bytes must be positive: the bytes of events kept for replay")
	}
	if c.maxLag <= 0 {
		return c, errors.New("-max-lag must be positive: the bytes a client may fall behind")
	}
	if c.engine.replayBytes <= 0 {
		return c, errors.New("-replay-bytes must be positive: the bytes of replayed events all replays may hold at once")
	}
	if c.maxConns < -1 || c.maxPublishing <= 0 || c.maxHeaderBytes < 1024 || c.publishReadTimeout < 0 {
		return c, errors.New("-max-conns is -1, 0 or a count; -max-publishing a positive count; -max-header-bytes 1024 or more; -publish-read-timeout 0 (none) or a duration")
	}
	if c.publishRate < 0 {
		c.publishRate = 0
		if c.publishToken == "" {
			c.publishRate = defaultPublishRate
		}
	}
	if c.publishRateGlobal < 0 {
		c.publishRateGlobal = 0
		if c.publishToken == "" {
			c.publishRateGlobal = defaultPublishRateGlobal
		}
	}
	if c.publishBurst < 1 || c.publishBurstGlobal < 1 || c.publishRateAddrs < 1 {
		return c, errors.New("-publish-burst, -publish-burst-global and -publish-rate-addrs must be 1 or more (turn a limit off with -publish-rate 0 or -publish-rate-global 0)")
	}
	if c.sessionKey == "" && c.sessionKeyFile == "" {
		c.sessionKey = os.Getenv(sessionKeyEnv)
	}
	if c.sessionKey != "" && c.sessionKeyFile != "" {
		return c, errors.New("-session-key and -session-key-file exclude each other: give one key, or a file of keys")
	}
	if c.sessionLifetime < time.Second || c.sessionMaxAge != 0 && c.sessionMaxAge < c.sessionLifetime {
		return c, errors.New("-session-lifetime is at least 1s, and -session-max-age 0 or at least -session-lifetime")
	}
	if c.loginRate < 0 || c.actionRate < 0 || c.loginBurst < 1 || c.actionBurst < 1 {
		return c, errors.New("-login-rate and -action-rate are 0 (no limit) or a rate a second; -login-burst and -action-burst 1 or more")
	}
	if c.queueSize < 0 {
		return c, errors.New("-queue-size must not be negative (it is deprecated: use -max-lag)")
	}
	return c, nil
}
