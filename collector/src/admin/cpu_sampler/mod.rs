//! profcol's own CPU sampler (replaces pprof-rs, whose sample table kept
//! ~70 MB and whose profile start loaded the binary's DWARF; BENCHMARKS.md,
//! "First run: self-profiling cost").
//!
//! `setitimer(ITIMER_PROF)` makes the kernel send `SIGPROF` to the running
//! thread every 1/`hz` s of process CPU time; the handler ([`signal`])
//! writes the interrupted stack (raw addresses, leaf first, at most
//! [`ring::DEPTH`] frames) into a preallocated lock-free ring ([`ring`],
//! ~260 KiB); the profiling thread drains it every [`DRAIN_EVERY`] into a
//! map of stack → count. A sample interrupted in libc, the loader, libgcc,
//! pthread or the vDSO is not unwound ([`ranges`]) and keeps its
//! interrupted instruction alone. Samples lost to a full ring are counted
//! in [`Sampled::dropped`] (the CPU profile shows them as one
//! `[dropped samples]` frame). Nothing of it outlives the profile.
//!
//! Linux on x86_64 and aarch64 only; elsewhere [`profile`] fails with
//! [`ArmError::Unsupported`].

mod ranges;
mod ring;
mod signal;

pub use signal::ArmError;
use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

/// How often the profiling thread empties the ring.
pub const DRAIN_EVERY: Duration = Duration::from_millis(50);

/// The samples of one profile.
pub struct Sampled {
    /// Stacks of raw addresses (leaf first: the interrupted instruction,
    /// then return addresses) → samples.
    pub stacks: HashMap<Vec<usize>, u64>,
    /// Samples lost because the ring was full.
    pub dropped: u64,
    pub start: SystemTime,
    pub duration: Duration,
}

/// One profile at a time in this process (a second caller waits).
static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Samples the whole process for `duration` at `hz` on this thread (which
/// sleeps and drains the ring meanwhile).
pub fn profile(duration: Duration, hz: u32) -> Result<Sampled, ArmError> {
    sample(hz, |elapsed| duration.saturating_sub(elapsed))
}

/// Samples the whole process at `hz` on this thread until `stop` is set
/// (checked every [`DRAIN_EVERY`]): a profile of a whole run.
pub fn profile_until(stop: &std::sync::atomic::AtomicBool, hz: u32) -> Result<Sampled, ArmError> {
    sample(hz, |_| {
        if stop.load(std::sync::atomic::Ordering::Acquire) {
            Duration::ZERO
        } else {
            DRAIN_EVERY
        }
    })
}

/// Whether this platform has the sampler (Linux x86_64/aarch64).
pub fn supported() -> bool {
    signal::SUPPORTED
}

/// Samples until `left(elapsed)` is zero, sleeping at most that long (and
/// at most [`DRAIN_EVERY`]) between drains of the ring.
fn sample(hz: u32, left: impl Fn(Duration) -> Duration) -> Result<Sampled, ArmError> {
    if !signal::SUPPORTED {
        return Err(ArmError::Unsupported);
    }
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let shared = Box::new(signal::Shared {
        ring: ring::Ring::new(),
        unsafe_code: ranges::Ranges::of_this_process(),
    });
    let mut stacks = HashMap::new();
    let start = SystemTime::now();
    let began = Instant::now();
    let armed = signal::arm(shared, hz)?;
    loop {
        let left = left(began.elapsed());
        if left.is_zero() {
            break;
        }
        std::thread::sleep(left.min(DRAIN_EVERY));
        armed.shared().ring.drain(&mut stacks);
    }
    let shared = armed.disarm();
    let elapsed = began.elapsed();
    shared.ring.drain(&mut stacks);
    Ok(Sampled {
        stacks,
        dropped: shared.ring.dropped(),
        start,
        duration: elapsed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hint::black_box;

    /// Spins until `until`.
    #[inline(never)]
    fn profcol_sampler_test_busy_loop(until: Instant) -> u64 {
        let mut x = 0u64;
        while Instant::now() < until {
            for i in 0..1000u64 {
                x = black_box(x.wrapping_mul(31).wrapping_add(i));
            }
        }
        x
    }

    /// This thread's CPU time (the first field of its schedstat).
    fn thread_cpu_ns() -> Option<u64> {
        std::fs::read_to_string("/proc/thread-self/schedstat")
            .ok()?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    }

    #[test]
    fn a_busy_function_is_sampled_by_cpu_time() {
        if !signal::SUPPORTED {
            assert!(matches!(
                profile(Duration::from_millis(10), 100),
                Err(ArmError::Unsupported)
            ));
            return;
        }
        let busy = std::thread::spawn(|| {
            std::thread::sleep(Duration::from_millis(100));
            let before = thread_cpu_ns();
            black_box(profcol_sampler_test_busy_loop(
                Instant::now() + Duration::from_millis(1000),
            ));
            thread_cpu_ns().zip(before).map(|(a, b)| a - b)
        });
        let sampled = profile(Duration::from_millis(1300), 100).unwrap();
        let cpu_ns = busy.join().unwrap();
        assert_eq!(sampled.dropped, 0);
        let names = crate::admin::symbols::resolve(
            sampled
                .stacks
                .keys()
                .flat_map(|s| s.iter().enumerate())
                .map(|(i, &a)| crate::admin::symbols::lookup_address(a, i == 0)),
        );
        let in_busy: u64 = sampled
            .stacks
            .iter()
            .filter(|(stack, _)| {
                stack.iter().enumerate().any(|(i, &a)| {
                    names
                        .get(&crate::admin::symbols::lookup_address(a, i == 0))
                        .is_some_and(|n| n.contains("profcol_sampler_test_busy_loop"))
                })
            })
            .map(|(_, n)| n)
            .sum();
        // The walk starts at the interrupted frame: no sampler frame shows.
        assert!(
            !names
                .values()
                .any(|n| n.contains("on_sigprof") || n.contains("trace_unsynchronized")),
            "{names:?}"
        );
        eprintln!("{in_busy} samples in the busy loop, CPU time {cpu_ns:?} ns");
        // ≤ 1 s of CPU at 100 Hz is ≤ ~100 samples; one per 10 ms of the
        // loop's CPU time, with generous bounds (a shared machine).
        assert!(
            (10..=150).contains(&in_busy),
            "{in_busy} samples in the loop"
        );
        if let Some(ns) = cpu_ns {
            let expected = ns / 10_000_000;
            assert!(
                in_busy * 2 >= expected && in_busy <= expected * 2 + 10,
                "{in_busy} samples for {ns} ns of CPU"
            );
        }
    }
}
