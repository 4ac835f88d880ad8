//! Synthetic Go-like pprof profiles for the five default endpoints.
//!
//! A shared pool of functions (Go package paths, `(*T).Method` names,
//! GOROOT / module-cache file names) is wired into a call graph; stacks are
//! random walks from a few roots (`runtime.goexit`, `runtime.main`), so
//! prefixes repeat as they do in a real service. Each profile kind draws its
//! own set of distinct stacks and builds a handful of variants:
//!
//! - cumulative kinds (allocs, block, mutex) get a *sequence*: variant k is
//!   variant k-1 plus a random increment on a random subset of stacks, so a
//!   target served variants in order grows monotonically and profcol's delta
//!   logic sees real, non-zero deltas;
//! - instantaneous kinds (CPU, goroutine) get independent variants.

use profcol_pdata::pprof;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;

/// The five endpoints profcol's `pyroscope_scrape` scrapes by default.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Allocs,
    Block,
    Goroutine,
    Mutex,
    Cpu,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Allocs,
        Kind::Block,
        Kind::Goroutine,
        Kind::Mutex,
        Kind::Cpu,
    ];

    /// Index in [`Kind::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The URL path Go's net/http/pprof serves it on.
    pub fn path(self) -> &'static str {
        match self {
            Kind::Allocs => "/debug/pprof/allocs",
            Kind::Block => "/debug/pprof/block",
            Kind::Goroutine => "/debug/pprof/goroutine",
            Kind::Mutex => "/debug/pprof/mutex",
            Kind::Cpu => "/debug/pprof/profile",
        }
    }

    /// Short name used in reports and dump file names.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Allocs => "allocs",
            Kind::Block => "block",
            Kind::Goroutine => "goroutine",
            Kind::Mutex => "mutex",
            Kind::Cpu => "cpu",
        }
    }

    pub fn from_path(path: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.path() == path)
    }

    /// Whether Go serves it as a since-start total (profcol computes deltas).
    pub fn cumulative(self) -> bool {
        matches!(self, Kind::Allocs | Kind::Block | Kind::Mutex)
    }
}

/// How big each kind's profiles are, in distinct stacks.
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    pub functions: usize,
    pub cpu: usize,
    pub allocs: usize,
    pub goroutine: usize,
    pub block: usize,
    pub mutex: usize,
}

impl Sizes {
    fn stacks(&self, k: Kind) -> usize {
        match k {
            Kind::Allocs => self.allocs,
            Kind::Block => self.block,
            Kind::Goroutine => self.goroutine,
            Kind::Mutex => self.mutex,
            Kind::Cpu => self.cpu,
        }
    }
}

const STD_PKGS: &[&str] = &[
    "net/http",
    "net",
    "bufio",
    "crypto/tls",
    "compress/gzip",
    "encoding/json",
    "sync",
    "io",
    "os",
    "syscall",
    "time",
    "context",
    "strings",
    "bytes",
    "reflect",
    "sort",
    "fmt",
    "database/sql",
    "internal/poll",
];
const MOD_PKGS: &[&str] = &[
    "github.com/acme/shop/internal/cart",
    "github.com/acme/shop/internal/catalog",
    "github.com/acme/shop/internal/payments",
    "github.com/acme/shop/pkg/httpapi",
    "google.golang.org/grpc",
    "google.golang.org/grpc/internal/transport",
    "google.golang.org/protobuf/proto",
    "github.com/jackc/pgx/v5/pgconn",
    "github.com/redis/go-redis/v9",
    "github.com/prometheus/client_golang/prometheus",
    "go.opentelemetry.io/otel/sdk/trace",
    "github.com/klauspost/compress/zstd",
    "golang.org/x/net/http2",
];
const TYPES: &[&str] = &[
    "Server", "conn", "Client", "Decoder", "Encoder", "Pool", "Handler", "Tx", "Reader", "Writer",
    "Service", "Store", "Cache", "Conn", "Stream", "Registry", "Span",
];
const METHODS: &[&str] = &[
    "Serve",
    "serve",
    "handle",
    "readRequest",
    "Write",
    "Read",
    "decode",
    "encode",
    "Do",
    "Lock",
    "Unlock",
    "Get",
    "Put",
    "Exec",
    "Query",
    "Flush",
    "process",
    "run",
    "loop",
    "dispatch",
    "marshal",
    "unmarshal",
    "Observe",
    "End",
    "fill",
    "grow",
];
/// Leaf frames that dominate real Go profiles.
const RUNTIME_LEAVES: &[&str] = &[
    "runtime.mallocgc",
    "runtime.memmove",
    "runtime.mapaccess2_faststr",
    "runtime.futex",
    "runtime.usleep",
    "runtime.scanobject",
    "runtime.gcDrain",
    "syscall.Syscall",
    "runtime.selectgo",
    "runtime.chanrecv",
    "runtime.gopark",
    "sync.(*Mutex).lockSlow",
    "runtime.newobject",
    "runtime.makeslice",
    "runtime.growslice",
    "internal/poll.runtime_pollWait",
];

/// A function in the pool: name and file index into the string table.
struct Func {
    name: String,
    file: String,
    start_line: i64,
}

/// The function pool and its call graph, shared by all kinds.
pub struct Program {
    funcs: Vec<Func>,
    callees: Vec<Vec<usize>>,
    roots: Vec<usize>,
    leaves: Vec<usize>,
}

impl Program {
    pub fn new(rng: &mut StdRng, functions: usize) -> Program {
        let mut funcs = Vec::with_capacity(functions + 32);
        let mut seen = HashMap::new();
        for root in [
            "runtime.goexit",
            "runtime.main",
            "main.main",
            "net/http.(*conn).serve",
            "net/http.(*Server).Serve",
            "google.golang.org/grpc.(*Server).serveStreams.func1.1",
        ] {
            seen.insert(root.to_string(), funcs.len());
            funcs.push(Func {
                name: root.to_string(),
                file: file_for(root),
                start_line: rng.random_range(20..2000),
            });
        }
        let mut leaves = Vec::new();
        for leaf in RUNTIME_LEAVES {
            seen.insert(leaf.to_string(), funcs.len());
            leaves.push(funcs.len());
            funcs.push(Func {
                name: leaf.to_string(),
                file: file_for(leaf),
                start_line: rng.random_range(20..2000),
            });
        }
        let mut attempts = 0;
        while funcs.len() < functions.max(funcs.len() + 1) && attempts < functions * 20 {
            attempts += 1;
            let pkg = if rng.random_bool(0.45) {
                STD_PKGS[rng.random_range(0..STD_PKGS.len())]
            } else {
                MOD_PKGS[rng.random_range(0..MOD_PKGS.len())]
            };
            let method = METHODS[rng.random_range(0..METHODS.len())];
            let name = match rng.random_range(0..4) {
                0 => format!("{pkg}.{method}"),
                1 => format!(
                    "{pkg}.(*{}).{method}.func{}",
                    TYPES[rng.random_range(0..TYPES.len())],
                    rng.random_range(1..4)
                ),
                _ => format!(
                    "{pkg}.(*{}).{method}",
                    TYPES[rng.random_range(0..TYPES.len())]
                ),
            };
            let name = if seen.contains_key(&name) {
                format!("{name}{}", funcs.len())
            } else {
                name
            };
            seen.insert(name.clone(), funcs.len());
            funcs.push(Func {
                file: file_for(&name),
                name,
                start_line: rng.random_range(20..3000),
            });
        }
        // Functions only call "deeper" ones (higher index), which keeps the
        // graph acyclic and the stacks tree-like.
        let n = funcs.len();
        let first_inner = 6 + RUNTIME_LEAVES.len();
        let mut callees = vec![Vec::new(); n];
        for (i, c) in callees.iter_mut().enumerate() {
            if (6..first_inner).contains(&i) {
                continue;
            }
            let lo = if i < 6 { first_inner } else { i + 1 };
            if lo >= n {
                continue;
            }
            let fanout = rng.random_range(2..7);
            for _ in 0..fanout {
                c.push(rng.random_range(lo..n.min(lo + 60)));
            }
        }
        Program {
            funcs,
            callees,
            roots: (0..6).collect(),
            leaves,
        }
    }

    /// One stack as (function, call line) pairs, root first.
    fn walk(&self, rng: &mut StdRng, max_depth: usize) -> Vec<(usize, i64)> {
        let mut stack = Vec::new();
        let mut f = self.roots[rng.random_range(0..self.roots.len())];
        // Go stacks almost always start at runtime.goexit.
        if f != 0 && rng.random_bool(0.8) {
            stack.push((0, 1700));
        }
        let depth = rng.random_range(6..max_depth.max(7));
        while stack.len() < depth {
            let next = &self.callees[f];
            if next.is_empty() {
                stack.push((f, self.funcs[f].start_line + 2));
                break;
            }
            // One call site per (caller, callee) edge, as in real code.
            // Skewed towards the first callee: hot paths dominate, and
            // stacks share long prefixes as in a real service.
            let j = if rng.random_bool(0.7) {
                0
            } else {
                rng.random_range(0..next.len())
            };
            stack.push((f, self.funcs[f].start_line + 3 * (j as i64 + 1)));
            f = next[j];
        }
        if rng.random_bool(0.7) {
            let leaf = self.leaves[rng.random_range(0..self.leaves.len())];
            stack.push((leaf, self.funcs[leaf].start_line + 7));
        }
        stack
    }
}

fn file_for(name: &str) -> String {
    // A Go symbol is `import/path.Rest`: the package ends at the first dot
    // after the last slash.
    let slash = name.rfind('/').map(|i| i + 1).unwrap_or(0);
    let dot = name[slash..]
        .find('.')
        .map(|i| slash + i)
        .unwrap_or(name.len());
    let pkg = &name[..dot];
    let base = &name[slash..dot];
    if let Some(rest) = pkg.strip_prefix("github.com/acme/shop/") {
        format!("/src/shop/{rest}/{base}.go")
    } else if pkg.contains('.') {
        format!("/root/go/pkg/mod/{pkg}@v1.4.2/{base}.go")
    } else {
        format!("/usr/local/go/src/{pkg}/{base}.go")
    }
}

/// Builds one pprof profile: string table, one mapping, locations and
/// functions for the stacks used, and one sample per stack.
struct Builder<'a> {
    program: &'a Program,
    strings: Vec<String>,
    string_ix: HashMap<String, i64>,
    locations: Vec<pprof::Location>,
    location_ix: HashMap<(usize, i64), u64>,
    functions: Vec<pprof::Function>,
    function_ix: HashMap<usize, u64>,
}

impl<'a> Builder<'a> {
    fn new(program: &'a Program) -> Self {
        let mut b = Builder {
            program,
            strings: Vec::new(),
            string_ix: HashMap::new(),
            locations: Vec::new(),
            location_ix: HashMap::new(),
            functions: Vec::new(),
            function_ix: HashMap::new(),
        };
        b.s("");
        b
    }

    fn s(&mut self, v: &str) -> i64 {
        if let Some(&i) = self.string_ix.get(v) {
            return i;
        }
        let i = self.strings.len() as i64;
        self.strings.push(v.to_string());
        self.string_ix.insert(v.to_string(), i);
        i
    }

    fn vt(&mut self, t: &str, u: &str) -> pprof::ValueType {
        pprof::ValueType {
            r#type: self.s(t),
            unit: self.s(u),
        }
    }

    fn function(&mut self, f: usize) -> u64 {
        if let Some(&id) = self.function_ix.get(&f) {
            return id;
        }
        let func = &self.program.funcs[f];
        let (name, file, start) = (func.name.clone(), func.file.clone(), func.start_line);
        let name = self.s(&name);
        let filename = self.s(&file);
        let id = self.functions.len() as u64 + 1;
        self.functions.push(pprof::Function {
            id,
            name,
            system_name: name,
            filename,
            start_line: start,
        });
        self.function_ix.insert(f, id);
        id
    }

    /// Location ids for a root-first stack, returned leaf first as pprof wants.
    fn stack(&mut self, frames: &[(usize, i64)]) -> Vec<u64> {
        let mut ids = Vec::with_capacity(frames.len());
        for &(f, line) in frames.iter().rev() {
            if let Some(&id) = self.location_ix.get(&(f, line)) {
                ids.push(id);
                continue;
            }
            let function_id = self.function(f);
            let id = self.locations.len() as u64 + 1;
            let address = 0x40_0000 + (f as u64) * 0x400 + (line as u64 % 0x400);
            self.locations.push(pprof::Location {
                id,
                mapping_id: 1,
                address,
                line: vec![pprof::Line {
                    function_id,
                    line,
                    column: 0,
                }],
                is_folded: false,
            });
            self.location_ix.insert((f, line), id);
            ids.push(id);
        }
        ids
    }

    fn finish(mut self, mut p: pprof::Profile) -> pprof::Profile {
        let file = self.s("/app/shop-server");
        let build_id = self.s("5c1a7b3e9f00d2a4b6c8e0f1a2b3c4d5e6f7a8b9");
        p.mapping = vec![pprof::Mapping {
            id: 1,
            memory_start: 0x40_0000,
            memory_limit: 0x40_0000 + (self.program.funcs.len() as u64 + 1) * 0x400,
            file_offset: 0,
            filename: file,
            build_id,
            has_functions: true,
            has_filenames: true,
            has_line_numbers: true,
            has_inline_frames: true,
        }];
        p.location = self.locations;
        p.function = self.functions;
        p.string_table = self.strings;
        p
    }
}

/// Per-stack state of one kind: the frames and, for allocs, the object size.
struct StackSet {
    stacks: Vec<Vec<(usize, i64)>>,
    sizes: Vec<i64>,
}

fn stack_set(program: &Program, rng: &mut StdRng, n: usize, max_depth: usize) -> StackSet {
    let mut seen = std::collections::HashSet::new();
    let mut stacks = Vec::with_capacity(n);
    let mut tries = 0;
    while stacks.len() < n && tries < n * 50 {
        tries += 1;
        let s = program.walk(rng, max_depth);
        if seen.insert(s.clone()) {
            stacks.push(s);
        }
    }
    let sizes = stacks
        .iter()
        .map(|_| [16, 32, 48, 64, 128, 256, 512, 1024, 4096, 32768][rng.random_range(0..10)])
        .collect();
    StackSet { stacks, sizes }
}

/// Values of one sample per stack; `cumulative` accumulates over variants.
fn encode_kind(
    program: &Program,
    kind: Kind,
    set: &StackSet,
    values: &[Vec<i64>],
    now_nanos: i64,
) -> pprof::Profile {
    let mut b = Builder::new(program);
    let (sample_type, period_type, period, duration) = match kind {
        Kind::Cpu => (
            vec![b.vt("samples", "count"), b.vt("cpu", "nanoseconds")],
            b.vt("cpu", "nanoseconds"),
            10_000_000,
            14_000_000_000,
        ),
        Kind::Allocs => (
            vec![
                b.vt("alloc_objects", "count"),
                b.vt("alloc_space", "bytes"),
                b.vt("inuse_objects", "count"),
                b.vt("inuse_space", "bytes"),
            ],
            b.vt("space", "bytes"),
            524_288,
            0,
        ),
        Kind::Block | Kind::Mutex => (
            vec![b.vt("contentions", "count"), b.vt("delay", "nanoseconds")],
            b.vt("contentions", "count"),
            1,
            0,
        ),
        Kind::Goroutine => (
            vec![b.vt("goroutine", "count")],
            b.vt("goroutine", "count"),
            1,
            0,
        ),
    };
    let bytes_key = b.s("bytes");
    let mut samples = Vec::with_capacity(set.stacks.len());
    for (i, frames) in set.stacks.iter().enumerate() {
        let location_id = b.stack(frames);
        let label = if kind == Kind::Allocs {
            vec![pprof::Label {
                key: bytes_key,
                str: 0,
                num: set.sizes[i],
                num_unit: 0,
            }]
        } else {
            Vec::new()
        };
        samples.push(pprof::Sample {
            location_id,
            value: values[i].clone(),
            label,
        });
    }
    let default_sample_type = if kind == Kind::Allocs {
        b.s("alloc_space")
    } else {
        0
    };
    let p = pprof::Profile {
        sample_type,
        sample: samples,
        time_nanos: now_nanos,
        duration_nanos: duration,
        period_type: Some(period_type),
        period,
        default_sample_type,
        ..Default::default()
    };
    b.finish(p)
}

/// Per-stack values for one instantaneous variant.
fn instant_values(kind: Kind, rng: &mut StdRng, n: usize) -> Vec<Vec<i64>> {
    (0..n)
        .map(|_| match kind {
            Kind::Cpu => {
                let c = skewed(rng, 60);
                vec![c, c * 10_000_000]
            }
            _ => vec![skewed(rng, 40)],
        })
        .collect()
}

/// A heavy-tailed positive count in 1..=max.
fn skewed(rng: &mut StdRng, max: i64) -> i64 {
    let u: f64 = rng.random_range(0.0..1.0);
    ((max as f64).powf(u * u)).round().max(1.0) as i64
}

/// Increment of one cumulative step; `base` is true for the first variant,
/// where every stack is present.
fn increment(kind: Kind, rng: &mut StdRng, size: i64, base: bool) -> Vec<i64> {
    if !base && !rng.random_bool(0.35) {
        return match kind {
            Kind::Allocs => vec![0, 0, 0, 0],
            _ => vec![0, 0],
        };
    }
    let mult = if base { 20 } else { 1 };
    match kind {
        Kind::Allocs => {
            let objs = skewed(rng, 200) * mult;
            let inuse = rng.random_range(0..=objs.min(50));
            vec![objs, objs * size, inuse, inuse * size]
        }
        _ => {
            let c = skewed(rng, 30) * mult;
            vec![c, c * rng.random_range(1_000..5_000_000)]
        }
    }
}

/// The variants of every kind, gzipped, plus their raw sizes for the report.
pub struct Corpus {
    /// `variants[kind.index()][v]`.
    pub variants: Vec<Vec<bytes::Bytes>>,
    pub samples: Vec<usize>,
}

/// Generates `instant` variants of CPU/goroutine and `steps` monotonically
/// growing variants of the cumulative kinds.
pub fn generate(seed: u64, sizes: Sizes, instant: usize, steps: usize) -> Corpus {
    let mut rng = StdRng::seed_from_u64(seed);
    let program = Program::new(&mut rng, sizes.functions);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0);
    let mut variants = Vec::new();
    let mut samples = Vec::new();
    for kind in Kind::ALL {
        let depth = if kind == Kind::Goroutine { 14 } else { 28 };
        let set = stack_set(&program, &mut rng, sizes.stacks(kind), depth);
        samples.push(set.stacks.len());
        let mut out = Vec::new();
        if kind.cumulative() {
            let mut acc: Vec<Vec<i64>> = set
                .sizes
                .iter()
                .map(|&sz| increment(kind, &mut rng, sz, true))
                .collect();
            for step in 0..steps.max(1) {
                if step > 0 {
                    for (i, v) in acc.iter_mut().enumerate() {
                        let inc = increment(kind, &mut rng, set.sizes[i], false);
                        for (j, x) in v.iter_mut().enumerate() {
                            // inuse_* are gauges: replace; everything else grows.
                            if kind == Kind::Allocs && j >= 2 {
                                if inc[0] > 0 {
                                    *x = inc[j];
                                }
                            } else {
                                *x += inc[j];
                            }
                        }
                    }
                }
                let p = encode_kind(&program, kind, &set, &acc, now);
                out.push(bytes::Bytes::from(profcol_pdata::pprof::encode_pprof_gzip(
                    &p,
                )));
            }
        } else {
            for _ in 0..instant.max(1) {
                let values = instant_values(kind, &mut rng, set.stacks.len());
                let p = encode_kind(&program, kind, &set, &values, now);
                out.push(bytes::Bytes::from(profcol_pdata::pprof::encode_pprof_gzip(
                    &p,
                )));
            }
        }
        variants.push(out);
    }
    Corpus { variants, samples }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use profcol_pdata::pprof::{decode_pprof, DecodeLimits};

    fn small() -> Sizes {
        Sizes {
            functions: 300,
            cpu: 200,
            allocs: 200,
            goroutine: 50,
            block: 80,
            mutex: 40,
        }
    }

    #[test]
    fn variants_decode_and_cumulative_kinds_grow() {
        let c = generate(7, small(), 3, 4);
        for kind in Kind::ALL {
            let vs = &c.variants[kind.index()];
            let expected = if kind.cumulative() { 4 } else { 3 };
            assert_eq!(vs.len(), expected, "{kind:?}");
            let decoded: Vec<pprof::Profile> = vs
                .iter()
                .map(|b| decode_pprof(b, &DecodeLimits::default()).unwrap())
                .collect();
            assert!(decoded[0].sample.len() >= 40, "{kind:?}");
            if kind.cumulative() {
                for w in decoded.windows(2) {
                    let mut grew = false;
                    for (a, b) in w[0].sample.iter().zip(&w[1].sample) {
                        assert!(b.value[0] >= a.value[0], "{kind:?} decreased");
                        grew |= b.value[0] > a.value[0];
                    }
                    assert!(grew, "{kind:?} has no delta between steps");
                }
            } else {
                assert_ne!(decoded[0].sample, decoded[1].sample, "{kind:?}");
            }
        }
    }

    #[test]
    fn stacks_are_go_like() {
        let c = generate(1, small(), 1, 1);
        let p = decode_pprof(&c.variants[Kind::Cpu.index()][0], &DecodeLimits::default()).unwrap();
        assert!(p.string_table.iter().any(|s| s == "runtime.goexit"));
        assert!(p.string_table.iter().any(|s| s.ends_with(".go")));
        let root_is_goexit = p
            .sample
            .iter()
            .filter(|s| {
                let root = *s.location_id.last().unwrap();
                let loc = &p.location[root as usize - 1];
                p.str(p.function[loc.line[0].function_id as usize - 1].name) == "runtime.goexit"
            })
            .count();
        assert!(root_is_goexit * 2 > p.sample.len());
    }
}
