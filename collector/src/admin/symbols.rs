//! Function names for profcol's own profiles, from the ELF symbol tables of
//! the loaded objects (the profcol binary and its shared libraries), not from
//! DWARF: `backtrace`'s DWARF reader loaded and kept the debug info of the
//! whole binary (~100 MB of RSS for profcol's release build; BENCHMARKS.md,
//! "First run: self-profiling cost").
//!
//! Per request, only the objects that contain an address not seen before are
//! opened; their `.symtab`/`.dynsym` are read through [`object::ReadCache`]
//! (only those sections, ~1.5 MB for profcol, freed when the request is
//! done), only the names of the functions hit are read and demangled, and
//! each resolved address is kept in a bounded cache ([`CACHE_MAX`] entries,
//! emptied when full). The price: no inlined
//! frames and no file or line numbers, only the out-of-line function that
//! contains each address.
//!
//! [`allocator_frames`] tells how many leaf frames of a heap stack belong to
//! the allocator (jemalloc's sampling and allocation paths, the C `malloc`
//! family, Rust's allocator shims); the heap profile drops them so that
//! each stack ends in the code that asked for the memory.

use object::{Object, ObjectSymbol, ObjectSymbolTable};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The most resolved addresses kept between requests.
pub const CACHE_MAX: usize = 65_536;

/// Resolved addresses (runtime address → demangled name, without the hash).
static CACHE: Mutex<Option<HashMap<usize, Arc<str>>>> = Mutex::new(None);

/// The name for an address nothing resolves.
fn unknown(addr: usize) -> Arc<str> {
    Arc::from(format!("{addr:#x}"))
}

/// Names for `addrs` (runtime addresses of code: a sampled instruction or a
/// return address; return addresses are looked up one byte earlier by the
/// caller, see [`lookup_address`]). Every address gets a name; one that no
/// symbol covers is named by its hex value.
pub fn resolve(addrs: impl IntoIterator<Item = usize>) -> HashMap<usize, Arc<str>> {
    let mut out = HashMap::new();
    let mut missing = Vec::new();
    {
        let cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        for a in addrs {
            if out.contains_key(&a) {
                continue;
            }
            match cache.as_ref().and_then(|c| c.get(&a)) {
                Some(n) => {
                    out.insert(a, n.clone());
                }
                None => missing.push(a),
            }
        }
    }
    missing.sort_unstable();
    missing.dedup();
    if missing.is_empty() {
        return out;
    }
    let resolved = resolve_uncached(&missing);
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    let cache = cache.get_or_insert_with(HashMap::new);
    if cache.len() + resolved.len() > CACHE_MAX {
        cache.clear();
    }
    for (a, n) in resolved {
        cache.insert(a, n.clone());
        out.insert(a, n);
    }
    out
}

/// The address to look a frame up at: a return address (every frame but
/// the sampled leaf) points after the call, possibly already into the next
/// function, so it is looked up one byte earlier, as debuggers do.
pub fn lookup_address(addr: usize, is_leaf: bool) -> usize {
    if is_leaf {
        addr
    } else {
        addr.saturating_sub(1)
    }
}

/// Groups the addresses by loaded object and reads each object's symbols once.
fn resolve_uncached(addrs: &[usize]) -> Vec<(usize, Arc<str>)> {
    let mut by_object: BTreeMap<PathBuf, Vec<(usize, u64)>> = BTreeMap::new();
    let mut out = Vec::with_capacity(addrs.len());
    for &a in addrs {
        match object_of(a) {
            Some((path, file_address)) => {
                by_object.entry(path).or_default().push((a, file_address))
            }
            None => out.push((a, unknown(a))),
        }
    }
    for (path, wanted) in by_object {
        let file_addresses: Vec<u64> = wanted.iter().map(|&(_, fa)| fa).collect();
        match names_in(&path, &file_addresses) {
            Ok(names) => out.extend(
                wanted
                    .iter()
                    .zip(names)
                    .map(|(&(a, _), n)| (a, n.map_or_else(|| unknown(a), Arc::from))),
            ),
            Err(e) => {
                tracing::debug!(object = %path.display(), error = %e, "Cannot read symbols.");
                out.extend(wanted.iter().map(|&(a, _)| (a, unknown(a))));
            }
        }
    }
    out
}

/// The loaded object containing `addr` and the address inside its file's
/// virtual address space.
#[cfg(target_os = "linux")]
fn object_of(addr: usize) -> Option<(PathBuf, u64)> {
    let mappings = mappings::MAPPINGS.as_ref()?;
    let m = mappings
        .iter()
        .find(|m| (m.memory_start..m.memory_end).contains(&addr))?;
    let file_address = addr
        .wrapping_sub(m.memory_start)
        .wrapping_add(m.memory_offset);
    let path = if m.pathname.as_os_str().is_empty() {
        PathBuf::from("/proc/self/exe")
    } else {
        m.pathname.clone()
    };
    Some((path, file_address as u64))
}

#[cfg(not(target_os = "linux"))]
fn object_of(_addr: usize) -> Option<(PathBuf, u64)> {
    None
}

/// The demangled names of the functions containing `file_addresses` in the
/// object file at `path`, from its static and dynamic symbol tables. Only
/// the symbol tables are read (through a [`object::ReadCache`], freed on
/// return), and only the names of the functions hit.
fn names_in(path: &Path, file_addresses: &[u64]) -> Result<Vec<Option<String>>, String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let cache = object::ReadCache::new(file);
    let obj = object::File::parse(&cache).map_err(|e| e.to_string())?;
    let mut names: Vec<Option<String>> = vec![None; file_addresses.len()];
    for table in [obj.symbol_table(), obj.dynamic_symbol_table()]
        .into_iter()
        .flatten()
    {
        // (start, end, index), sorted by start; sized symbols first.
        let mut functions: Vec<(u64, u64, object::SymbolIndex)> = table
            .symbols()
            .filter(|s| s.kind() == object::SymbolKind::Text && s.address() != 0)
            .map(|s| {
                let end = match s.size() {
                    0 => u64::MAX,
                    n => s.address().saturating_add(n),
                };
                (s.address(), end, s.index())
            })
            .collect();
        functions.sort_by_key(|&(start, end, _)| (start, end == u64::MAX));
        functions.dedup_by_key(|f| f.0);
        for (address, name) in file_addresses.iter().zip(names.iter_mut()) {
            if name.is_some() {
                continue;
            }
            if let Some(index) = containing(&functions, *address) {
                *name = table
                    .symbol_by_index(index)
                    .ok()
                    .and_then(|s| s.name().ok().map(demangle));
            }
        }
    }
    Ok(names)
}

/// The symbol whose `[start, end)` holds `address`, ended early by the next
/// symbol (a size-0 symbol reaches up to the next one).
fn containing(
    functions: &[(u64, u64, object::SymbolIndex)],
    address: u64,
) -> Option<object::SymbolIndex> {
    let i = functions.partition_point(|f| f.0 <= address);
    let &(start, end, index) = functions.get(i.checked_sub(1)?)?;
    let next = functions.get(i).map_or(u64::MAX, |f| f.0);
    (address >= start && address < end.min(next)).then_some(index)
}

/// Rust names demangled without the hash suffix; C names as they are.
pub fn demangle(name: &str) -> String {
    format!("{:#}", rustc_demangle::demangle(name))
}

/// Allocator function names, matched exactly.
const ALLOCATOR_NAMES: &[&str] = &[
    "malloc",
    "calloc",
    "realloc",
    "free",
    "posix_memalign",
    "aligned_alloc",
    "memalign",
    "valloc",
    "mallocx",
    "rallocx",
    "xallocx",
    "do_rallocx",
    "sdallocx",
    "__rust_alloc",
    "__rust_alloc_zeroed",
    "__rust_realloc",
    "__rust_dealloc",
];

/// Allocator function name prefixes: jemalloc's internals (its public
/// functions are `_rjem_`-prefixed in this build; sampling is `prof_*`, the
/// allocation paths `imalloc*`, `ialloc*`, `irallocx*`, `iralloc*`, …),
/// Rust's allocator shims and the jemalloc global allocator glue.
const ALLOCATOR_PREFIXES: &[&str] = &[
    "_rjem_",
    "je_",
    "prof_",
    "imalloc",
    "ialloc",
    "iralloc",
    "irallocx",
    "ixalloc",
    "arena_",
    "tcache_",
    "malloc_default",
    "__rg_",
    "__rdl_",
    "tikv_jemallocator::",
    "<tikv_jemallocator::Jemalloc as core::alloc::global::GlobalAlloc>",
];

/// Whether `name` is an allocator-internal function (see [`ALLOCATOR_NAMES`]
/// and [`ALLOCATOR_PREFIXES`]).
pub fn is_allocator_frame(name: &str) -> bool {
    ALLOCATOR_NAMES.contains(&name) || ALLOCATOR_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// How many frames at the leaf end of `leaf_first` are the allocator's: the
/// leading run of [`is_allocator_frame`] names. A stack made only of such
/// frames keeps its last (outermost) one, so that no sample loses its stack.
pub fn allocator_frames<S: AsRef<str>>(leaf_first: &[S]) -> usize {
    let n = leaf_first
        .iter()
        .take_while(|f| is_allocator_frame(f.as_ref()))
        .count();
    n.min(leaf_first.len().saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jemalloc_sampling_frames_are_trimmed_up_to_the_caller() {
        let stack = [
            "prof_backtrace_impl",
            "_rjem_je_prof_backtrace",
            "_rjem_je_prof_tctx_create",
            "prof_alloc_prep",
            "imalloc_body",
            "imalloc",
            "_rjem_je_malloc_default",
            "__rust_alloc",
            "alloc::alloc::alloc",
            "profcol::admin::pprof_heap::handler",
        ];
        assert_eq!(allocator_frames(&stack), 8);
        assert_eq!(stack[allocator_frames(&stack)], "alloc::alloc::alloc");
        let realloc = [
            "prof_backtrace_impl",
            "je_prof_backtrace",
            "prof_alloc_prep",
            "irallocx_prof",
            "do_rallocx",
            "realloc",
            "<tikv_jemallocator::Jemalloc as core::alloc::global::GlobalAlloc>::realloc",
            "alloc::raw_vec::finish_grow",
        ];
        assert_eq!(
            realloc[allocator_frames(&realloc)],
            "alloc::raw_vec::finish_grow"
        );
        let calloc = [
            "prof_backtrace_impl",
            "imalloc",
            "calloc",
            "__rdl_alloc_zeroed",
            "main",
        ];
        assert_eq!(allocator_frames(&calloc), 4);
    }

    #[test]
    fn other_stacks_are_kept_whole() {
        assert_eq!(
            allocator_frames(&["profcol::main", "std::rt::lang_start"]),
            0
        );
        assert_eq!(allocator_frames::<&str>(&[]), 0);
        // Only allocator frames: the outermost stays.
        assert_eq!(allocator_frames(&["prof_backtrace_impl", "malloc"]), 1);
        // A name that merely contains an allocator word is not the allocator.
        assert!(!is_allocator_frame("profcol::admin::malloc_stats"));
        assert!(!is_allocator_frame("alloc::raw_vec::finish_grow"));
        assert!(!is_allocator_frame("mallocate"));
    }

    #[test]
    fn resolves_a_function_of_this_binary() {
        let addr = resolves_a_function_of_this_binary as fn() as usize;
        let names = resolve([addr]);
        let name = names.get(&addr).map(|n| n.to_string()).unwrap_or_default();
        if cfg!(target_os = "linux") {
            assert!(
                name.ends_with("resolves_a_function_of_this_binary"),
                "{name}"
            );
            // Cached afterwards.
            let again = resolve([addr]);
            assert_eq!(again.get(&addr).map(|n| n.to_string()), Some(name));
        }
    }

    #[test]
    fn an_address_outside_every_object_is_named_by_its_value() {
        let names = resolve([1usize]);
        assert_eq!(names.get(&1).map(|n| n.to_string()).as_deref(), Some("0x1"));
    }

    #[test]
    fn demangles_rust_without_the_hash() {
        assert_eq!(
            demangle("_ZN7profcol4main17h0123456789abcdefE"),
            "profcol::main"
        );
        assert_eq!(demangle("malloc"), "malloc");
    }
}
