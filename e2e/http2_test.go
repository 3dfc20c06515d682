package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// tabStreams is how many EventSources the page opens at once: more than
// the six HTTP/1.1 connections Chromium allows per origin.
const tabStreams = 10

// TestManyStreamsOneTab: one Chromium tab opens ten EventSources to ten
// topics. Over TLS the server speaks HTTP/2, the ten streams share one
// connection, and each gets the event published to its topic. Over plain
// HTTP/1.1, the contrast: six open, the others stay pending and get
// nothing.
func TestManyStreamsOneTab(t *testing.T) {
	dir := buildApp(t)
	cert, key := writeSelfSigned(t, t.TempDir())
	tests := []struct {
		name     string
		args     []string
		protocol string // of the page's own load
		open     int    // streams that open
	}{
		{"HTTP/2 over TLS", []string{"-tls-cert", cert, "-tls-key", key}, "h2", tabStreams},
		{"HTTP/1.1", nil, "http/1.1", 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startInstance(t, dir, tt.args...)
			ctx := newBrowser(t, chromedp.Flag("ignore-certificate-errors", true))
			if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"healthz")); err != nil {
				t.Fatal(err)
			}
			proto, err := within(t, ctx, 10*time.Second, chromedp.Evaluate[string](`performance.getEntriesByType("navigation")[0].nextHopProtocol`))
			if err != nil || proto != tt.protocol {
				t.Fatalf("the page loaded over %q (%v), want %s", proto, err, tt.protocol)
			}
			open := fmt.Sprintf(`window.got = {}; window.streams = [];
				for (let i = 0; i < %d; i++) {
					const topic = "tab" + i;
					const es = new EventSource("/events?topic=" + topic);
					es.addEventListener("e", ev => { window.got[topic] = ev.data; });
					window.streams.push(es);
				}
				true`, tabStreams)
			if _, err := within(t, ctx, 10*time.Second, chromedp.Evaluate[bool](open)); err != nil {
				t.Fatal(err)
			}
			openCount := `window.streams.filter(es => es.readyState === EventSource.OPEN).length`
			start := time.Now()
			if _, err := within(t, ctx, 15*time.Second, chromedp.Poll[bool](fmt.Sprintf("%s === %d", openCount, tt.open))); err != nil {
				n, _ := within(t, ctx, 5*time.Second, chromedp.Evaluate[int](openCount))
				t.Fatalf("%d of %d EventSources open, want %d: %v", n, tabStreams, tt.open, err)
			}
			t.Logf("%s: %d of %d EventSources open after %v", tt.name, tt.open, tabStreams, time.Since(start).Round(time.Millisecond))

			for i := range tabStreams {
				publishTLS(t, srv, fmt.Sprint("tab", i), fmt.Sprint("hello ", i))
			}
			want := make([]string, tabStreams)
			for i := range want {
				want[i] = fmt.Sprint("hello ", i)
			}
			gotExpr := fmt.Sprintf(`Array.from({length: %d}, (_, i) => window.got["tab" + i] ?? "")`, tabStreams)
			if tt.open == tabStreams {
				if _, err := within(t, ctx, 10*time.Second, chromedp.Poll[bool](fmt.Sprintf(`Object.keys(window.got).length === %d`, tabStreams))); err != nil {
					got, _ := within(t, ctx, 5*time.Second, chromedp.Evaluate[[]string](gotExpr))
					t.Fatalf("events received %q, want one on each of the %d streams: %v", got, tabStreams, err)
				}
			} else {
				time.Sleep(time.Second) // the pending ones would have had time
			}
			got, err := within(t, ctx, 5*time.Second, chromedp.Evaluate[[]string](gotExpr))
			if err != nil {
				t.Fatal(err)
			}
			received := 0
			for i, g := range got {
				if g != "" {
					received++
					if g != want[i] {
						t.Errorf("stream %d got %q, want %q", i, g, want[i])
					}
				}
			}
			pending, _ := within(t, ctx, 5*time.Second, chromedp.Evaluate[int](`window.streams.filter(es => es.readyState === EventSource.CONNECTING).length`))
			t.Logf("%s: %d streams received their event, %d still pending", tt.name, received, pending)
			if received != tt.open || pending != tabStreams-tt.open {
				t.Errorf("%d streams received their event and %d are pending, want %d and %d", received, pending, tt.open, tabStreams-tt.open)
			}
		})
	}
}

// publishTLS publishes data on topic, over HTTPS when srv serves it.
func publishTLS(t *testing.T, srv *server, topic, data string) {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Post(srv.URL+"publish?topic="+topic+"&event=e", "text/plain", strings.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("publish on %s: %s", topic, resp.Status)
	}
}

// writeSelfSigned writes a certificate and key for 127.0.0.1 into dir,
// valid for an hour.
func writeSelfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for file, block := range map[string]*pem.Block{certFile: {Type: "CERTIFICATE", Bytes: der}, keyFile: {Type: "EC PRIVATE KEY", Bytes: kb}} {
		if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return certFile, keyFile
}
