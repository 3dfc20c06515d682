// Command wasmsize lists what the code of a Go WebAssembly binary is made
// of, package by package, from the binary's name section: the bytes of
// each package's function bodies and what they take in brotli, each
// package compressed alone (so the column adds up to more than the whole
// code section takes). It reads a binary built with its symbols, not
// with -ldflags='-s -w':
//
//	GOOS=js GOARCH=wasm GOEXPERIMENT=nogreenteagc go build -trimpath -o /tmp/app.wasm ./wasm
//	go run ./server/cmd/wasmsize /tmp/app.wasm
//	go run ./server/cmd/wasmsize -base /tmp/other.wasm /tmp/app.wasm
//
// With -base, it shows each package's bytes in both binaries and the
// difference, largest first: what app.wasm adds to another program (a
// go-app "hello world", say). It first prints the sizes of the code and
// data sections, raw and in brotli. Package names are as the Go linker
// writes them into the name section, with '/' and '-' turned into '_'.
// Brotli at its best (-quality 11, precompress's) takes about a minute
// for app.wasm; a lower quality answers in seconds, with larger figures.
package main

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/andybalholm/brotli"
)

func main() {
	base := flag.String("base", "", "a second binary: show each package's bytes in both, and the difference")
	top := flag.Int("top", 40, "packages to list (0: all)")
	quality := flag.Int("quality", brotli.BestCompression, "brotli quality, 0 to 11 (11, precompress's, takes about a minute for app.wasm)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: wasmsize [-base OTHER.wasm] [-top N] FILE.wasm")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(os.Stdout, flag.Arg(0), *base, *top, *quality); err != nil {
		fmt.Fprintln(os.Stderr, "wasmsize:", err)
		os.Exit(1)
	}
}

func run(w io.Writer, path, basePath string, top, quality int) error {
	bin, err := load(path)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s: code section %d bytes (%d brotli), data section %d bytes (%d brotli)\n",
		path, len(bin.code), brotliSize(bin.code, quality), len(bin.data), brotliSize(bin.data, quality))
	rows := bin.packages(quality)
	if basePath == "" {
		if top > 0 && len(rows) > top {
			rows = rows[:top]
		}
		fmt.Fprintf(w, "%-55s %10s %10s\n", "package", "code", "brotli")
		for _, r := range rows {
			fmt.Fprintf(w, "%-55s %10d %10d\n", r.name, r.code, r.brotli)
		}
		return nil
	}
	other, err := load(basePath)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s: code section %d bytes (%d brotli), data section %d bytes (%d brotli)\n",
		basePath, len(other.code), brotliSize(other.code, quality), len(other.data), brotliSize(other.data, quality))
	diff := compare(rows, other.packages(quality))
	if top > 0 && len(diff) > top {
		diff = diff[:top]
	}
	fmt.Fprintf(w, "%-55s %10s %10s %10s %10s\n", "package", "code", "base code", "brotli", "base brotli")
	for _, d := range diff {
		fmt.Fprintf(w, "%-55s %10d %10d %10d %10d\n", d.name, d.code, d.baseCode, d.brotli, d.baseBrotli)
	}
	return nil
}

// module is what wasmsize reads of a wasm module.
type module struct {
	code  []byte   // the code section
	data  []byte   // the data section
	funcs []string // the name of each function body, in order
	sizes []int    // the bytes of each function body
	pkgs  map[string][]byte
}

// load reads and parses the wasm module at path.
func load(path string) (*module, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	bin, err := parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return bin, nil
}

var errNoNames = errors.New("no function names: build it without -ldflags='-s -w'")

// parse reads the sections wasmsize needs: the imports (which come
// first in the function index space), the code, the data and the name
// section's function names.
func parse(b []byte) (*module, error) {
	if len(b) < 8 || string(b[:4]) != "\x00asm" {
		return nil, errors.New("not a WebAssembly module")
	}
	r := reader{b: b[8:]}
	bin := &module{}
	imported := 0
	names := map[uint64]string{}
	var bodies [][]byte
	for r.more() {
		id := r.byte()
		sec := reader{b: r.bytes(r.uint())}
		switch id {
		case 2: // imports: module, name, kind, then what the kind needs
			for range sec.uint() {
				sec.bytes(sec.uint())
				sec.bytes(sec.uint())
				if kind := sec.byte(); kind != 0 {
					return nil, fmt.Errorf("an import of kind %d: only functions are expected", kind)
				}
				sec.uint() // its type
				imported++
			}
		case 10:
			bin.code = sec.b
			for range sec.uint() {
				bodies = append(bodies, sec.bytes(sec.uint()))
			}
		case 11:
			bin.data = sec.b
		case 0:
			if string(sec.bytes(sec.uint())) != "name" {
				continue
			}
			for sec.more() {
				sub, body := sec.byte(), reader{b: sec.bytes(sec.uint())}
				if sub != 1 { // function names
					continue
				}
				for range body.uint() {
					i := body.uint()
					names[i] = string(body.bytes(body.uint()))
				}
				if body.err != nil {
					sec.err = body.err
				}
			}
		}
		if sec.err != nil {
			return nil, fmt.Errorf("section %d: %w", id, sec.err)
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	if len(names) == 0 {
		return nil, errNoNames
	}
	bin.pkgs = map[string][]byte{}
	for i, body := range bodies {
		name := names[uint64(imported+i)]
		bin.funcs = append(bin.funcs, name)
		bin.sizes = append(bin.sizes, len(body))
		p := packageOf(name)
		bin.pkgs[p] = append(bin.pkgs[p], body...)
	}
	return bin, nil
}

// packageOf returns the package of a function as the linker names it:
// "runtime.mallocgc" is runtime's, and
// "github.com_maxence_charriere_go_app_v10_pkg_app.__Handler_.ServeHTTP"
// github.com_maxence_charriere_go_app_v10_pkg_app's.
func packageOf(fn string) string {
	if fn == "" {
		return "(unnamed)"
	}
	start := 0
	if strings.HasPrefix(fn, "vendor_") {
		start = len("vendor_") // the standard library's vendored modules
	}
	if first, _, _ := strings.Cut(fn[start:], "_"); isDomain(first) {
		start += len(first) // its dots do not end the package
	}
	if i := strings.Index(fn[start:], "."); i >= 0 {
		return fn[:start+i]
	}
	return fn
}

// isDomain reports whether s, the text before a name's first '_', is the
// domain that starts a module path (github.com, go.uber.org), rather than
// a package and a function ("unique.clone" of "unique.clone_go.shape").
// The name section keeps no '/', so the top-level domain tells them
// apart.
func isDomain(s string) bool {
	i := strings.LastIndex(s, ".")
	if i <= 0 {
		return false
	}
	switch s[i+1:] {
	case "com", "org", "net", "io", "in", "dev", "me", "co", "land":
		return !strings.ContainsAny(s, "()*[]")
	}
	return false
}

// pkgSize is one package's code.
type pkgSize struct {
	name         string
	code, brotli int
}

// packages returns the code of each package, largest first, and its
// size in brotli of the given quality.
func (b *module) packages(quality int) []pkgSize {
	var rows []pkgSize
	for name, code := range b.pkgs {
		rows = append(rows, pkgSize{name, len(code), brotliSize(code, quality)})
	}
	slices.SortFunc(rows, func(a, b pkgSize) int {
		return cmp.Or(cmp.Compare(b.code, a.code), strings.Compare(a.name, b.name))
	})
	return rows
}

// pkgDiff is one package's code in two binaries.
type pkgDiff struct {
	name               string
	code, baseCode     int
	brotli, baseBrotli int
}

// compare pairs the packages of two binaries, the largest difference in
// code first, and leaves out those of the same size in both.
func compare(rows, base []pkgSize) []pkgDiff {
	byName := map[string]*pkgDiff{}
	for _, r := range rows {
		byName[r.name] = &pkgDiff{name: r.name, code: r.code, brotli: r.brotli}
	}
	for _, r := range base {
		d := byName[r.name]
		if d == nil {
			d = &pkgDiff{name: r.name}
			byName[r.name] = d
		}
		d.baseCode, d.baseBrotli = r.code, r.brotli
	}
	var diff []pkgDiff
	for _, d := range byName {
		if d.code != d.baseCode {
			diff = append(diff, *d)
		}
	}
	slices.SortFunc(diff, func(a, b pkgDiff) int {
		return cmp.Or(cmp.Compare(b.code-b.baseCode, a.code-a.baseCode), strings.Compare(a.name, b.name))
	})
	return diff
}

// brotliSize is the length of b in brotli of the given quality, with
// precompress's window.
func brotliSize(b []byte, quality int) int {
	var out bytes.Buffer
	w := brotli.NewWriterOptions(&out, brotli.WriterOptions{Quality: quality, LGWin: 24})
	w.Write(b)
	w.Close()
	return out.Len()
}

// reader reads a wasm module's encodings; the first error sticks.
type reader struct {
	b   []byte
	err error
}

func (r *reader) more() bool { return r.err == nil && len(r.b) > 0 }

func (r *reader) byte() byte {
	if r.err != nil || len(r.b) == 0 {
		r.fail()
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// uint reads an unsigned LEB128 number.
func (r *reader) uint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes(n uint64) []byte {
	if r.err != nil || n > uint64(len(r.b)) {
		r.fail()
		return nil
	}
	b := r.b[:n]
	r.b = r.b[n:]
	return b
}

func (r *reader) fail() {
	if r.err == nil {
		r.err = errors.New("truncated or malformed")
	}
}
