// Command target is the Go pull-mode peer: it serves Go's standard pprof
// endpoints (net/http/pprof) and fgprof's wall-clock profile at /debug/fgprof,
// while a background workload keeps CPU, allocation, mutex and block profiles
// busy in functions whose names the integration suite looks for.
package main

import (
	"crypto/sha256"
	"flag"
	"log"
	"net"
	"net/http"
	_ "net/http/pprof"
	"runtime"
	"sync"
	"time"

	"github.com/felixge/fgprof"
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

func workloadLoop() {
	for {
		workloadCPUBurn(250 * time.Millisecond)
		workloadAlloc(2000)
		workloadMutexContend(4, 50)
		workloadBlockOnChannel(100)
	}
}

func main() {
	addr := flag.String("listen", "127.0.0.1:0", "address to listen on (host:port)")
	portFile := flag.String("port-file", "", "write the bound address here once listening")
	flag.Parse()

	runtime.SetMutexProfileFraction(1)
	runtime.SetBlockProfileRate(1)
	runtime.MemProfileRate = 64 * 1024

	http.DefaultServeMux.Handle("/debug/fgprof", fgprof.Handler())

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
