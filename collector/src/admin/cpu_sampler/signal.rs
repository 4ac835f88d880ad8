//! The `SIGPROF` handler and the `ITIMER_PROF` timer.
//!
//! [`arm`] publishes the [`Shared`] state (ring and unsafe library ranges,
//! allocated beforehand), installs the handler and starts the timer;
//! [`Armed::disarm`] stops the timer, restores the previous handler, then
//! waits for handlers still running before it hands the state back. The
//! handler allocates nothing and takes no lock: it reads the interrupted
//! instruction from the `ucontext_t`, walks the stack with
//! `backtrace::trace_unsynchronized` (libgcc's unwinder, as pprof-rs does)
//! unless that instruction is in a library where unwinding is unsafe
//! ([`super::ranges`]), and writes the frames into a claimed ring slot.
#![allow(unsafe_code)]

use super::ranges::Ranges;
use super::ring::Ring;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};

/// What the handler reads while armed.
pub struct Shared {
    pub ring: Ring,
    pub unsafe_code: Ranges,
}

/// The state of the armed profile; null when none.
static ACTIVE: AtomicPtr<Shared> = AtomicPtr::new(std::ptr::null_mut());
/// Handlers running now (so that [`Armed::disarm`] frees nothing in use).
static IN_HANDLER: AtomicUsize = AtomicUsize::new(0);
/// Whether a profile is armed (one at a time per process).
static ARMED: AtomicBool = AtomicBool::new(false);

/// The interrupted instruction's address.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn interrupted_pc(ctx: *mut libc::c_void) -> usize {
    // SAFETY: the kernel passes a valid `ucontext_t` as the third argument of
    // an `SA_SIGINFO` handler; it lives on the signal stack for the whole
    // handler and is only read here.
    unsafe {
        (*(ctx as *const libc::ucontext_t)).uc_mcontext.gregs[libc::REG_RIP as usize] as usize
    }
}

#[cfg(all(target_os = "linux", target_arch = "aarch64"))]
fn interrupted_pc(ctx: *mut libc::c_void) -> usize {
    // SAFETY: as above: a valid `ucontext_t` from the kernel, only read.
    unsafe { (*(ctx as *const libc::ucontext_t)).uc_mcontext.pc as usize }
}

/// Whether this target has a sampler.
pub const SUPPORTED: bool = cfg!(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
));

#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
extern "C" fn on_sigprof(_: libc::c_int, _: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: `__errno_location` returns this thread's errno, valid for the
    // life of the thread; saved and restored so the interrupted code never
    // sees the handler's errno.
    let errno = unsafe { *libc::__errno_location() };
    IN_HANDLER.fetch_add(1, Ordering::SeqCst);
    let shared = ACTIVE.load(Ordering::SeqCst);
    if !shared.is_null() {
        // SAFETY: `ACTIVE` is non-null only between `arm` and `disarm`, and
        // `disarm` nulls it then waits for `IN_HANDLER` to reach 0 before it
        // frees the state: this handler counted itself before the load, so
        // the state outlives this use. It is only read (atomics inside).
        record(unsafe { &*shared }, interrupted_pc(ctx));
    }
    IN_HANDLER.fetch_sub(1, Ordering::SeqCst);
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = errno };
}

/// Writes one sample: the interrupted instruction, then its callers.
fn record(shared: &Shared, pc: usize) {
    let Some(mut slot) = shared.ring.claim() else {
        return;
    };
    slot.push(pc);
    if pc == 0 || shared.unsafe_code.contains(pc) {
        return;
    }
    // The walk starts in this handler; frames are kept from the interrupted
    // one (whose address is `pc`: the unwinder crosses the kernel's signal
    // frame) on. If it never shows up, the sample is the pc alone.
    let mut found = false;
    // SAFETY: `trace_unsynchronized` is unsafe because it does not serialize
    // with other unwinds; libgcc's unwinder is reentrant for concurrent
    // walks on different threads, and the walk is not started when the
    // interrupted thread was inside the unwinder, libc or the loader (the
    // unsafe ranges), whose locks it could hold. The callback allocates
    // nothing.
    unsafe {
        backtrace::trace_unsynchronized(|frame| {
            let ip = frame.ip() as usize;
            if !found {
                found = ip == pc;
                return true;
            }
            slot.push(ip)
        });
    }
}

/// A running profile; disarm it to get the state back.
pub struct Armed {
    shared: *mut Shared,
    previous: libc::sigaction,
}

#[derive(Debug, thiserror::Error)]
pub enum ArmError {
    #[error("CPU profiling is not available on this platform (Linux x86_64 or aarch64 only)")]
    Unsupported,
    #[error("a CPU profile is already running")]
    Busy,
    #[error("{0}: {1}")]
    Os(&'static str, std::io::Error),
}

/// Installs the handler and starts the timer at `hz` samples per second of
/// process CPU time.
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
pub fn arm(shared: Box<Shared>, hz: u32) -> Result<Armed, ArmError> {
    if ARMED
        .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
        .is_err()
    {
        return Err(ArmError::Busy);
    }
    let shared = Box::into_raw(shared);
    ACTIVE.store(shared, Ordering::SeqCst);
    // SAFETY: plain FFI on zero-initialized, fully owned C structs: a
    // `sigaction` (all-zero is a valid value) whose handler is a function
    // with the `SA_SIGINFO` signature; the previous action is written into
    // `previous`.
    let previous = unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigprof as *const () as usize;
        action.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        let mut previous: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(libc::SIGPROF, &action, &mut previous) != 0 {
            let e = std::io::Error::last_os_error();
            ACTIVE.store(std::ptr::null_mut(), Ordering::SeqCst);
            drop(Box::from_raw(shared));
            ARMED.store(false, Ordering::SeqCst);
            return Err(ArmError::Os("sigaction", e));
        }
        previous
    };
    let armed = Armed { shared, previous };
    let period_us = (1_000_000 / hz.clamp(1, 1000)) as libc::suseconds_t;
    if let Err(e) = set_timer(period_us) {
        drop(armed.disarm());
        return Err(ArmError::Os("setitimer", e));
    }
    Ok(armed)
}

#[cfg(not(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
pub fn arm(_: Box<Shared>, _: u32) -> Result<Armed, ArmError> {
    Err(ArmError::Unsupported)
}

/// Sets `ITIMER_PROF` to fire every `period_us` µs of process CPU time (0
/// stops it).
fn set_timer(period_us: libc::suseconds_t) -> std::io::Result<()> {
    let tv = libc::timeval {
        tv_sec: 0,
        tv_usec: period_us,
    };
    let timer = libc::itimerval {
        it_interval: tv,
        it_value: tv,
    };
    // SAFETY: FFI with a valid `itimerval` read by the kernel; the old value
    // is not asked for (null).
    if unsafe { libc::setitimer(libc::ITIMER_PROF, &timer, std::ptr::null_mut()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

impl Armed {
    /// The state the handler writes into.
    pub fn shared(&self) -> &Shared {
        // SAFETY: `shared` is the `Box` leaked by `arm`, freed only by
        // `disarm`, which takes `self`: it lives as long as this borrow.
        unsafe { &*self.shared }
    }

    /// Stops the timer, restores the previous `SIGPROF` action (`SIG_IGN`
    /// instead of `SIG_DFL`: a signal already pending would otherwise
    /// terminate the process), waits for running handlers and returns the
    /// state.
    pub fn disarm(self) -> Box<Shared> {
        let _ = set_timer(0);
        let mut restore = self.previous;
        if restore.sa_sigaction == libc::SIG_DFL {
            restore.sa_sigaction = libc::SIG_IGN;
        }
        // SAFETY: FFI with a `sigaction` previously returned by the kernel
        // (or that one set to ignore the signal).
        unsafe { libc::sigaction(libc::SIGPROF, &restore, std::ptr::null_mut()) };
        ACTIVE.store(std::ptr::null_mut(), Ordering::SeqCst);
        while IN_HANDLER.load(Ordering::SeqCst) != 0 {
            std::thread::yield_now();
        }
        // SAFETY: the pointer came from `Box::into_raw` in `arm`; no handler
        // can reach it any more (`ACTIVE` is null and none is running), and
        // `self` is consumed, so it is freed exactly once.
        let shared = unsafe { Box::from_raw(self.shared) };
        ARMED.store(false, Ordering::SeqCst);
        shared
    }
}
