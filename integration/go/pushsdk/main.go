// Command pushsdk is the Go push-mode peer for profcol's gateway suite: it runs
// github.com/grafana/pyroscope-go (v1.5.0) in push mode — pyroscope.Start with
// every profile type the SDK has except the goroutine-leak one (which needs a
// GOEXPERIMENT) — against -server-address, while a workload keeps CPU,
// allocation, mutex and block profiles busy in functions whose names the suite
// looks for (workloadPushCPUBurn, workloadPushAlloc, workloadPushMutex,
// workloadPushBlock).
//
// The SDK sends POST {server}/ingest (multipart/form-data, part "profile" and,
// except for CPU, "sample_type_config"); see integration/README.md, "Push SDKs".
//
// Its own accounting goes to stdout as JSON lines, so that the harness can hold
// what arrives against what the process itself measured:
//
//	{"event":"start", ...}            once, after pyroscope.Start
//	{"event":"tick", ...}             every -report-every
//	{"event":"exit", ...}             after the final flush
//
// each with cpu_user_s, cpu_sys_s, cpu_s (getrusage(RUSAGE_SELF) since the
// process started), cpu_s_since_start (since pyroscope.Start), wall_s_since_start,
// and uploads: the SDK's requests as seen by the HTTP client it was given
// (count per HTTP status, "error" for transport errors).
package main

import (
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/grafana/pyroscope-go"
)

var (
	sinkMu sync.Mutex
	sink   [][]byte
	sum    [32]byte
)

//go:noinline
func workloadPushCPUBurn(d time.Duration) {
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
func workloadPushAlloc(n int) {
	local := make([][]byte, 0, n)
	for i := 0; i < n; i++ {
		local = append(local, make([]byte, 1024+i%4096))
	}
	sinkMu.Lock()
	sink = local[len(local)/2:]
	sinkMu.Unlock()
}

//go:noinline
func workloadPushMutex(workers, rounds int) {
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
func workloadPushBlock(n int) {
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

func workloadLoop(stop <-chan struct{}, burn time.Duration) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		workloadPushCPUBurn(burn)
		workloadPushAlloc(2000)
		workloadPushMutex(4, 20)
		workloadPushBlock(50)
	}
}

// countingClient is the HTTP client handed to the SDK (Config.HTTPClient): it
// counts the SDK's requests by response status.
type countingClient struct {
	inner *http.Client
	mu    sync.Mutex
	n     map[string]int
}

func (c *countingClient) Do(req *http.Request) (*http.Response, error) {
	resp, err := c.inner.Do(req)
	key := "error"
	if err == nil {
		key = strconv.Itoa(resp.StatusCode)
	}
	c.mu.Lock()
	c.n[key]++
	c.mu.Unlock()
	return resp, err
}

func (c *countingClient) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.n))
	for k, v := range c.n {
		out[k] = v
	}
	return out
}

// stderrLogger is the SDK's Logger: its messages go to stderr (debug only with -v).
type stderrLogger struct{ verbose bool }

func (l stderrLogger) Infof(f string, a ...interface{}) { log.Printf("pyroscope info: "+f, a...) }
func (l stderrLogger) Debugf(f string, a ...interface{}) {
	if l.verbose {
		log.Printf("pyroscope debug: "+f, a...)
	}
}
func (l stderrLogger) Errorf(f string, a ...interface{}) { log.Printf("pyroscope error: "+f, a...) }

func cpuSeconds() (user, sys float64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime), tv(ru.Stime)
}

func parseTags(s string) (map[string]string, error) {
	tags := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("tag %q is not k=v", kv)
		}
		tags[k] = v
	}
	return tags, nil
}

func main() {
	server := flag.String("server-address", "", "Pyroscope server address, e.g. http://127.0.0.1:4040 (required)")
	app := flag.String("app-name", "gopush", "ApplicationName (may carry tags: app{k=v})")
	tagsFlag := flag.String("tags", "", "Tags, comma-separated k=v pairs")
	uploadRate := flag.Duration("upload-rate", time.Second, "Config.UploadRate (the SDK takes any positive duration; 0 means its default, 15s)")
	duration := flag.Duration("duration", 10*time.Second, "how long to run before the final flush and exit (0: until SIGTERM/SIGINT)")
	reportEvery := flag.Duration("report-every", time.Second, "print a tick line this often (0: only start and exit)")
	burn := flag.Duration("burn", 200*time.Millisecond, "CPU burn per workload round")
	tenant := flag.String("tenant-id", "", "Config.TenantID (sent as X-Scope-OrgID)")
	basicAuth := flag.String("basic-auth", "", "USER:PASSWORD for Config.BasicAuthUser/BasicAuthPassword")
	header := flag.String("header", "", "extra HTTP header for Config.HTTPHeaders, NAME:VALUE")
	types := flag.String("profile-types", "cpu,alloc_objects,alloc_space,inuse_objects,inuse_space,goroutine,mutex_count,mutex_duration,block_count,block_duration",
		"Config.ProfileTypes, comma-separated")
	verbose := flag.Bool("v", false, "log the SDK's debug messages")
	flag.Parse()
	log.SetOutput(os.Stderr)
	if *server == "" {
		log.Fatal("-server-address is required")
	}
	tags, err := parseTags(*tagsFlag)
	if err != nil {
		log.Fatal(err)
	}
	var pts []pyroscope.ProfileType
	for _, t := range strings.Split(*types, ",") {
		if t = strings.TrimSpace(t); t != "" {
			pts = append(pts, pyroscope.ProfileType(t))
		}
	}

	runtime.SetMutexProfileFraction(1)
	runtime.SetBlockProfileRate(1)

	client := &countingClient{inner: &http.Client{Timeout: 30 * time.Second}, n: map[string]int{}}
	cfg := pyroscope.Config{
		ApplicationName: *app,
		Tags:            tags,
		ServerAddress:   *server,
		TenantID:        *tenant,
		UploadRate:      *uploadRate,
		Logger:          stderrLogger{verbose: *verbose},
		ProfileTypes:    pts,
		HTTPClient:      client,
	}
	if *basicAuth != "" {
		u, p, _ := strings.Cut(*basicAuth, ":")
		cfg.BasicAuthUser, cfg.BasicAuthPassword = u, p
	}
	if *header != "" {
		k, v, _ := strings.Cut(*header, ":")
		cfg.HTTPHeaders = map[string]string{strings.TrimSpace(k): strings.TrimSpace(v)}
	}

	u0, s0 := cpuSeconds()
	t0 := time.Now()
	prof, err := pyroscope.Start(cfg)
	if err != nil {
		log.Fatalf("pyroscope.Start: %v", err)
	}
	enc := json.NewEncoder(os.Stdout)
	report := func(event string) {
		u, s := cpuSeconds()
		up := client.snapshot()
		keys := make([]string, 0, len(up))
		for k := range up {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		_ = enc.Encode(map[string]any{
			"event": event, "sdk": "pyroscope-go", "sdk_version": "v1.5.0", "pid": os.Getpid(),
			"app_name": *app, "tags": tags, "upload_rate_s": uploadRate.Seconds(),
			"unix_nano":          time.Now().UnixNano(),
			"cpu_user_s":         u,
			"cpu_sys_s":          s,
			"cpu_s":              u + s,
			"cpu_s_since_start":  (u + s) - (u0 + s0),
			"wall_s_since_start": time.Since(t0).Seconds(),
			"uploads":            up,
		})
	}
	report("start")

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); workloadLoop(stop, *burn) }()

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	var end <-chan time.Time
	if *duration > 0 {
		end = time.After(*duration)
	}
	var tick <-chan time.Time
	if *reportEvery > 0 {
		t := time.NewTicker(*reportEvery)
		defer t.Stop()
		tick = t.C
	}
loop:
	for {
		select {
		case <-tick:
			report("tick")
		case <-end:
			break loop
		case <-sig:
			break loop
		}
	}
	close(stop)
	wg.Wait()
	// Profiler.Stop alone may drop the last uploads: it closes the uploader while
	// jobs can still be queued. Flush(true) uploads the open window of every type
	// and waits for the requests to finish.
	prof.Flush(true)
	_ = prof.Stop()
	report("exit")
}
