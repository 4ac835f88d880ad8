// A tiny workload for the plain JFR file in integration/corpus/ingest/jdk_recording.jfr: the
// JDK's own Flight Recorder (not async-profiler) records it, run as a single-file program by
// integration/capture_ingest_corpus.py:
//   java -XX:StartFlightRecording=settings=<jdkrec/profcol.jfc>,filename=<out>.jfr \
//        JdkRecordingWorkload.java <ms>
// It burns CPU in workloadJdkRecCpuBurn, allocates in workloadJdkRecAlloc, contends a monitor
// in workloadJdkRecLock and parks in workloadJdkRecPark, for <ms> milliseconds (default 3000).

import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.LockSupport;

public final class JdkRecordingWorkload {
    static volatile Object sink;

    public static void main(String[] args) throws Exception {
        long ms = args.length > 0 ? Long.parseLong(args[0]) : 3000;
        long end = System.nanoTime() + ms * 1_000_000L;
        Object monitor = new Object();
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            Thread t = new Thread(() -> {
                while (System.nanoTime() < end) {
                    workloadJdkRecLock(monitor);
                    workloadJdkRecPark();
                }
            }, "jdkrec-lock-" + i);
            t.start();
            threads.add(t);
        }
        while (System.nanoTime() < end) {
            workloadJdkRecCpuBurn(20);
            workloadJdkRecAlloc(2000);
        }
        for (Thread t : threads) {
            t.join();
        }
    }

    static void workloadJdkRecCpuBurn(long ms) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        byte[] d = new byte[32];
        long end = System.nanoTime() + ms * 1_000_000L;
        while (System.nanoTime() < end) {
            d = md.digest(d);
        }
        sink = d;
    }

    static void workloadJdkRecAlloc(int n) {
        List<Object> local = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            local.add(new long[16 + (i % 256)]);
        }
        sink = local;
    }

    static void workloadJdkRecLock(Object monitor) {
        synchronized (monitor) {
            LockSupport.parkNanos(30_000_000L);
        }
    }

    static void workloadJdkRecPark() {
        LockSupport.parkNanos(5_000_000L);
    }
}
