// Java push-mode peer for profcol's gateway suite and the ingest corpus: the Grafana Pyroscope
// Java agent (io.pyroscope:agent 2.9.2), started programmatically with PyroscopeAgent.start,
// in its default format (JFR): every upload interval it sends ONE request,
//   POST {server}/ingest?name=<app>{tags}&units=...&aggregationType=...&from=<s>&until=<s>
//        &spyName=javaspy[&sampleRate=<hz>]&format=jfr
// multipart/form-data with part `jfr` (the async-profiler recording, gzipped) and, when
// dynamic labels were used, part `labels` (a gzipped LabelsSnapshot protobuf); the JFR holds
// the CPU (itimer or cpu), allocation and lock events together. See integration/README.md,
// "Push SDKs".
//
// The workload burns CPU in workloadJavaPushCpuBurn (part of it inside a ScopedContext with
// the dynamic label handler=/cart), allocates in workloadJavaPushAlloc and contends a
// monitor in workloadJavaPushLock.
//
// Its own accounting goes to stdout as JSON lines ({"event": "start" | "tick" | "exit", ...}):
// cpu_s (process CPU time, OperatingSystemMXBean.getProcessCpuTime), cpu_s_since_start,
// wall_s_since_start, uploads (the agent's HTTP answers by status: counted by an OkHttp
// interceptor on the agent's own HTTP client, so every attempt, retries included, with the
// status it got; "error" for an attempt that got no answer), snapshots (profiles handed to
// the exporter) and cpu_s_uploaded_windows: the process CPU from start to the end of the
// last window the agent dumped. The agent does not upload its last, partial window on stop
// (PyroscopeAgent.stop ends the recording without dumping it), so that is the CPU time the
// uploaded profiles can account for.
//
// Usage: java -jar integration/java/target/javapush.jar --server-address URL
//          [--app-name javapush] [--tags k=v,...] [--upload-interval-ms 1000]
//          [--duration-ms 10000] [--report-every-ms 1000] [--event itimer|cpu|wall|ctimer]
//          [--alloc 512k] [--lock 10ms] [--tenant-id T] [--log-level info]

import io.pyroscope.javaagent.EventType;
import io.pyroscope.javaagent.PyroscopeAgent;
import io.pyroscope.javaagent.Snapshot;
import io.pyroscope.javaagent.api.Exporter;
import io.pyroscope.javaagent.api.Logger;
import io.pyroscope.javaagent.config.Config;
import io.pyroscope.javaagent.impl.DefaultLogger;
import io.pyroscope.javaagent.impl.PyroscopeExporter;
import io.pyroscope.javaagent.impl.QueuedExporter;
import io.pyroscope.labels.v2.LabelsSet;
import io.pyroscope.labels.v2.ScopedContext;
import io.pyroscope.vendor.okhttp3.OkHttpClient;
import io.pyroscope.vendor.okhttp3.Response;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.reflect.Field;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

public final class JavaPush {
    static final String SDK = "io.pyroscope:agent";
    static final String SDK_VERSION = "2.9.2";

    static final Map<String, Long> uploads = new TreeMap<>();
    static final AtomicLong snapshots = new AtomicLong();
    static volatile long cpuNanosAtLastWindowEnd = -1;
    static final AtomicBoolean stopping = new AtomicBoolean();
    static volatile Object sink;
    static int allocRounds;

    public static void main(String[] argv) throws Exception {
        Map<String, String> opts = parseArgs(argv);
        String server = opts.get("server-address");
        String app = opts.get("app-name");
        Map<String, String> tags = parseTags(opts.get("tags"));
        long durationMs = Long.parseLong(opts.get("duration-ms"));
        long reportEveryMs = Long.parseLong(opts.get("report-every-ms"));

        Config.Builder b = new Config.Builder()
            .setApplicationName(app)
            .setServerAddress(server)
            .setLabels(tags)
            .setUploadInterval(Duration.ofMillis(Long.parseLong(opts.get("upload-interval-ms"))))
            .setProfilingEvent(EventType.fromId(opts.get("event")))
            .setProfilingAlloc(opts.get("alloc"))
            .setProfilingLock(opts.get("lock"))
            // A refused upload is not retried for long: the suite wants the answer, not a backoff.
            .setIngestMaxRetries(1)
            .setLogLevel(Logger.Level.valueOf(opts.get("log-level").toUpperCase()));
        if (!opts.get("tenant-id").isEmpty()) {
            b.setTenantID(opts.get("tenant-id"));
        }
        Config config = b.build();
        Logger logger = new DefaultLogger(config.logLevel, System.err);
        PyroscopeExporter http = new PyroscopeExporter(config, logger);
        countResponses(http);
        Exporter exporter = new CountingExporter(new QueuedExporter(config, http, logger));

        long c0 = processCpuNanos();
        long t0 = System.nanoTime();
        PyroscopeAgent.start(new PyroscopeAgent.Options.Builder(config)
            .setExporter(exporter).setLogger(logger).build());
        if (!PyroscopeAgent.isStarted()) {
            System.err.println("javapush: the agent did not start (see its log above)");
            System.exit(1);
        }
        report("start", opts, tags, c0, t0);

        List<Thread> workers = new ArrayList<>();
        workers.add(worker("javapush-cpu", () -> {
            int round = 0;
            while (!stopping.get()) {
                if (round++ % 2 == 0) {
                    try (ScopedContext ignored = new ScopedContext(new LabelsSet("handler", "/cart"))) {
                        workloadJavaPushCpuBurn(20);
                    }
                } else {
                    workloadJavaPushCpuBurn(20);
                }
                workloadJavaPushAlloc(2000);
                pause(5);
            }
        }));
        Object monitor = new Object();
        for (int i = 0; i < 3; i++) {
            workers.add(worker("javapush-lock-" + i, () -> {
                while (!stopping.get()) {
                    workloadJavaPushLock(monitor);
                }
            }));
        }
        if (reportEveryMs > 0) {
            Thread ticker = new Thread(() -> {
                while (!stopping.get()) {
                    pause(reportEveryMs);
                    if (!stopping.get()) {
                        report("tick", opts, tags, c0, t0);
                    }
                }
            }, "javapush-report");
            ticker.setDaemon(true);
            ticker.start();
        }
        // SIGTERM/SIGINT: stop like at the end of --duration-ms; the hook waits for the exit report.
        CountDownLatch done = new CountDownLatch(1);
        AtomicBoolean bySignal = new AtomicBoolean();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            bySignal.set(true);
            stopping.set(true);
            try {
                done.await(20, TimeUnit.SECONDS);
            } catch (InterruptedException ignored) {
                Thread.currentThread().interrupt();
            }
        }));

        long end = System.nanoTime() + durationMs * 1_000_000L;
        while (!stopping.get() && System.nanoTime() < end) {
            pause(50);
        }
        stopping.set(true);
        for (Thread w : workers) {
            w.join(5000);
        }
        // Let an upload in flight get its answer before the agent's exporter thread is
        // interrupted: wait (bounded) until every snapshot handed over was answered.
        long waitUntil = System.nanoTime() + 5_000_000_000L;
        while (System.nanoTime() < waitUntil && answered() < snapshots.get()) {
            pause(20);
        }
        PyroscopeAgent.stop();
        report("exit", opts, tags, c0, t0);
        done.countDown();
        if (!bySignal.get()) {
            System.exit(0);
        }
    }

    static void workloadJavaPushCpuBurn(long ms) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] digest = new byte[32];
            long end = System.nanoTime() + ms * 1_000_000L;
            while (System.nanoTime() < end) {
                for (int i = 0; i < 64; i++) {
                    digest = md.digest(digest);
                }
            }
            sink = digest;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    static void workloadJavaPushAlloc(int n) {
        List<Object> local = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            local.add(new long[16 + (i % 256)]);
        }
        if (++allocRounds % 4 == 0) {
            local.add(new byte[4 << 20]); // larger than any TLAB: allocated outside one
        }
        sink = local.subList(n / 2, n);
    }

    static void workloadJavaPushLock(Object monitor) {
        synchronized (monitor) {
            pause(15); // held long enough that the other threads wait past the 10ms threshold
        }
    }

    // ---------------------------------------------------------------- accounting

    /** Counts every HTTP answer the agent's client gets: its OkHttpClient, rebuilt with an interceptor. */
    static void countResponses(PyroscopeExporter http) throws ReflectiveOperationException {
        Field f = PyroscopeExporter.class.getDeclaredField("client");
        f.setAccessible(true);
        OkHttpClient client = (OkHttpClient) f.get(http);
        f.set(http, client.newBuilder().addInterceptor(chain -> {
            try {
                Response r = chain.proceed(chain.request());
                count(Integer.toString(r.code()));
                return r;
            } catch (IOException e) {
                count("error");
                throw e;
            }
        }).build());
    }

    static synchronized void count(String status) {
        uploads.merge(status, 1L, Long::sum);
    }

    static synchronized long answered() {
        return uploads.values().stream().mapToLong(Long::longValue).sum();
    }

    /** Counts the snapshots handed to the exporter and notes the process CPU at each window's end. */
    static final class CountingExporter implements Exporter {
        final Exporter next;

        CountingExporter(Exporter next) {
            this.next = next;
        }

        @Override
        public void export(Snapshot snapshot) {
            cpuNanosAtLastWindowEnd = processCpuNanos();
            snapshots.incrementAndGet();
            next.export(snapshot);
        }

        @Override
        public void stop() {
            next.stop();
        }
    }

    static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
            .getProcessCpuTime();
    }

    static synchronized void report(String event, Map<String, String> opts, Map<String, String> tags,
                                    long c0, long t0) {
        long c = processCpuNanos();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("event", event);
        m.put("sdk", SDK);
        m.put("sdk_version", SDK_VERSION);
        m.put("pid", ProcessHandle.current().pid());
        m.put("app_name", opts.get("app-name"));
        m.put("tags", tags);
        m.put("upload_interval_ms", Long.parseLong(opts.get("upload-interval-ms")));
        m.put("profiling_event", opts.get("event"));
        m.put("unix_nano", Long.toString(System.currentTimeMillis() * 1_000_000L));
        m.put("cpu_s", c / 1e9);
        m.put("cpu_s_since_start", (c - c0) / 1e9);
        long w = cpuNanosAtLastWindowEnd;
        m.put("cpu_s_uploaded_windows", w < 0 ? 0.0 : (w - c0) / 1e9);
        m.put("wall_s_since_start", (System.nanoTime() - t0) / 1e9);
        m.put("snapshots", snapshots.get());
        m.put("uploads", new TreeMap<>(uploads));
        System.out.println(json(m));
        System.out.flush();
    }

    // ---------------------------------------------------------------- plumbing

    static Thread worker(String name, Runnable r) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        t.start();
        return t;
    }

    static void pause(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    static Map<String, String> parseArgs(String[] argv) {
        Map<String, String> o = new LinkedHashMap<>();
        o.put("server-address", "");
        o.put("app-name", "javapush");
        o.put("tags", "");
        o.put("upload-interval-ms", "1000");
        o.put("duration-ms", "10000");
        o.put("report-every-ms", "1000");
        o.put("event", "itimer");
        o.put("alloc", "512k");
        o.put("lock", "10ms");
        o.put("tenant-id", "");
        o.put("log-level", "info");
        for (int i = 0; i < argv.length; i++) {
            String k = argv[i].startsWith("--") ? argv[i].substring(2) : "";
            if (!o.containsKey(k) || i + 1 >= argv.length) {
                System.err.println("javapush: unknown or incomplete argument " + argv[i]);
                System.exit(2);
            }
            o.put(k, argv[++i]);
        }
        if (o.get("server-address").isEmpty()) {
            System.err.println("javapush: --server-address is required");
            System.exit(2);
        }
        return o;
    }

    static Map<String, String> parseTags(String s) {
        Map<String, String> tags = new LinkedHashMap<>();
        for (String kv : s.split(",")) {
            if (kv.isBlank()) {
                continue;
            }
            int i = kv.indexOf('=');
            if (i <= 0) {
                System.err.println("javapush: tag " + kv + " is not k=v");
                System.exit(2);
            }
            tags.put(kv.substring(0, i).trim(), kv.substring(i + 1).trim());
        }
        return tags;
    }

    static String json(Object v) {
        if (v == null) {
            return "null";
        }
        if (v instanceof Number || v instanceof Boolean) {
            return v.toString();
        }
        if (v instanceof Map) {
            StringBuilder sb = new StringBuilder("{");
            for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
                if (sb.length() > 1) {
                    sb.append(", ");
                }
                sb.append(json(String.valueOf(e.getKey()))).append(": ").append(json(e.getValue()));
            }
            return sb.append('}').toString();
        }
        StringBuilder sb = new StringBuilder("\"");
        for (char ch : v.toString().toCharArray()) {
            if (ch == '"' || ch == '\\') {
                sb.append('\\').append(ch);
            } else if (ch < 0x20) {
                sb.append(String.format("\\u%04x", (int) ch));
            } else {
                sb.append(ch);
            }
        }
        return sb.append('"').toString();
    }
}
