// Command precompress writes brotli (.br) and gzip (.gz) copies of files,
// at the strongest settings, so the server can send app.wasm compressed
// without compressing it on every request.
//
//	go run ./server/cmd/precompress web/app.wasm
//
// It writes web/app.wasm.br and web/app.wasm.gz beside the input, through
// temporary files renamed into place, and prints the sizes. A stamp file
// (web/app.wasm.sha256) lets it skip the work when the input is unchanged.
package main

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/andybalholm/brotli"
)

func main() {
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: precompress FILE...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	for _, name := range flag.Args() {
		if err := precompress(name, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "precompress:", err)
			os.Exit(1)
		}
	}
}

// encoders are the encodings written, by file suffix.
var encoders = []struct {
	suffix string
	wrap   func(io.Writer) (io.WriteCloser, error)
}{
	{".br", func(w io.Writer) (io.WriteCloser, error) {
		return brotli.NewWriterOptions(w, brotli.WriterOptions{Quality: brotli.BestCompression, LGWin: 24}), nil
	}},
	{".gz", func(w io.Writer) (io.WriteCloser, error) { return gzip.NewWriterLevel(w, gzip.BestCompression) }},
}

func precompress(name string, out io.Writer) error {
	raw, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s: %d bytes\n", name, len(raw))
	// Brotli at its best takes about a minute for app.wasm: when the
	// input has not changed since the last run, only mark the copies as
	// current (the server ignores copies older than their source).
	sum := sha256.Sum256(raw)
	stamp := name + ".sha256"
	if upToDate(name, stamp, hex.EncodeToString(sum[:])) {
		now := time.Now()
		for _, e := range encoders {
			if err := os.Chtimes(name+e.suffix, now, now); err != nil {
				return err
			}
		}
		fmt.Fprintf(out, "%s: compressed copies up to date\n", name)
		return nil
	}
	for _, e := range encoders {
		var buf bytes.Buffer
		w, err := e.wrap(&buf)
		if err != nil {
			return err
		}
		if _, err := w.Write(raw); err != nil {
			return err
		}
		if err := w.Close(); err != nil {
			return err
		}
		if err := writeFileAtomic(name+e.suffix, buf.Bytes()); err != nil {
			return err
		}
		fmt.Fprintf(out, "%s%s: %d bytes (%.1f%%)\n", name, e.suffix, buf.Len(), 100*float64(buf.Len())/float64(len(raw)))
	}
	return writeFileAtomic(stamp, []byte(hex.EncodeToString(sum[:])+"\n"))
}

// upToDate reports whether stamp records hash and every copy exists.
func upToDate(name, stamp, hash string) bool {
	b, err := os.ReadFile(stamp)
	if err != nil || strings.TrimSpace(string(b)) != hash {
		return false
	}
	for _, e := range encoders {
		if _, err := os.Stat(name + e.suffix); err != nil {
			return false
		}
	}
	return true
}

// writeFileAtomic writes through a temporary file, so a server reading
// the old file never sees half of the new one.
func writeFileAtomic(name string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), filepath.Base(name)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}
