// Command gen writes real Go runtime profiles into the directory given as
// its only argument, for profcol-pdata's test corpus:
// cpu, heap, allocs (two scrapes, for deltas), block, mutex and goroutine,
// all gzipped protobuf as net/http/pprof serves them, plus allocs_big and
// cpu_big with thousands of distinct stacks for benchmarks.
//
// Build offline: GOPATH=/usr/share/gocode GO111MODULE=off go build
package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"time"
)

var sink [][]byte

//go:noinline
func allocSmall(n int) {
	for i := 0; i < n; i++ {
		sink = append(sink, make([]byte, 64+i%512))
		if len(sink) > 4096 {
			sink = sink[:0]
		}
	}
}

//go:noinline
func allocLarge(n int) {
	for i := 0; i < n; i++ {
		sink = append(sink, make([]byte, 64<<10))
	}
}

func square(x int) int { return x * x } // inlined into burn

//go:noinline
func burn(d time.Duration) int {
	acc := 0
	for end := time.Now().Add(d); time.Now().Before(end); {
		for i := 0; i < 1000; i++ {
			acc += square(i)
		}
	}
	return acc
}

//go:noinline
func hashLoop(d time.Duration) {
	buf := []byte("profcol")
	for end := time.Now().Add(d); time.Now().Before(end); {
		s := sha256.Sum256(buf)
		buf = s[:]
	}
}

//go:noinline
func sortWork(d time.Duration) {
	for end := time.Now().Add(d); time.Now().Before(end); {
		xs := make([]string, 2000)
		for i := range xs {
			xs[i] = strings.Repeat("x", i%17) + fmt.Sprint(i*7919%2000)
		}
		sort.Strings(xs)
	}
}

//go:noinline
func contend(mu *sync.Mutex, wg *sync.WaitGroup, n int) {
	defer wg.Done()
	for i := 0; i < n; i++ {
		mu.Lock()
		time.Sleep(50 * time.Microsecond)
		mu.Unlock()
	}
}

//go:noinline
func waitOnChannel(ch chan int) {
	for range ch {
	}
}

// pathL and pathR recurse down a binary tree of call paths: every value of
// bits below 1<<depth gives a distinct stack, as large services have.
//
//go:noinline
func pathL(depth int, bits uint32, leaf func()) {
	if depth == 0 {
		leaf()
		return
	}
	if bits&1 == 0 {
		pathL(depth-1, bits>>1, leaf)
	} else {
		pathR(depth-1, bits>>1, leaf)
	}
}

//go:noinline
func pathR(depth int, bits uint32, leaf func()) {
	if depth == 0 {
		leaf()
		return
	}
	if bits&1 == 0 {
		pathL(depth-1, bits>>1, leaf)
	} else {
		pathR(depth-1, bits>>1, leaf)
	}
}

// big writes allocs_big (32768 allocation stacks, every allocation
// recorded) and cpu_big (many distinct stacks at a high sampling rate).
func big(dir string) {
	const depth = 15
	runtime.MemProfileRate = 1
	for b := uint32(0); b < 1<<depth; b++ {
		pathL(depth, b, func() { sink = append(sink, make([]byte, 32)); sink = sink[:0] })
	}
	runtime.GC()
	write(dir, "allocs_big", pprof.Lookup("allocs"))
	runtime.MemProfileRate = 4096

	// StartCPUProfile asks for 100 Hz; a rate set before it wins (the
	// runtime warns and keeps it), so the samples are 20x denser.
	runtime.SetCPUProfileRate(2000)
	f, err := os.Create(filepath.Join(dir, "cpu_big.pb.gz"))
	if err != nil {
		panic(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		panic(err)
	}
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for end := time.Now().Add(1500 * time.Millisecond); time.Now().Before(end); {
				for b := uint32(w); b < 1<<depth; b += 2 {
					pathL(depth, b, func() { burn(20 * time.Microsecond) })
				}
			}
		}(w)
	}
	wg.Wait()
	pprof.StopCPUProfile()
	f.Close()
}

func write(dir, name string, p *pprof.Profile) {
	f, err := os.Create(filepath.Join(dir, name+".pb.gz"))
	if err != nil {
		panic(err)
	}
	defer f.Close()
	if err := p.WriteTo(f, 0); err != nil {
		panic(err)
	}
}

func main() {
	dir := "."
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	runtime.MemProfileRate = 4096
	runtime.SetBlockProfileRate(1)
	runtime.SetMutexProfileFraction(1)

	cpu, err := os.Create(filepath.Join(dir, "cpu.pb.gz"))
	if err != nil {
		panic(err)
	}
	if err := pprof.StartCPUProfile(cpu); err != nil {
		panic(err)
	}
	var wg sync.WaitGroup
	for _, w := range []struct {
		name string
		f    func()
	}{
		{"burn", func() { burn(600 * time.Millisecond) }},
		{"hash", func() { hashLoop(600 * time.Millisecond) }},
		{"sort", func() { sortWork(600 * time.Millisecond) }},
	} {
		w := w
		wg.Add(1)
		go pprof.Do(context.Background(), pprof.Labels("worker", w.name), func(context.Context) {
			defer wg.Done()
			w.f()
		})
	}
	allocSmall(20000)
	allocLarge(200)

	var mu sync.Mutex
	var cw sync.WaitGroup
	for i := 0; i < 4; i++ {
		cw.Add(1)
		go contend(&mu, &cw, 50)
	}
	ch := make(chan int)
	go waitOnChannel(ch)
	for i := 0; i < 50; i++ {
		time.Sleep(100 * time.Microsecond)
		ch <- i
	}
	cw.Wait()
	wg.Wait()
	pprof.StopCPUProfile()
	cpu.Close()

	runtime.GC()
	write(dir, "heap", pprof.Lookup("heap"))
	write(dir, "allocs", pprof.Lookup("allocs"))
	allocSmall(5000)
	allocLarge(50)
	runtime.GC()
	write(dir, "allocs2", pprof.Lookup("allocs"))
	write(dir, "block", pprof.Lookup("block"))
	write(dir, "mutex", pprof.Lookup("mutex"))
	write(dir, "goroutine", pprof.Lookup("goroutine"))
	close(ch)
	big(dir)
}
