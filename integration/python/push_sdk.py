#!/usr/bin/env python3
"""Python push-mode peer for profcol's gateway suite: PyPI `pyroscope-io` (1.4.0,
a native extension built from pyroscope-rs) in push mode — pyroscope.configure(
application_name, server_address, tags, upload_interval, ...) — while a workload
burns CPU in workload_python_push_cpu_burn (pure Python, holding the GIL) and
allocates in workload_python_push_alloc; the memory profiler is on
(mem_enabled=True) unless --no-mem.

What the SDK sends is in integration/README.md, "Push SDKs".

Its own accounting goes to stdout as JSON lines ({"event": "start" | "tick" |
"exit", ...}) with cpu_user_s, cpu_sys_s, cpu_s (getrusage(RUSAGE_SELF): the
whole process, the SDK's sampler thread included), cpu_s_since_start (since
configure()), wall_s_since_start, and workload_cpu_s: the CPU time of the
workload thread alone (time.thread_time(), what a GIL-only on-CPU sampler can see).

Usage: push_sdk.py --check    (prints the SDK's version; exit 3 when it is not installed)
       push_sdk.py --server-address URL [--app-name pypush] [--tags k=v,...]
         [--upload-interval 1] [--duration 10] [--report-every 1]
         [--tenant-id T] [--basic-auth USER:PASS] [--header NAME:VALUE]
"""

import argparse
import hashlib
import json
import os
import resource
import signal
import sys
import threading
import time

VENV_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".venv")
VENV_PY = os.path.join(VENV_DIR, "bin", "python")
_sink = []
_workload_cpu = [0.0]


def workload_python_push_cpu_burn(seconds):
    """Pure-Python CPU: a loop the interpreter runs itself, so the sampler sees this frame."""
    end = time.monotonic() + seconds
    x = 0
    while time.monotonic() < end:
        for i in range(2000):
            x = (x * 31 + i) % 1000003
    return x


def workload_python_push_alloc(n):
    local = [bytearray(256 + i % 1024) for i in range(n)]
    global _sink
    _sink = local[n // 2:]
    return hashlib.sha256(local[0]).hexdigest()


def workload_loop(stop, burn):
    t0 = time.thread_time()
    while not stop.is_set():
        workload_python_push_cpu_burn(burn)
        workload_python_push_alloc(2000)
        _workload_cpu[0] = time.thread_time() - t0
        time.sleep(0.005)


def parse_tags(s):
    tags = {}
    for kv in s.split(","):
        kv = kv.strip()
        if not kv:
            continue
        k, sep, v = kv.partition("=")
        if not sep or not k:
            sys.exit(f"push_sdk.py: tag {kv!r} is not k=v")
        tags[k.strip()] = v.strip()
    return tags


def rusage():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime, ru.ru_stime


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--server-address")
    ap.add_argument("--check", action="store_true", help="print the SDK's version and exit (3 when it is missing)")
    ap.add_argument("--app-name", default="pypush")
    ap.add_argument("--tags", default="")
    ap.add_argument("--upload-interval", type=int, default=1,
                    help="configure(upload_interval=...) in whole seconds (the SDK's default is 10)")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds before shutdown (0: until SIGTERM)")
    ap.add_argument("--report-every", type=float, default=1.0)
    ap.add_argument("--burn", type=float, default=0.2, help="seconds of CPU burn per workload round")
    ap.add_argument("--tenant-id", default="")
    ap.add_argument("--basic-auth", default="", help="USER:PASSWORD")
    ap.add_argument("--header", default="", help="extra HTTP header NAME:VALUE (http_headers)")
    ap.add_argument("--no-mem", action="store_true",
                    help="leave the SDK's memory profiler off (configure(mem_enabled=False))")
    ap.add_argument("--enable-logging", action="store_true", help="the SDK's own logging (to stderr)")
    args = ap.parse_args()
    tags = parse_tags(args.tags)

    try:
        import pyroscope
        from importlib.metadata import version
        sdk_version = version("pyroscope-io")
    except ImportError as e:
        # install.sh puts it beside the OTLP stubs: in integration/.venv when the system
        # python refuses pip (PEP 668).
        if os.path.exists(VENV_PY) and os.path.abspath(sys.prefix) != os.path.abspath(VENV_DIR):
            os.execv(VENV_PY, [VENV_PY, *sys.argv])
        print(f"push_sdk.py: pyroscope-io is not installed ({e}); run integration/install.sh", file=sys.stderr)
        sys.exit(3)
    if args.check:
        print(sdk_version)
        return
    if not args.server_address:
        ap.error("--server-address is required")

    user, _, password = args.basic_auth.partition(":")
    headers = {}
    if args.header:
        k, _, v = args.header.partition(":")
        headers[k.strip()] = v.strip()
    if args.enable_logging:
        import logging
        logging.basicConfig(level=logging.DEBUG)
    u0, s0 = rusage()
    t0 = time.monotonic()
    pyroscope.configure(
        application_name=args.app_name,
        server_address=args.server_address,
        tags=tags,
        upload_interval=args.upload_interval,
        tenant_id=args.tenant_id,
        basic_auth_username=user,
        basic_auth_password=password,
        http_headers=headers,
        enable_logging=args.enable_logging,
        mem_enabled=not args.no_mem,
    )

    def report(event):
        u, s = rusage()
        sys.stdout.write(json.dumps({
            "event": event, "sdk": "pyroscope-io", "sdk_version": sdk_version, "pid": os.getpid(),
            "app_name": args.app_name, "tags": tags, "mem_enabled": not args.no_mem,
            "upload_interval_s": args.upload_interval,
            "unix_nano": time.time_ns(),
            "cpu_user_s": u, "cpu_sys_s": s, "cpu_s": u + s,
            "cpu_s_since_start": (u + s) - (u0 + s0),
            "wall_s_since_start": time.monotonic() - t0,
            "workload_cpu_s": _workload_cpu[0],
        }) + "\n")
        sys.stdout.flush()

    report("start")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    work_stop = threading.Event()
    worker = threading.Thread(target=workload_loop, args=(work_stop, args.burn), name="workload", daemon=True)
    worker.start()
    deadline = t0 + args.duration if args.duration > 0 else None
    next_tick = time.monotonic() + args.report_every
    while not stop.is_set():
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            break
        if args.report_every > 0 and now >= next_tick:
            report("tick")
            next_tick += args.report_every
        stop.wait(0.05)
    work_stop.set()
    worker.join(5)
    pyroscope.shutdown()
    report("exit")


if __name__ == "__main__":
    main()
