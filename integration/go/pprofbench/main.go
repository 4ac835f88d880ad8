// Command pprofbench is the comparison peer for the conversion benchmark: for
// each input file it times google/pprof's profile.Parse followed by
// profile.Write (decode + re-encode, gzip included on both sides), and
// profile.Parse alone, and prints one JSON object per file plus a total.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/google/pprof/profile"
)

type result struct {
	File        string  `json:"file"`
	InputBytes  int     `json:"input_bytes"`
	OutputBytes int     `json:"output_bytes"`
	Iterations  int     `json:"iterations"`
	Seconds     float64 `json:"seconds"`
	ParseSecs   float64 `json:"parse_seconds"`
	BytesPerSec float64 `json:"bytes_per_sec"`
	Samples     int     `json:"samples"`
	Error       string  `json:"error,omitempty"`
}

func runOne(path string, minTime time.Duration, minIters int) result {
	r := result{File: path}
	data, err := os.ReadFile(path)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	r.InputBytes = len(data)
	var out bytes.Buffer
	start := time.Now()
	for r.Iterations < minIters || time.Since(start) < minTime {
		p, err := profile.Parse(bytes.NewReader(data))
		if err != nil {
			r.Error = err.Error()
			return r
		}
		out.Reset()
		if err := p.Write(&out); err != nil {
			r.Error = err.Error()
			return r
		}
		r.Samples = len(p.Sample)
		r.Iterations++
	}
	r.Seconds = time.Since(start).Seconds() / float64(r.Iterations)
	r.OutputBytes = out.Len()
	// Parse alone (decompression included, no re-encoding), for comparison with
	// converters that do not gzip their output.
	n := 0
	start = time.Now()
	for n < minIters || time.Since(start) < minTime {
		if _, err := profile.Parse(bytes.NewReader(data)); err != nil {
			r.Error = err.Error()
			return r
		}
		n++
	}
	r.ParseSecs = time.Since(start).Seconds() / float64(n)
	if r.Seconds > 0 {
		r.BytesPerSec = float64(r.InputBytes) / r.Seconds
	}
	return r
}

func main() {
	minTime := flag.Duration("min-time", 200*time.Millisecond, "minimum time spent per file")
	minIters := flag.Int("min-iters", 3, "minimum iterations per file")
	flag.Parse()
	enc := json.NewEncoder(os.Stdout)
	var totalBytes int
	var totalSec float64
	failed := 0
	for _, f := range flag.Args() {
		r := runOne(f, *minTime, *minIters)
		if r.Error != "" {
			failed++
		} else {
			totalBytes += r.InputBytes
			totalSec += r.Seconds
		}
		_ = enc.Encode(r)
	}
	total := map[string]interface{}{"file": "TOTAL", "input_bytes": totalBytes, "seconds": totalSec, "failed": failed}
	if totalSec > 0 {
		total["bytes_per_sec"] = float64(totalBytes) / totalSec
	}
	_ = enc.Encode(total)
	if failed > 0 {
		fmt.Fprintf(os.Stderr, "pprofbench: %d file(s) failed\n", failed)
		os.Exit(1)
	}
}
