// Command contribbench times the OpenTelemetry way of turning a pprof file into
// an OTLP profiles request, in process: google/pprof's profile.ParseData (which
// gunzips a gzipped input itself), a pprof -> pdata translation, and pdata's
// protobuf marshaler (pprofile.ProtoMarshaler.MarshalProfiles). It is the Go
// side of integration/scale/contrib_cost.sh; profcol's `convert --to otlp` is
// the other.
//
// The translation step: the contrib translator
// (github.com/open-telemetry/opentelemetry-collector-contrib/pkg/translator/pprof,
// entry point ConvertPprofToProfiles(*profile.Profile) (*pprofile.Profiles,
// error)) is what this program is for, but the Go module proxy the project
// builds from refuses that module ("403 This module version is not
// available") at v0.165.1 and at every nearby release tried, so it cannot be a
// requirement here. Until it is served, the step is pdataTranslate
// (translate.go), a stand-in written here on pdata's public API; every output
// row names the translation in its translator column. To use the real one:
// `go get <module>@v0.165.1`, set translate/translator to a wrapper around
// ConvertPprofToProfiles, commit go.mod and go.sum.
//
// Modes:
//
//	contribbench [-repeat N] FILE|DIR...        per file: read once into memory,
//	                                            then N timed conversions (after
//	                                            -warmup W untimed ones, default 1)
//	contribbench -set [-o OUTDIR] [-repeat N] FILE|DIR...
//	                                            the whole set N times, one request
//	                                            per file, each read from disk and
//	                                            (with -o) written to
//	                                            OUTDIR/<name>.otlp.pb, like
//	                                            `profcol convert --to otlp DIR -o OUTDIR`
//
// Output is TSV with a header line: one row per file (per-file mode) and a
// TOTAL row. CPU is user+sys of this process from getrusage(RUSAGE_SELF), so it
// includes the garbage collector's threads; wall is the elapsed time. Both are
// microseconds per conversion. parse/translate/marshal are the wall time of
// each step, per conversion.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/google/pprof/profile"
	"go.opentelemetry.io/collector/pdata/pprofile"
)

// translate is the pprof -> pdata step; translator names it.
var (
	translate  = pdataTranslate
	translator = "pdata-standin"
)

type usage struct {
	wall time.Time
	cpu  time.Duration // user + sys
}

func now() usage {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	tv := func(t syscall.Timeval) time.Duration {
		return time.Duration(t.Sec)*time.Second + time.Duration(t.Usec)*time.Microsecond
	}
	return usage{wall: time.Now(), cpu: tv(ru.Utime) + tv(ru.Stime)}
}

// steps accumulates the wall time of each step.
type steps struct{ parse, translate, marshal time.Duration }

// convert runs the three steps once and returns the encoded request.
func convert(data []byte, st *steps) ([]byte, int, error) {
	t0 := time.Now()
	p, err := profile.ParseData(data)
	if err != nil {
		return nil, 0, fmt.Errorf("parse: %w", err)
	}
	t1 := time.Now()
	pd, err := translate(p)
	if err != nil {
		return nil, 0, fmt.Errorf("translate: %w", err)
	}
	t2 := time.Now()
	m := pprofile.ProtoMarshaler{}
	out, err := m.MarshalProfiles(pd)
	if err != nil {
		return nil, 0, fmt.Errorf("marshal: %w", err)
	}
	t3 := time.Now()
	st.parse += t1.Sub(t0)
	st.translate += t2.Sub(t1)
	st.marshal += t3.Sub(t2)
	return out, len(p.Sample), nil
}

// profileExt says whether a file found in a directory is taken as input (the
// endings profcol convert reads as pprof).
func profileExt(name string) bool {
	for _, e := range []string{".pb", ".gz", ".pprof", ".prof"} {
		if strings.HasSuffix(name, e) {
			return true
		}
	}
	return false
}

// expand lists the files named, and those under named directories, in name order.
func expand(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		fi, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			out = append(out, a)
			continue
		}
		var found []string
		err = filepath.WalkDir(a, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && profileExt(d.Name()) {
				found = append(found, p)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		sort.Strings(found)
		out = append(out, found...)
	}
	return out, nil
}

// stem is the file name without its profile endings, as profcol names outputs.
func stem(path string) string {
	b := filepath.Base(path)
	for _, e := range []string{".gz", ".zst", ".pb", ".pprof", ".prof"} {
		b = strings.TrimSuffix(b, e)
	}
	return b
}

const header = "file\tmode\ttranslator\tin_bytes\tout_bytes\tsamples\tconversions\tcpu_us\twall_us\tparse_us\ttranslate_us\tmarshal_us"

func row(w io.Writer, file, mode string, in, out, samples, n int, start, end usage, st steps) {
	per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 / float64(n) }
	fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\n",
		file, mode, translator, in, out, samples, n,
		per(end.cpu-start.cpu), per(end.wall.Sub(start.wall)),
		per(st.parse), per(st.translate), per(st.marshal))
}

// perFile converts each file, held in memory, repeat times after warmup untimed runs.
func perFile(files []string, repeat, warmup int) error {
	var tIn, tOut, tSamples, tN int
	var tCPU, tWall time.Duration
	var tSt steps
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var warm steps
		for i := 0; i < warmup; i++ {
			if _, _, err := convert(data, &warm); err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
		}
		runtime.GC()
		var st steps
		var out []byte
		var samples int
		start := now()
		for i := 0; i < repeat; i++ {
			if out, samples, err = convert(data, &st); err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
		}
		end := now()
		row(os.Stdout, f, "file", len(data), len(out), samples, repeat, start, end, st)
		tIn += len(data)
		tOut += len(out)
		tSamples += samples
		tN += repeat
		tCPU += end.cpu - start.cpu
		tWall += end.wall.Sub(start.wall)
		tSt.parse += st.parse
		tSt.translate += st.translate
		tSt.marshal += st.marshal
	}
	// The TOTAL row is per conversion over all files (each file counted repeat times).
	z := usage{}
	row(os.Stdout, "TOTAL", "file", tIn, tOut, tSamples, tN, z, usage{wall: z.wall.Add(tWall), cpu: tCPU}, tSt)
	return nil
}

// set converts the whole set repeat times (after warmup untimed passes), one request
// per file, reading each from disk and writing it to outDir when given.
func set(files []string, repeat, warmup int, outDir string) error {
	pass := func(st *steps) (in, out, samples int, err error) {
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return 0, 0, 0, err
			}
			enc, n, err := convert(data, st)
			if err != nil {
				return 0, 0, 0, fmt.Errorf("%s: %w", f, err)
			}
			if outDir != "" {
				if err := os.WriteFile(filepath.Join(outDir, stem(f)+".otlp.pb"), enc, 0o644); err != nil {
					return 0, 0, 0, err
				}
			}
			in += len(data)
			out += len(enc)
			samples += n
		}
		return in, out, samples, nil
	}
	var warm steps
	for i := 0; i < warmup; i++ {
		if _, _, _, err := pass(&warm); err != nil {
			return err
		}
	}
	runtime.GC()
	var st steps
	var in, out, samples int
	var err error
	start := now()
	for i := 0; i < repeat; i++ {
		if in, out, samples, err = pass(&st); err != nil {
			return err
		}
	}
	end := now()
	row(os.Stdout, "TOTAL", "set", in, out, samples, repeat*len(files), start, end, st)
	return nil
}

func main() {
	repeat := flag.Int("repeat", 20, "timed conversions per file (per-file mode) or passes over the set (-set)")
	setMode := flag.Bool("set", false, "convert the whole set per pass, one request per file, reading from disk")
	outDir := flag.String("o", "", "with -set: write OUTDIR/<name>.otlp.pb for each input")
	warmup := flag.Int("warmup", 1, "untimed conversions per file (passes over the set with -set) before timing")
	noHeader := flag.Bool("no-header", false, "leave out the TSV header line")
	showTranslator := flag.Bool("translator", false, "print which translation is built in and exit")
	flag.Parse()
	if *showTranslator {
		fmt.Println(translator)
		return
	}
	if *repeat < 1 || *warmup < 0 || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: contribbench [-set [-o OUTDIR]] [-repeat N] [-warmup W] FILE|DIR...")
		os.Exit(2)
	}
	files, err := expand(flag.Args())
	if err == nil && len(files) == 0 {
		err = errors.New("no input files")
	}
	if err == nil && *outDir != "" && !*setMode {
		err = errors.New("-o is for -set")
	}
	if err == nil {
		if !*noHeader {
			fmt.Println(header)
		}
		if *setMode {
			err = set(files, *repeat, *warmup, *outDir)
		} else {
			err = perFile(files, *repeat, *warmup)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "contribbench:", err)
		os.Exit(1)
	}
}
