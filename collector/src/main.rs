//! The `profcol` binary: installs the allocator (jemalloc, with heap
//! profiling available for `/debug/pprof/heap`) and hands over to the CLI.

#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc reads its options from this symbol at start-up: profiling is
/// compiled in and active, sampling one allocation per 512 KiB on average,
/// cheap enough to leave on.
#[cfg(not(target_env = "msvc"))]
#[allow(non_upper_case_globals, unsafe_code)]
#[export_name = "malloc_conf"]
pub static malloc_conf: &[u8] = b"prof:true,prof_active:true,lg_prof_sample:19\0";

fn main() -> std::process::ExitCode {
    profcol::cli::main()
}
