//! Small recordings written here, one rule each: a sleeping thread's
//! sample is not CPU, a wall recording counts every sample as wall time,
//! lock delays are converted from ticks, chunks are read on their own,
//! context ids become labels, and hostile metadata is refused.

use super::super::*;

fn varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn utf8(out: &mut Vec<u8>, s: &str) {
    out.push(3);
    varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// (name, type id, pooled, array).
type FieldSpec = (&'static str, u64, bool, bool);

const LONG: u64 = 1;
const INT: u64 = 2;
const STRING: u64 = 3;
const SYMBOL: u64 = 10;
const CLASS: u64 = 11;
const METHOD: u64 = 12;
const FRAME: u64 = 13;
const TRACE: u64 = 14;
const STATE: u64 = 15;
const EXECUTION: u64 = 100;
const MONITOR: u64 = 101;
const SETTING: u64 = 102;

fn classes() -> Vec<(u64, &'static str, Vec<FieldSpec>)> {
    vec![
        (LONG, "long", vec![]),
        (INT, "int", vec![]),
        (STRING, "java.lang.String", vec![]),
        (
            SYMBOL,
            "jdk.types.Symbol",
            vec![("string", STRING, false, false)],
        ),
        (
            CLASS,
            "java.lang.Class",
            vec![("name", SYMBOL, true, false)],
        ),
        (
            METHOD,
            "jdk.types.Method",
            vec![("type", CLASS, true, false), ("name", SYMBOL, true, false)],
        ),
        (
            FRAME,
            "jdk.types.StackFrame",
            vec![
                ("method", METHOD, true, false),
                ("lineNumber", INT, false, false),
            ],
        ),
        (
            TRACE,
            "jdk.types.StackTrace",
            vec![("frames", FRAME, false, true)],
        ),
        (
            STATE,
            "jdk.types.ThreadState",
            vec![("name", STRING, false, false)],
        ),
        (
            EXECUTION,
            "jdk.ExecutionSample",
            vec![
                ("startTime", LONG, false, false),
                ("stackTrace", TRACE, true, false),
                ("state", STATE, true, false),
                ("contextId", LONG, false, false),
            ],
        ),
        (
            MONITOR,
            "jdk.JavaMonitorEnter",
            vec![
                ("startTime", LONG, false, false),
                ("duration", LONG, false, false),
                ("stackTrace", TRACE, true, false),
            ],
        ),
        (
            SETTING,
            "jdk.ActiveSetting",
            vec![
                ("name", STRING, false, false),
                ("value", STRING, false, false),
            ],
        ),
    ]
}

/// The metadata event for `classes`.
fn metadata(classes: &[(u64, &'static str, Vec<FieldSpec>)]) -> Vec<u8> {
    let mut strings: Vec<String> = Vec::new();
    let mut s = |x: &str| -> u64 {
        if let Some(i) = strings.iter().position(|y| y == x) {
            return i as u64;
        }
        strings.push(x.to_string());
        strings.len() as u64 - 1
    };
    let mut tree = Vec::new();
    let element = |tree: &mut Vec<u8>, name: u64, attrs: &[(u64, u64)], children: u64| {
        varint(tree, name);
        varint(tree, attrs.len() as u64);
        for (k, v) in attrs {
            varint(tree, *k);
            varint(tree, *v);
        }
        varint(tree, children);
    };
    element(&mut tree, s("root"), &[], 1);
    element(&mut tree, s("metadata"), &[], classes.len() as u64);
    for (id, name, fields) in classes {
        let attrs = [(s("id"), s(&id.to_string())), (s("name"), s(name))];
        element(&mut tree, s("class"), &attrs, fields.len() as u64);
        for (fname, ty, pooled, array) in fields {
            let mut attrs = vec![(s("name"), s(fname)), (s("class"), s(&ty.to_string()))];
            if *pooled {
                attrs.push((s("constantPool"), s("true")));
            }
            if *array {
                attrs.push((s("dimension"), s("1")));
            }
            element(&mut tree, s("field"), &attrs, 0);
        }
    }
    let mut body = Vec::new();
    varint(&mut body, EVENT_METADATA);
    varint(&mut body, 0);
    varint(&mut body, 0);
    varint(&mut body, 1);
    varint(&mut body, strings.len() as u64);
    for x in &strings {
        utf8(&mut body, x);
    }
    body.extend_from_slice(&tree);
    sized(body)
}

/// An event with its size in front (a 4-byte padded LEB128, as the JDK
/// writes it, so the size does not change its own length).
fn sized(body: Vec<u8>) -> Vec<u8> {
    let n = body.len() + 4;
    let mut out = vec![
        (n & 0x7f) as u8 | 0x80,
        ((n >> 7) & 0x7f) as u8 | 0x80,
        ((n >> 14) & 0x7f) as u8 | 0x80,
        ((n >> 21) & 0x7f) as u8,
    ];
    out.extend(body);
    out
}

/// A recording's content: stacks of (class, method, line) frames, leaf
/// first, and its events.
#[derive(Default)]
struct Recording {
    stacks: Vec<Vec<(&'static str, &'static str, i64)>>,
    events: Vec<Vec<u8>>,
    ticks_per_second: u64,
    /// One more pool: its class, entry count and entries as written.
    extra_pool: Option<(u64, u64, Vec<u8>)>,
}

impl Recording {
    /// An execution sample on stack `stack` (1-based), thread state
    /// `state` (1 running, 2 sleeping), context `context`.
    fn sample(&mut self, stack: u64, state: u64, context: u64) -> &mut Self {
        let mut e = Vec::new();
        varint(&mut e, EXECUTION);
        varint(&mut e, 5);
        varint(&mut e, stack);
        varint(&mut e, state);
        varint(&mut e, context);
        self.events.push(sized(e));
        self
    }

    fn monitor(&mut self, stack: u64, duration_ticks: u64) -> &mut Self {
        let mut e = Vec::new();
        varint(&mut e, MONITOR);
        varint(&mut e, 5);
        varint(&mut e, duration_ticks);
        varint(&mut e, stack);
        self.events.push(sized(e));
        self
    }

    fn setting(&mut self, name: &str, value: &str) -> &mut Self {
        let mut e = Vec::new();
        varint(&mut e, SETTING);
        utf8(&mut e, name);
        utf8(&mut e, value);
        self.events.push(sized(e));
        self
    }

    /// The constant pool event: symbols, classes, methods, stacks and the
    /// two thread states.
    fn pools(&self) -> Vec<u8> {
        let mut symbols: Vec<&str> = Vec::new();
        let mut sym = |x: &'static str| -> u64 {
            if let Some(i) = symbols.iter().position(|y| *y == x) {
                return i as u64 + 1;
            }
            symbols.push(x);
            symbols.len() as u64
        };
        let mut methods: Vec<(u64, u64)> = Vec::new();
        let mut traces: Vec<Vec<(u64, i64)>> = Vec::new();
        for stack in &self.stacks {
            let mut frames = Vec::new();
            for (class, method, line) in stack {
                let m = (sym(class), sym(method));
                let id = match methods.iter().position(|x| *x == m) {
                    Some(i) => i as u64 + 1,
                    None => {
                        methods.push(m);
                        methods.len() as u64
                    }
                };
                frames.push((id, *line));
            }
            traces.push(frames);
        }
        let mut e = Vec::new();
        varint(&mut e, EVENT_CONSTANT_POOL);
        for _ in 0..3 {
            varint(&mut e, 0); // start, duration, delta
        }
        varint(&mut e, 1); // flush
        varint(&mut e, 5 + u64::from(self.extra_pool.is_some()));
        if let Some((class, count, entries)) = &self.extra_pool {
            varint(&mut e, *class);
            varint(&mut e, *count);
            e.extend_from_slice(entries);
        }
        varint(&mut e, SYMBOL);
        varint(&mut e, symbols.len() as u64);
        for (i, x) in symbols.iter().enumerate() {
            varint(&mut e, i as u64 + 1);
            utf8(&mut e, x);
        }
        // One class per symbol (a class's id is its name's symbol id).
        varint(&mut e, CLASS);
        varint(&mut e, symbols.len() as u64);
        for i in 0..symbols.len() as u64 {
            varint(&mut e, i + 1);
            varint(&mut e, i + 1);
        }
        varint(&mut e, METHOD);
        varint(&mut e, methods.len() as u64);
        for (i, (class, name)) in methods.iter().enumerate() {
            varint(&mut e, i as u64 + 1);
            varint(&mut e, *class);
            varint(&mut e, *name);
        }
        varint(&mut e, TRACE);
        varint(&mut e, traces.len() as u64);
        for (i, frames) in traces.iter().enumerate() {
            varint(&mut e, i as u64 + 1);
            varint(&mut e, frames.len() as u64);
            for (method, line) in frames {
                varint(&mut e, *method);
                varint(&mut e, *line as u32 as u64);
            }
        }
        varint(&mut e, STATE);
        varint(&mut e, 2);
        varint(&mut e, 1);
        utf8(&mut e, "STATE_RUNNABLE");
        varint(&mut e, 2);
        utf8(&mut e, "STATE_SLEEPING");
        sized(e)
    }

    fn chunk(&self) -> Vec<u8> {
        self.chunk_with(&metadata(&classes()))
    }

    fn chunk_with(&self, metadata: &[u8]) -> Vec<u8> {
        let mut body: Vec<u8> = self.events.concat();
        let pools_at = chunk::HEADER_BYTES + body.len();
        body.extend(self.pools());
        let metadata_at = chunk::HEADER_BYTES + body.len();
        body.extend_from_slice(metadata);
        let size = chunk::HEADER_BYTES + body.len();
        let mut out = Vec::with_capacity(size);
        out.extend_from_slice(&chunk::MAGIC);
        out.extend_from_slice(&2u16.to_be_bytes());
        out.extend_from_slice(&0u16.to_be_bytes());
        for v in [
            size as u64,
            pools_at as u64,
            metadata_at as u64,
            1_700_000_000_000_000_000,
            2_000_000_000,
            0,
            self.ticks_per_second.max(1),
        ] {
            out.extend_from_slice(&v.to_be_bytes());
        }
        out.extend_from_slice(&1u32.to_be_bytes());
        out.extend(body);
        out
    }
}

fn names_of(p: &Profile, s: &crate::pprof::Sample) -> Vec<String> {
    s.location_id
        .iter()
        .map(|l| {
            let loc = &p.location[*l as usize - 1];
            let f = &p.function[loc.line[0].function_id as usize - 1];
            format!("{}:{}", p.string_table[f.name as usize], loc.line[0].line)
        })
        .collect()
}

fn run(bytes: &[u8], labels: &LabelsSnapshot) -> JfrProfiles {
    let input = JfrInput {
        start_nanos: 10,
        end_nanos: 20,
        sample_rate: 50,
        ..Default::default()
    };
    to_pprof(bytes, labels, &input).unwrap()
}

fn two_stacks() -> Recording {
    Recording {
        stacks: vec![
            vec![("app/Work", "burn", 12), ("app/Main", "main", -1)],
            vec![("app/Work", "sleep", 30), ("app/Main", "main", 7)],
        ],
        ticks_per_second: 1_000_000_000,
        ..Default::default()
    }
}

#[test]
fn a_sleeping_threads_sample_is_not_cpu() {
    let mut r = two_stacks();
    r.sample(1, 1, 0).sample(1, 1, 0).sample(2, 2, 0);
    let out = run(&r.chunk(), &LabelsSnapshot::default());
    assert_eq!(out.profiles.len(), 1);
    let p = &out.profiles[0].profile;
    assert_eq!(out.profiles[0].metric(), "process_cpu");
    assert_eq!(p.sample.len(), 1, "the two running samples add up");
    assert_eq!(p.sample[0].value, [2 * 20_000_000]);
    assert_eq!(
        names_of(p, &p.sample[0]),
        ["app/Work.burn:12", "app/Main.main:0"]
    );
    assert_eq!(
        (p.time_nanos, p.duration_nanos, p.period),
        (10, 10, 20_000_000)
    );
}

#[test]
fn a_wall_recording_counts_every_sample_as_wall_time() {
    let mut r = two_stacks();
    // The setting comes after the samples it governs.
    r.sample(1, 1, 0).sample(2, 2, 0).setting("event", "wall");
    let out = run(&r.chunk(), &LabelsSnapshot::default());
    assert_eq!(out.event, "wall");
    let metrics: Vec<&str> = out.profiles.iter().map(|p| p.metric()).collect();
    assert_eq!(metrics, ["process_cpu", "wall"]);
    let wall = &out.profiles[1].profile;
    assert_eq!(total(wall), 2 * 20_000_000);
    assert_eq!(total(&out.profiles[0].profile), 20_000_000);
}

fn total(p: &Profile) -> i64 {
    p.sample
        .iter()
        .map(|s| s.value.last().copied().unwrap_or(0))
        .sum()
}

#[test]
fn lock_delays_are_converted_from_ticks() {
    let mut r = two_stacks();
    r.ticks_per_second = 1_000_000;
    r.monitor(1, 2_000).monitor(1, 500);
    let out = run(&r.chunk(), &LabelsSnapshot::default());
    let p = &out.profiles[0].profile;
    assert_eq!(out.profiles[0].metric(), "mutex");
    assert_eq!(p.sample[0].value, [2, 2_500_000]);
}

#[test]
fn chunks_are_read_on_their_own() {
    // Stack 1 is `burn` in the first chunk and `sleep` in the second.
    let mut first = two_stacks();
    first.sample(1, 1, 0);
    let mut second = two_stacks();
    second.stacks.swap(0, 1);
    second.sample(1, 1, 0).sample(2, 1, 0);
    let mut bytes = first.chunk();
    bytes.extend(second.chunk());
    let out = run(&bytes, &LabelsSnapshot::default());
    let p = &out.profiles[0].profile;
    let mut stacks: Vec<(Vec<String>, i64)> = p
        .sample
        .iter()
        .map(|s| (names_of(p, s), s.value[0]))
        .collect();
    stacks.sort();
    assert_eq!(
        stacks,
        [
            (
                vec!["app/Work.burn:12".into(), "app/Main.main:0".into()],
                40_000_000
            ),
            (
                vec!["app/Work.sleep:30".into(), "app/Main.main:7".into()],
                20_000_000
            ),
        ]
    );
}

#[test]
fn context_ids_become_sample_labels() {
    let mut r = two_stacks();
    r.sample(1, 1, 7)
        .sample(1, 1, 7)
        .sample(1, 1, 0)
        .sample(1, 1, 99);
    let labels = LabelsSnapshot {
        contexts: [(
            7,
            labels::Context {
                labels: [(1, 2), (3, 4)].into(),
            },
        )]
        .into(),
        strings: [
            (1, "handler".into()),
            (2, "/cart".into()),
            (3, "user".into()),
            (4, "ann".into()),
        ]
        .into(),
    };
    let out = run(&r.chunk(), &labels);
    let p = &out.profiles[0].profile;
    let mut got: Vec<(Vec<String>, i64)> = p
        .sample
        .iter()
        .map(|s| {
            let l = s
                .label
                .iter()
                .map(|l| {
                    format!(
                        "{}={}",
                        p.string_table[l.key as usize], p.string_table[l.str as usize]
                    )
                })
                .collect();
            (l, s.value[0])
        })
        .collect();
    got.sort();
    // Context 0 and an unknown context carry no labels.
    assert_eq!(
        got,
        [
            (vec![], 40_000_000),
            (vec!["handler=/cart".into(), "user=ann".into()], 40_000_000)
        ]
    );
}

fn hostile(
    extra_classes: Vec<(u64, &'static str, Vec<FieldSpec>)>,
    pool: (u64, u64, Vec<u8>),
) -> String {
    let mut all = classes();
    all.extend(extra_classes);
    let mut r = two_stacks();
    r.sample(1, 1, 0);
    r.extra_pool = Some(pool);
    let err = to_pprof(
        &r.chunk_with(&metadata(&all)),
        &LabelsSnapshot::default(),
        &JfrInput::default(),
    )
    .unwrap_err();
    err.problem
}

#[test]
fn a_class_that_holds_itself_is_refused() {
    // Without the nesting cap this would recurse until the stack overflows.
    let mut entry = Vec::new();
    varint(&mut entry, 1);
    entry.extend([0u8; 64]);
    let problem = hostile(
        vec![(200, "x.Loop", vec![("next", 200, false, false)])],
        (200, 1, entry),
    );
    assert_eq!(problem, "values nest too deep");
}

#[test]
fn empty_values_cannot_multiply() {
    // 2,000 entries, each an array of 3,000 values that take no bytes:
    // six million values out of ~10 KB, refused by the value budget.
    let mut entries = Vec::new();
    for key in 0..2_000u64 {
        varint(&mut entries, key);
        varint(&mut entries, 3_000);
    }
    entries.extend([0u8; 4_000]);
    let problem = hostile(
        vec![
            (201, "x.Empty", vec![]),
            (202, "x.Many", vec![("items", 201, false, true)]),
        ],
        (202, 2_000, entries),
    );
    assert_eq!(problem, "more values than the chunk's bytes can hold");
}

#[test]
fn a_count_past_the_end_is_refused() {
    let mut entry = Vec::new();
    varint(&mut entry, 1);
    varint(&mut entry, 1 << 40);
    let problem = hostile(
        vec![(203, "x.List", vec![("items", LONG, false, true)])],
        (203, 1, entry),
    );
    assert!(
        problem.starts_with("array element count 1099511627776 is more than the bytes left"),
        "{problem}"
    );
}

#[test]
fn span_fields_become_pyroscopes_correlation_labels() {
    // async-profiler's Pyroscope build adds span fields to its samples.
    let mut with_spans = classes();
    for (id, _, fields) in &mut with_spans {
        if *id == EXECUTION {
            fields.extend([
                ("spanId", LONG, false, false),
                ("spanName", LONG, false, false),
                ("traceIdHi", LONG, false, false),
                ("traceIdLo", LONG, false, false),
            ]);
        }
    }
    let mut r = two_stacks();
    for (span, name, hi, lo) in [(0xab_u64, 5, 1, 2), (0, 0, 0, 0)] {
        let mut e = Vec::new();
        for v in [EXECUTION, 5, 1, 1, 0, span, name, hi, lo] {
            varint(&mut e, v);
        }
        r.events.push(sized(e));
    }
    let labels = LabelsSnapshot {
        strings: [(5, "GET /cart".into())].into(),
        ..Default::default()
    };
    let out = run(&r.chunk_with(&metadata(&with_spans)), &labels);
    let p = &out.profiles[0].profile;
    let mut got: Vec<Vec<String>> = p
        .sample
        .iter()
        .map(|s| {
            s.label
                .iter()
                .map(|l| {
                    format!(
                        "{}={}",
                        p.string_table[l.key as usize], p.string_table[l.str as usize]
                    )
                })
                .collect()
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            vec![],
            vec![
                "profile_id=00000000000000ab".to_string(),
                "span_name=GET /cart".to_string(),
                "trace_id=00000000000000010000000000000002".to_string(),
            ],
        ]
    );
}

#[test]
fn an_inline_thread_state_is_read_too() {
    let mut inline = classes();
    for (id, _, fields) in &mut inline {
        if *id == EXECUTION {
            fields[2] = ("state", STRING, false, false);
        }
    }
    let mut r = two_stacks();
    for state in ["STATE_RUNNABLE", "STATE_SLEEPING"] {
        let mut e = Vec::new();
        varint(&mut e, EXECUTION);
        varint(&mut e, 5);
        varint(&mut e, 1);
        utf8(&mut e, state);
        varint(&mut e, 0);
        r.events.push(sized(e));
    }
    let out = run(
        &r.chunk_with(&metadata(&inline)),
        &LabelsSnapshot::default(),
    );
    assert_eq!(
        total(&out.profiles[0].profile),
        20_000_000,
        "the sleeping sample is not CPU"
    );
}
