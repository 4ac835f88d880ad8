// Command target is the Go pull-mode peer: it serves Go's standard pprof
// endpoints (net/http/pprof), fgprof's wall-clock profile at /debug/fgprof and
// godeltaprof's delta endpoints /debug/pprof/delta_heap, delta_block and
// delta_mutex (github.com/grafana/pyroscope-go/godeltaprof/http/pprof, which
// registers them on http.DefaultServeMux when imported), while a background
// workload keeps CPU, allocation, mutex and block profiles busy in functions
// whose names the integration suite looks for.
package main

import (
	"context"
	"crypto/sha256"
	"flag"
	"log"
	"net"
	"net/http"
	_ "net/http/pprof"
	"runtime"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/felixge/fgprof"
	_ "github.com/grafana/pyroscope-go/godeltaprof/http/pprof"
)

// sink keeps results alive so the compiler cannot drop the work.
var (
	sinkMu sync.Mutex
	sink   [][]byte
	sum    [32]byte
)

//go:noinline
func workloadCPUBurn(d time.Duration) {
	deadline := time.Now().Add(d)
	buf := make([]byte, 4096)
	for time.Now().Before(deadline) {
		for i := 0; i < 64; i++ {
			sum = sha256.Sum256(buf)
			buf[i] = sum[i%32]
		}
	}
}

// The trace context workloadTracedCPUBurn runs under: CPU and goroutine profiles
// carry it as the pprof labels trace_id and span_id, the way span-profiling
// integrations label goroutines; an OTLP writer turns them into a Link (DESIGN §5).
const (
	TraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	SpanID  = "00f067aa0ba902b7"
)

//go:noinline
func workloadTracedCPUBurn(d time.Duration) {
	pprof.Do(context.Background(), pprof.Labels("trace_id", TraceID, "span_id", SpanID),
		func(context.Context) { workloadCPUBurn(d) })
}

//go:noinline
func workloadAlloc(n int) {
	local := make([][]byte, 0, n)
	for i := 0; i < n; i++ {
		local = append(local, make([]byte, 1024+i%4096))
	}
	sinkMu.Lock()
	sink = local[len(local)/2:]
	sinkMu.Unlock()
}

//go:noinline
func workloadMutexContend(workers int, rounds int) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	counter := 0
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				mu.Lock()
				counter++
				time.Sleep(50 * time.Microsecond)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

//go:noinline
func workloadBlockOnChannel(n int) {
	ch := make(chan int)
	go func() {
		for i := 0; i < n; i++ {
			time.Sleep(200 * time.Microsecond)
			ch <- i
		}
		close(ch)
	}()
	for range ch {
	}
}

// workloadWarmup builds a large cumulative history before the target starts
// listening (1 GiB allocated, ~200 s of mutex and block delay), like a
// long-running process has. A collector that forwards cumulative memory,
// mutex or block profiles instead of per-interval deltas is then easy to
// tell apart: every cumulative value exceeds what one interval produces.
func workloadWarmup(allocMiB, waiters int, hold time.Duration) {
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); workloadWarmupAlloc(allocMiB) }()
	go func() { defer wg.Done(); workloadWarmupMutex(waiters, hold) }()
	go func() { defer wg.Done(); workloadWarmupBlock(waiters, hold) }()
	wg.Wait()
}

//go:noinline
func workloadWarmupAlloc(mib int) {
	for i := 0; i < mib*16; i++ {
		b := make([]byte, 64*1024)
		b[0] = byte(i)
		sinkMu.Lock()
		sink = [][]byte{b}
		sinkMu.Unlock()
	}
}

// workloadWarmupMutex holds one mutex per waiter for hold while that waiter
// queues on it: Go records the waiter's delay when the holder unlocks.
//
//go:noinline
func workloadWarmupMutex(waiters int, hold time.Duration) {
	var wg sync.WaitGroup
	for i := 0; i < waiters; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mu sync.Mutex
			mu.Lock()
			done := make(chan struct{})
			go func() { mu.Lock(); mu.Unlock(); close(done) }()
			time.Sleep(hold)
			mu.Unlock()
			<-done
		}()
	}
	wg.Wait()
}

//go:noinline
func workloadWarmupBlock(waiters int, hold time.Duration) {
	ch := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < waiters; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); <-ch }()
	}
	time.Sleep(hold)
	close(ch)
	wg.Wait()
}

func workloadLoop() {
	for {
		workloadCPUBurn(150 * time.Millisecond)
		workloadTracedCPUBurn(100 * time.Millisecond)
		workloadAlloc(2000)
		workloadMutexContend(4, 50)
		workloadBlockOnChannel(100)
	}
}

func main() {
	addr := flag.String("listen", "127.0.0.1:0", "address to listen on (host:port)")
	portFile := flag.String("port-file", "", "write the bound address here once listening")
	warmupMiB := flag.Int("warmup-alloc-mib", 1024, "MiB to allocate before listening (0 disables the warm-up)")
	warmupWaiters := flag.Int("warmup-waiters", 100, "goroutines that wait on a mutex and a channel during the warm-up")
	warmupHold := flag.Duration("warmup-hold", 2*time.Second, "how long the warm-up mutex and channel stay blocked")
	memRate := flag.Int("mem-profile-rate", 64*1024, "runtime.MemProfileRate; 1 records every allocation, so the served allocs totals are exact counts that never decrease")
	flag.Parse()

	runtime.SetMutexProfileFraction(1)
	runtime.SetBlockProfileRate(1)
	runtime.MemProfileRate = *memRate

	http.DefaultServeMux.Handle("/debug/fgprof", fgprof.Handler())

	if *warmupMiB > 0 {
		start := time.Now()
		workloadWarmup(*warmupMiB, *warmupWaiters, *warmupHold)
		log.Printf("warm-up done in %s", time.Since(start))
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("listen %s: %v", *addr, err)
	}
	go workloadLoop()
	log.Printf("go target listening on %s", ln.Addr())
	if *portFile != "" {
		writeFile(*portFile, ln.Addr().String())
	}
	log.Fatal(http.Serve(ln, nil))
}
