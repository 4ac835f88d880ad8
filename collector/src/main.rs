//! The `profcol` binary: installs the allocator (jemalloc, with heap
//! profiling available for `/debug/pprof/heap`) and hands over to the CLI.

#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc reads its options from this symbol at start-up (`MALLOC_CONF`
/// in the environment overrides them): profiling is compiled in and
/// active, sampling one allocation per 512 KiB on average, cheap enough to
/// leave on. Two arenas instead of jemalloc's four per CPU: each arena
/// keeps its own freed pages for a while, and the blocking threads that
/// decode and encode profiles would spread their large buffers over all of
/// them (10 MiB less at 250 scale targets on 2 cores; BENCHMARKS.md, "One
/// ingest path"). Small allocations go through each thread's cache, and the
/// large ones are a few per profile, so two arenas are not contended.
/// (`percpu_arena` saves the same here, but jemalloc prints a warning at
/// every start wherever the CPU set is restricted, as in many containers.)
#[cfg(not(target_env = "msvc"))]
#[allow(non_upper_case_globals, unsafe_code)]
#[export_name = "malloc_conf"]
pub static malloc_conf: &[u8] = b"prof:true,prof_active:true,lg_prof_sample:19,narenas:2\0";

fn main() -> std::process::ExitCode {
    raise_nofile();
    profcol::cli::main()
}

/// Raises the soft descriptor limit to the hard one: each scrape target
/// holds one or two connections, and the usual soft default (1024) would cap
/// profcol at a few hundred targets. The effective limit is reported on
/// stderr only when it stays low (logging is not set up yet).
fn raise_nofile() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) if n < 4096 => {
            eprintln!("profcol: open-file limit is {n}; each scrape target needs 1-2 descriptors")
        }
        Ok(_) => {}
        Err(e) => eprintln!("profcol: cannot raise the open-file limit: {e}"),
    }
}
