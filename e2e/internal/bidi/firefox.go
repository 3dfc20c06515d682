package bidi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// FirefoxPath is where Debian's firefox-esr package installs Firefox.
const FirefoxPath = "/usr/bin/firefox-esr"

// nowhere is a closed port on loopback: the URLs of the services a fresh
// profile would call point there, so nothing leaves the machine.
const nowhere = "http://127.0.0.1:9/"

// QuietPrefs turn off every connection Firefox makes on its own:
// telemetry and health reports, updates of the app, add-ons, search and
// media plugins, Safe Browsing, the captive portal and connectivity
// checks, Remote Settings, Normandy and Nimbus studies, the new tab page's
// feeds, speculative connections, and first-run pages. (After puppeteer's
// Firefox preferences.)
var QuietPrefs = map[string]any{
	"app.normandy.api_url":                                        "",
	"app.normandy.enabled":                                        false,
	"app.shield.optoutstudies.enabled":                            false,
	"app.update.auto":                                             false,
	"app.update.checkInstallTime":                                 false,
	"app.update.disabledForTesting":                               true,
	"app.update.enabled":                                          false,
	"browser.aboutHomeSnippets.updateUrl":                         "",
	"browser.discovery.enabled":                                   false,
	"browser.newtabpage.activity-stream.feeds.section.topstories": false,
	"browser.newtabpage.activity-stream.feeds.snippets":           false,
	"browser.newtabpage.activity-stream.feeds.system.topstories":  false,
	"browser.newtabpage.activity-stream.telemetry":                false,
	"browser.newtabpage.enabled":                                  false,
	"browser.pagethumbnails.capturing_disabled":                   true,
	"browser.ping-centre.telemetry":                               false,
	"browser.safebrowsing.blockedURIs.enabled":                    false,
	"browser.safebrowsing.downloads.enabled":                      false,
	"browser.safebrowsing.downloads.remote.enabled":               false,
	"browser.safebrowsing.malware.enabled":                        false,
	"browser.safebrowsing.phishing.enabled":                       false,
	"browser.safebrowsing.provider.google.updateURL":              "",
	"browser.safebrowsing.provider.google4.updateURL":             "",
	"browser.safebrowsing.provider.mozilla.updateURL":             "",
	"browser.search.geoip.url":                                    "",
	"browser.search.suggest.enabled":                              false,
	"browser.search.update":                                       false,
	"browser.sessionstore.resume_from_crash":                      false,
	"browser.shell.checkDefaultBrowser":                           false,
	"browser.startup.homepage":                                    "about:blank",
	"browser.startup.homepage_override.mstone":                    "ignore",
	"browser.startup.page":                                        0,
	"browser.tabs.warnOnClose":                                    false,
	"browser.topsites.contile.enabled":                            false,
	"browser.translations.automaticallyPopup":                     false,
	"browser.uitour.enabled":                                      false,
	"browser.urlbar.quicksuggest.enabled":                         false,
	"browser.urlbar.suggest.searches":                             false,
	"browser.warnOnQuit":                                          false,
	"captivedetect.canonicalURL":                                  "",
	"datareporting.healthreport.documentServerURI":                nowhere,
	"datareporting.healthreport.service.enabled":                  false,
	"datareporting.healthreport.uploadEnabled":                    false,
	"datareporting.policy.dataSubmissionEnabled":                  false,
	"datareporting.policy.dataSubmissionPolicyBypassNotification": true,
	"dom.push.connection.enabled":                                 false,
	"dom.push.serverURL":                                          "",
	"extensions.blocklist.enabled":                                false,
	"extensions.getAddons.cache.enabled":                          false,
	"extensions.getAddons.discovery.api_url":                      "",
	"extensions.systemAddon.update.enabled":                       false,
	"extensions.systemAddon.update.url":                           "",
	"extensions.update.enabled":                                   false,
	"extensions.update.notifyUser":                                false,
	"extensions.webservice.discoverURL":                           nowhere,
	"geo.provider.network.url":                                    "",
	"geo.provider.testing":                                        true,
	"media.gmp-gmpopenh264.enabled":                               false,
	"media.gmp-manager.updateEnabled":                             false,
	"media.gmp-manager.url":                                       "",
	"messaging-system.rsexperimentloader.enabled":                 false,
	"network.captive-portal-service.enabled":                      false,
	"network.connectivity-service.enabled":                        false,
	"network.dns.disablePrefetch":                                 true,
	"network.http.speculative-parallel-limit":                     0,
	"network.predictor.enabled":                                   false,
	"network.prefetch-next":                                       false,
	"network.sntp.pools":                                          "127.0.0.1",
	"network.trr.mode":                                            5, // no DNS over HTTPS
	"nimbus.telemetry.targetingContextEnabled":                    false,
	"privacy.trackingprotection.enabled":                          false,
	"security.OCSP.enabled":                                       0,
	"security.remote_settings.crlite_filters.enabled":             false,
	"security.remote_settings.intermediates.enabled":              false,
	"services.settings.server":                                    nowhere,
	"services.sync.enabled":                                       false,
	"signon.rememberSignons":                                      false,
	"startup.homepage_welcome_url":                                "about:blank",
	"startup.homepage_welcome_url.additional":                     "",
	"toolkit.telemetry.archive.enabled":                           false,
	"toolkit.telemetry.enabled":                                   false,
	"toolkit.telemetry.server":                                    nowhere,
	"toolkit.telemetry.unified":                                   false,
	"toolkit.telemetry.updatePing.enabled":                        false,
}

// LoopbackOnlyPrefs send every request not for 127.0.0.1 or localhost to
// a proxy on a closed loopback port, so a page that reaches for the
// internet fails instead. Through a proxy Firefox resolves no name itself
// (the proxy would), and QuietPrefs turn DNS prefetching off.
var LoopbackOnlyPrefs = map[string]any{
	"network.proxy.type":                      1, // manual
	"network.proxy.http":                      "127.0.0.1",
	"network.proxy.http_port":                 9,
	"network.proxy.ssl":                       "127.0.0.1",
	"network.proxy.ssl_port":                  9,
	"network.proxy.socks":                     "127.0.0.1",
	"network.proxy.socks_port":                9,
	"network.proxy.socks_remote_dns":          true,
	"network.proxy.no_proxies_on":             "127.0.0.1, localhost",
	"network.proxy.allow_hijacking_localhost": false,
	"network.dns.offline-localhost":           true,
}

// Options configure Launch.
type Options struct {
	// Path is the Firefox binary; "" is FirefoxPath.
	Path string
	// ProfileDir is the profile to start with; it must exist and should
	// be empty (a test's t.TempDir()): Launch writes user.js into it.
	ProfileDir string
	// Template, if set, is a profile (made by MakeTemplate) copied into
	// ProfileDir before start: Firefox then skips the seconds it spends
	// creating a new profile, and the page still starts with an empty
	// cache, no cookies and no service worker.
	Template string
	// Prefs are written into user.js over QuietPrefs.
	Prefs map[string]any
	// Width and Height are the window's size; 0 is 1000×760.
	Width, Height int
	// AcceptInsecureCerts lets pages load over TLS with certificates
	// Firefox does not trust (a test's self-signed one): the WebDriver
	// capability of the same name.
	AcceptInsecureCerts bool
	// Log receives Firefox's standard error, line by line, from one
	// goroutine; nil discards it.
	Log io.Writer
}

// Firefox is a running headless Firefox with a BiDi session.
type Firefox struct {
	*Conn
	cmd           *exec.Cmd
	exited        chan struct{} // closed when the process has been waited for
	once          sync.Once
	width, height int // of the window, as launched
}

// Launch starts a headless Firefox on a fresh profile, connects to its
// WebDriver BiDi endpoint and opens a session. Close ends both.
func Launch(ctx context.Context, o Options) (*Firefox, error) {
	path := o.Path
	if path == "" {
		path = FirefoxPath
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("bidi: no Firefox at %s (install it with `apt-get install -y firefox-esr`): %w", path, err)
	}
	if o.ProfileDir == "" {
		return nil, errors.New("bidi: Options.ProfileDir is empty: pass a fresh directory")
	}
	if o.Template != "" {
		if err := copyProfile(o.Template, o.ProfileDir); err != nil {
			return nil, err
		}
	}
	prefs := map[string]any{}
	for k, v := range QuietPrefs {
		prefs[k] = v
	}
	for k, v := range o.Prefs {
		prefs[k] = v
	}
	if err := writeUserJS(filepath.Join(o.ProfileDir, "user.js"), prefs); err != nil {
		return nil, err
	}
	w, h := o.Width, o.Height
	if w == 0 || h == 0 {
		w, h = 1000, 760
	}
	cmd := exec.Command(path, "--headless", "--no-remote", "--remote-debugging-port=0",
		"--profile", o.ProfileDir, "--width", fmt.Sprint(w), "--height", fmt.Sprint(h), "about:blank")
	cmd.Env = append(os.Environ(),
		"MOZ_CRASHREPORTER_DISABLE=1",
		// Without it, release builds ignore services.settings.server and
		// fetch Remote Settings from Mozilla at start.
		"MOZ_REMOTE_SETTINGS_DEVTOOLS=1",
	)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bidi: starting %s: %w", path, err)
	}
	f := &Firefox{cmd: cmd, exited: make(chan struct{}), width: w, height: h}
	urls := make(chan string, 1) // buffered: the scanner never waits for Launch
	go func() {
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			if o.Log != nil {
				fmt.Fprintln(o.Log, line)
			}
			if _, url, ok := strings.Cut(line, "WebDriver BiDi listening on "); ok && !sent {
				urls <- strings.TrimSpace(url)
				sent = true
			}
		}
		io.Copy(io.Discard, stderr) //nolint:errcheck // drain until exit
		cmd.Wait()                  //nolint:errcheck // exiting is what we wait for
		close(f.exited)
	}()
	var url string
	select {
	case url = <-urls:
	case <-f.exited:
		return nil, fmt.Errorf("bidi: Firefox exited before it listened: %v", cmd.ProcessState)
	case <-ctx.Done():
		f.kill()
		return nil, fmt.Errorf("bidi: Firefox did not print its WebDriver BiDi address: %w", ctx.Err())
	}
	f.Conn, err = Dial(ctx, url+"/session")
	if err != nil {
		f.kill()
		return nil, err
	}
	caps := map[string]any{}
	if o.AcceptInsecureCerts {
		caps["alwaysMatch"] = map[string]any{"acceptInsecureCerts": true}
	}
	if err := f.Call(ctx, "session.new", map[string]any{"capabilities": caps}, nil); err != nil {
		f.Conn.Close()
		f.kill()
		return nil, err
	}
	return f, nil
}

func writeUserJS(path string, prefs map[string]any) error {
	keys := make([]string, 0, len(prefs))
	for k := range prefs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		v, err := json.Marshal(prefs[k])
		if err != nil {
			return fmt.Errorf("bidi: pref %s: %w", k, err)
		}
		fmt.Fprintf(&b, "user_pref(%q, %s);\n", k, v)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("bidi: writing the profile's user.js: %w", err)
	}
	return nil
}

func (f *Firefox) kill() {
	f.cmd.Process.Kill() //nolint:errcheck // it may have exited already
	<-f.exited
}

// Close asks Firefox to close (browser.close), waits up to 10 s for it to
// exit, then kills it. It is safe to call more than once.
func (f *Firefox) Close() {
	f.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		f.Call(ctx, "browser.close", nil, nil) //nolint:errcheck // killed below if it did not work
		f.Conn.Close()
		select {
		case <-f.exited:
		case <-time.After(10 * time.Second):
			f.kill()
		}
	})
}

// Exited is closed when the Firefox process has exited.
func (f *Firefox) Exited() <-chan struct{} { return f.exited }

// MakeTemplate makes a profile in dir (which must exist and be empty) for
// Options.Template: it starts Firefox on it, with QuietPrefs, and closes
// it. The profile has visited nothing but about:blank.
func MakeTemplate(ctx context.Context, path, dir string) error {
	f, err := Launch(ctx, Options{Path: path, ProfileDir: dir})
	if err != nil {
		return err
	}
	f.Close()
	return nil
}

// copyProfile copies the regular files and directories of a profile,
// leaving out its locks (symbolic links, or files named so).
func copyProfile(from, to string) error {
	err := filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, path)
		if err != nil {
			return err
		}
		dst := filepath.Join(to, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(dst, 0o755)
		case !d.Type().IsRegular(), d.Name() == "lock", d.Name() == ".parentlock":
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		return fmt.Errorf("bidi: copying the profile template %s: %w", from, err)
	}
	return nil
}
