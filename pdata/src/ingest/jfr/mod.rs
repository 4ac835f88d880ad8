//! Java Flight Recorder recordings, as the Grafana Pyroscope Java agent
//! (async-profiler) and the JDK write them, turned into pprof profiles the
//! way Grafana Pyroscope turns them: one profile per kind of event, named
//! for Pyroscope's `__name__` ([`kinds`]).
//!
//! ```text
//! jdk.ExecutionSample            → process_cpu  cpu/nanoseconds (not sleeping; × the period)
//!                                  wall         wall/nanoseconds (when the recording's event is "wall")
//! profiler.WallClockSample       → wall         wall/nanoseconds (samples × the period)
//! jdk.ObjectAllocationInNewTLAB  → memory       alloc_in_new_tlab_objects/count, alloc_in_new_tlab_bytes/bytes
//! jdk.ObjectAllocationOutsideTLAB→ memory       alloc_outside_tlab_objects/count, alloc_outside_tlab_bytes/bytes
//! jdk.ObjectAllocationSample     → memory       alloc_sample_objects/count, alloc_sample_bytes/bytes
//! jdk.JavaMonitorEnter           → mutex        contentions/count, delay/nanoseconds
//! jdk.ThreadPark                 → block        contentions/count, delay/nanoseconds
//! profiler.LiveObject            → memory       live/count
//! profiler.Malloc                → memory       malloc_objects/count, malloc_bytes/bytes
//! ```
//!
//! A recording is read chunk by chunk (`chunk.rs`): the metadata event gives
//! the classes and their fields (`metadata.rs`), every constant pool event
//! is indexed (`value.rs`), then the events above are read with
//! those classes, their stacks resolved (`stacks.rs`) and added to the
//! profile of their kind (`builder.rs`). Frames are named `class.method`
//! with the JVM's slash-separated class name (`java/lang/Thread.run`),
//! generated lambda and accessor classes merged (`symbols.rs`). The labels
//! the agent sends beside the recording ([`labels`]) become sample labels
//! through each event's `contextId`; async-profiler's span fields become
//! Pyroscope's `profile_id`, `span_name` and `trace_id` labels.
//!
//! Differences from Pyroscope, on purpose: lock and park delays are
//! converted from the recording's ticks to nanoseconds (Pyroscope keeps the
//! ticks); a frame without a class (native code) is named by its method
//! alone, not `.method`; profiles come out in a fixed order (that of [`Kind`]).
//!
//! Reading is bounded: every count is checked against the bytes left,
//! nesting is capped and a chunk decodes at most a few values per byte;
//! constant pools are indexed (one offset per constant) and each constant
//! decoded when it is looked up, so memory follows the recording's size;
//! no input panics (fuzzed: `fuzz/fuzz_targets/jfr.rs`).

mod builder;
mod chunk;
mod cursor;
pub mod kinds;
pub mod labels;
mod metadata;
mod stacks;
mod symbols;
mod value;

#[cfg(test)]
mod tests;

use crate::pprof::Profile;
use builder::ProfileBuilder;
use chunk::Chunk;
use kinds::Kind;
pub use labels::LabelsSnapshot;
use stacks::{field, Stacks};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use value::Value;

/// The metadata event's type id.
pub const EVENT_METADATA: u64 = 0;
/// The constant pool (checkpoint) event's type id.
pub const EVENT_CONSTANT_POOL: u64 = 1;
/// The period a CPU or wall sample counts when the request names no
/// `sampleRate`: the agent's default interval, 10 ms (100 Hz).
pub const DEFAULT_PERIOD_NANOS: i64 = 10_000_000;

/// Why a recording (or its labels) does not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JfrError {
    /// The byte offset in the recording, when the problem has one.
    pub offset: Option<usize>,
    pub problem: String,
    /// The recording is readable but needs more memory than
    /// [`JfrInput::memory_limit`].
    pub over_limit: bool,
}

impl JfrError {
    fn at(offset: usize, problem: impl Into<String>) -> Self {
        Self {
            offset: Some(offset),
            problem: problem.into(),
            over_limit: false,
        }
    }

    fn labels(problem: impl Into<String>) -> Self {
        Self {
            offset: None,
            problem: problem.into(),
            over_limit: false,
        }
    }

    fn over_limit(offset: usize, problem: impl Into<String>) -> Self {
        Self {
            over_limit: true,
            ..Self::at(offset, problem)
        }
    }
}

impl fmt::Display for JfrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.offset {
            Some(o) => write!(f, "at byte {o}: {}", self.problem),
            None => f.write_str(&self.problem),
        }
    }
}

impl std::error::Error for JfrError {}

/// What the request says about the recording.
#[derive(Debug, Clone, Copy, Default)]
pub struct JfrInput {
    /// The window the recording covers (`from`, `until`), in Unix
    /// nanoseconds; 0 takes the first chunk's own start and duration.
    pub start_nanos: i64,
    pub end_nanos: i64,
    /// CPU and wall samples per second (`sampleRate`); 0 takes
    /// [`DEFAULT_PERIOD_NANOS`].
    pub sample_rate: u32,
    /// Memory the index of one chunk's constants may take, in bytes (about
    /// 32 per constant); beyond it the recording is refused. 0: no limit.
    pub memory_limit: usize,
}

/// One converted profile and its Pyroscope name.
#[derive(Debug, Clone)]
pub struct JfrProfile {
    pub kind: Kind,
    pub profile: Profile,
}

impl JfrProfile {
    /// Pyroscope's `__name__` for this profile.
    pub fn metric(&self) -> &'static str {
        self.kind.metric()
    }
}

/// What a recording holds.
#[derive(Debug, Clone, Default)]
pub struct JfrProfiles {
    /// The profiler's `event` setting (`cpu`, `itimer`, `wall`, …; empty
    /// when the recording has none): Pyroscope's `jfr_event` label.
    pub event: String,
    pub profiles: Vec<JfrProfile>,
}

/// Converts a whole recording (one or more chunks).
pub fn to_pprof(
    recording: &[u8],
    labels: &LabelsSnapshot,
    input: &JfrInput,
) -> Result<JfrProfiles, JfrError> {
    let period = match input.sample_rate {
        0 => DEFAULT_PERIOD_NANOS,
        rate => 1_000_000_000 / i64::from(rate),
    };
    let mut out = Converter {
        labels,
        period,
        window: (
            input.start_nanos,
            input.end_nanos.saturating_sub(input.start_nanos).max(0),
        ),
        builders: BTreeMap::new(),
        event: String::new(),
    };
    let mut pos = 0;
    while pos < recording.len() {
        let limit = match input.memory_limit {
            0 => usize::MAX,
            n => n,
        };
        let chunk = Chunk::read(&recording[pos..], limit).map_err(|e| shift(e, pos))?;
        if out.window.0 <= 0 {
            out.window = (chunk.header.start_nanos, chunk.header.duration_nanos);
        }
        out.chunk(&chunk).map_err(|e| shift(e, pos))?;
        pos += chunk.bytes();
    }
    Ok(JfrProfiles {
        event: out.event,
        profiles: out
            .builders
            .into_iter()
            .map(|(kind, b)| JfrProfile {
                kind,
                profile: b.build(),
            })
            .collect(),
    })
}

/// An error found in a later chunk, with its offset in the recording.
fn shift(mut e: JfrError, by: usize) -> JfrError {
    e.offset = e.offset.map(|o| o.saturating_add(by));
    e
}

struct Converter<'l> {
    labels: &'l LabelsSnapshot,
    period: i64,
    /// (time_nanos, duration_nanos) of every profile.
    window: (i64, i64),
    builders: BTreeMap<Kind, ProfileBuilder>,
    event: String,
}

/// The fields of one event class the conversion reads, by index.
struct EventFields {
    kind: EventKind,
    stack: Option<usize>,
    context: Option<usize>,
    state: Option<usize>,
    value: Option<usize>,
    /// async-profiler's span correlation (Pyroscope's Java agent with
    /// OpenTelemetry): `spanId`, `spanName`, `traceIdHi`, `traceIdLo`.
    span_id: Option<usize>,
    span_name: Option<usize>,
    trace_hi: Option<usize>,
    trace_lo: Option<usize>,
}

#[derive(Clone, Copy)]
enum EventKind {
    Execution,
    WallClock,
    Value { kind: Kind, ticks: bool },
}

impl Converter<'_> {
    fn builder(&mut self, kind: Kind) -> &mut ProfileBuilder {
        let (time, duration) = self.window;
        let period = if kind.sampled_time() { self.period } else { 0 };
        self.builders.entry(kind).or_insert_with(|| {
            ProfileBuilder::new(
                kind.sample_types(),
                kind.period_type(),
                period,
                time,
                duration,
            )
        })
    }

    fn chunk(&mut self, chunk: &Chunk) -> Result<(), JfrError> {
        let types = &chunk.types;
        let mut classes: BTreeMap<u64, EventFields> = BTreeMap::new();
        let mut add = |name: &str, kind: EventKind, value: Option<&str>| {
            if let Some(c) = types.named(name) {
                classes.insert(
                    c.id,
                    EventFields {
                        kind,
                        stack: c.field("stackTrace"),
                        context: c.field("contextId"),
                        state: c.field("state"),
                        value: value.and_then(|v| c.field(v)),
                        span_id: c.field("spanId"),
                        span_name: c.field("spanName"),
                        trace_hi: c.field("traceIdHi"),
                        trace_lo: c.field("traceIdLo"),
                    },
                );
            }
        };
        add(kinds::EXECUTION_SAMPLE, EventKind::Execution, None);
        add(
            kinds::WALL_CLOCK_SAMPLE,
            EventKind::WallClock,
            Some("samples"),
        );
        for &(name, kind, value, ticks) in kinds::VALUE_EVENTS {
            add(name, EventKind::Value { kind, ticks }, value);
        }
        let setting = types.named(kinds::ACTIVE_SETTING);
        let state_class = types.named("jdk.types.ThreadState");

        // The profiler's `event` setting decides what an execution sample
        // counts for; it may be written after the samples.
        if let Some(setting) = setting {
            for e in chunk.events() {
                let e = e?;
                if e.type_id != setting.id {
                    continue;
                }
                let v = chunk.event_value(e)?;
                let text = |name: &str| match setting.field(name).and_then(|i| v.fields().get(i)) {
                    Some(f) => chunk.text(f),
                    None => Ok(None),
                };
                if text("name")?.as_deref() == Some("event") {
                    self.event = text("value")?.unwrap_or_default();
                }
            }
        }
        let wall_events = self.event == "wall";
        let ticks_per_second = chunk.header.ticks_per_second;
        let mut stacks = Stacks::new(chunk);
        let mut sleeping_states: HashMap<u64, bool> = HashMap::new();
        for e in chunk.events() {
            let e = e?;
            let Some(fields) = classes.get(&e.type_id) else {
                continue;
            };
            let v = chunk.event_value(e)?;
            let get = |i: Option<usize>| i.and_then(|i| v.fields().get(i));
            let Some(stack) = get(fields.stack).and_then(Value::reference) else {
                continue;
            };
            let Some(frames) = stacks.frames(stack)? else {
                continue;
            };
            let mut labels = get(fields.context)
                .and_then(Value::int)
                .filter(|c| *c != 0)
                .map(|c| self.labels.labels_of(c))
                .unwrap_or_default();
            let int = |i: Option<usize>| get(i).and_then(Value::int).unwrap_or(0);
            let correlation = Correlation {
                span_id: int(fields.span_id),
                span_name: int(fields.span_name),
                trace_hi: int(fields.trace_hi),
                trace_lo: int(fields.trace_lo),
            };
            if correlation.add_labels(&mut labels, self.labels) {
                labels.sort();
            }
            let value = get(fields.value).and_then(Value::int).unwrap_or(0);
            match fields.kind {
                EventKind::Execution => {
                    let sleeping = match (state_class, get(fields.state)) {
                        // A state written inline (not pooled).
                        (_, Some(Value::Str(cursor::JfrString::Text(name)))) => {
                            name == kinds::STATE_SLEEPING
                        }
                        (Some(sc), Some(Value::Ref(state))) => match sleeping_states.get(state) {
                            Some(&known) => known,
                            None => {
                                let name = match chunk.constant(sc.id, *state)? {
                                    Some(s) => match field(&s, sc, "name") {
                                        Some(n) => chunk.text(n)?,
                                        None => None,
                                    },
                                    None => None,
                                };
                                let sleeping = name.as_deref() == Some(kinds::STATE_SLEEPING);
                                sleeping_states.insert(*state, sleeping);
                                sleeping
                            }
                        },
                        _ => false,
                    };
                    let period = self.period;
                    if !sleeping {
                        self.builder(Kind::Cpu).add(&frames, &labels, &[period]);
                    }
                    if wall_events {
                        self.builder(Kind::Wall).add(&frames, &labels, &[period]);
                    }
                }
                EventKind::WallClock => {
                    let v = value.saturating_mul(self.period);
                    self.builder(Kind::Wall).add(&frames, &labels, &[v]);
                }
                EventKind::Value { kind, ticks } => {
                    let v = if ticks {
                        ticks_to_nanos(value, ticks_per_second)
                    } else {
                        value
                    };
                    let values = [1, v];
                    let n = kind.sample_types().len();
                    self.builder(kind).add(&frames, &labels, &values[..n]);
                }
            }
        }
        Ok(())
    }
}

/// The sample labels Pyroscope derives from async-profiler's span fields.
pub const LABEL_PROFILE_ID: &str = "profile_id";
pub const LABEL_SPAN_NAME: &str = "span_name";
pub const LABEL_TRACE_ID: &str = "trace_id";

/// An event's span correlation; zero is none.
struct Correlation {
    span_id: i64,
    span_name: i64,
    trace_hi: i64,
    trace_lo: i64,
}

impl Correlation {
    /// Adds `profile_id` (the span id, 16 hex digits), `span_name` (from
    /// the labels' strings) and `trace_id` (32 hex digits) to `labels`, as
    /// Pyroscope does; whether it added any.
    fn add_labels(&self, labels: &mut Vec<(String, String)>, snapshot: &LabelsSnapshot) -> bool {
        let before = labels.len();
        if self.span_id != 0 {
            labels.push((
                LABEL_PROFILE_ID.into(),
                format!("{:016x}", self.span_id as u64),
            ));
        }
        if self.span_name != 0 {
            if let Some(name) = snapshot
                .strings
                .get(&self.span_name)
                .filter(|n| !n.is_empty())
            {
                labels.push((LABEL_SPAN_NAME.into(), name.clone()));
            }
        }
        if self.trace_hi != 0 || self.trace_lo != 0 {
            labels.push((
                LABEL_TRACE_ID.into(),
                format!("{:016x}{:016x}", self.trace_hi as u64, self.trace_lo as u64),
            ));
        }
        labels.len() > before
    }
}

/// A duration in the chunk's ticks, in nanoseconds.
fn ticks_to_nanos(ticks: i64, ticks_per_second: i64) -> i64 {
    if ticks_per_second <= 0 || ticks_per_second == 1_000_000_000 {
        return ticks;
    }
    let ns = i128::from(ticks) * 1_000_000_000 / i128::from(ticks_per_second);
    i64::try_from(ns).unwrap_or(i64::MAX)
}
