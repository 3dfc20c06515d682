package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// checkTarget refuses a URL whose host is not on the loopback network
// unless allowRemote is set: the tool opens thousands of connections and
// must not be pointed at someone else's server by accident. A host name is
// resolved, and every address it resolves to must be loopback.
func checkTarget(ctx context.Context, raw string, allowRemote bool, resolver *net.Resolver) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("bad -url %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("bad -url %q: only http:// and https:// are supported", raw)
	}
	host := u.Hostname()
	if host == "" {
		return nil, fmt.Errorf("bad -url %q: no host", raw)
	}
	if allowRemote {
		return u, nil
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		if resolver == nil {
			resolver = net.DefaultResolver
		}
		addrs, err = resolver.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return nil, fmt.Errorf("resolve %s: %w", host, err)
		}
	}
	for _, a := range addrs {
		if !a.Unmap().IsLoopback() {
			return nil, fmt.Errorf("refusing target %s (%s): not a loopback address; pass -allow-remote to load a server you own on another host", host, a)
		}
	}
	return u, nil
}

// errNotPossible marks a run that this machine cannot do, as opposed to
// one that failed.
type errNotPossible struct{ reason string }

func (e *errNotPossible) Error() string { return "not possible on this machine: " + e.reason }

// fdHeadroom is how many descriptors besides the client sockets the tool
// (publisher connections, files, the runtime) or the server may need.
const fdHeadroom = 100

// checkFDs reports whether this process, and the server pid if given,
// may open enough descriptors for n clients. The Go runtime raises the
// soft limit to the hard one at start, so the hard limit is what counts
// for us; for the server, /proc/PID/limits tells what it got.
func checkFDs(n int, ownHard uint64, serverSoft uint64) error {
	need := uint64(n + fdHeadroom)
	if ownHard != 0 && need > ownHard {
		return &errNotPossible{fmt.Sprintf("fd hard limit %d: %d clients need %d descriptors in the load tool (raise it with `ulimit -Hn` as root, or the container's nofile limit)", ownHard, n, need)}
	}
	if serverSoft != 0 && need > serverSoft {
		return &errNotPossible{fmt.Sprintf("fd hard limit %d of the server process: %d clients need about %d descriptors in the server (raise its nofile limit)", serverSoft, n, need)}
	}
	return nil
}

// serverFDLimit reads the soft open-files limit of pid from
// /proc/PID/limits, or 0 if it cannot.
func serverFDLimit(pid int) uint64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/limits")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "Max open files"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				n, err := strconv.ParseUint(f[0], 10, 64)
				if err == nil {
					return n
				}
			}
		}
	}
	return 0
}

// ephemeralPorts returns how many local ports one source address can use
// for outgoing connections, from /proc/sys/net/ipv4/ip_local_port_range
// (Linux's default, 32768-60999, if it cannot be read).
func ephemeralPorts() int {
	lo, hi := 32768, 60999
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		f := strings.Fields(string(b))
		if len(f) == 2 {
			l, err1 := strconv.Atoi(f[0])
			h, err2 := strconv.Atoi(f[1])
			if err1 == nil && err2 == nil && h >= l {
				lo, hi = l, h
			}
		}
	}
	return hi - lo + 1
}

// sourceAddrs returns the source addresses to spread n clients over:
// 127.0.0.1 .. 127.0.0.k. k is the given count, or when it is 0, the
// fewest addresses that keep each under 90% of its ephemeral ports. The
// kernel picks a free port per bound source address, so each address adds
// a full port range. Sources only make sense for a loopback target.
func sourceAddrs(n, count, portsPerAddr int, loopback bool) ([]netip.Addr, error) {
	perAddr := portsPerAddr * 9 / 10
	if count == 0 {
		if !loopback {
			return nil, nil // let the kernel choose
		}
		count = max(1, (n+perAddr-1)/perAddr)
	}
	if !loopback {
		return nil, fmt.Errorf("-sources needs a loopback target: 127.0.0.x source addresses cannot reach another host")
	}
	if count > 254*254 {
		return nil, fmt.Errorf("-sources %d: at most %d addresses in 127.0.0.0/8 are used", count, 254*254)
	}
	if n > count*portsPerAddr {
		return nil, fmt.Errorf("%d clients over %d source addresses exceed %d ephemeral ports per address: use -sources %d or more", n, count, portsPerAddr, (n+perAddr-1)/perAddr)
	}
	addrs := make([]netip.Addr, count)
	for i := range addrs {
		// 127.0.0.1 .. 127.0.0.254, then 127.0.1.1 ...
		addrs[i] = netip.AddrFrom4([4]byte{127, 0, byte(i / 254), byte(i%254 + 1)})
	}
	return addrs, nil
}
