//! What each JFR event becomes, following Grafana Pyroscope's conversion
//! (`grafana/jfr-parser`, `pprof/pprof.go`): one pprof profile per kind,
//! with its sample types, period type and profile name (`__name__`).

/// One output profile's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Cpu,
    Wall,
    AllocInNewTlab,
    AllocOutsideTlab,
    Lock,
    ThreadPark,
    LiveObject,
    AllocSample,
    Malloc,
}

impl Kind {
    /// Sample types, as (type, unit).
    pub fn sample_types(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Kind::Cpu => &[("cpu", "nanoseconds")],
            Kind::Wall => &[("wall", "nanoseconds")],
            Kind::AllocInNewTlab => &[
                ("alloc_in_new_tlab_objects", "count"),
                ("alloc_in_new_tlab_bytes", "bytes"),
            ],
            Kind::AllocOutsideTlab => &[
                ("alloc_outside_tlab_objects", "count"),
                ("alloc_outside_tlab_bytes", "bytes"),
            ],
            Kind::Lock | Kind::ThreadPark => &[("contentions", "count"), ("delay", "nanoseconds")],
            Kind::LiveObject => &[("live", "count")],
            Kind::AllocSample => &[
                ("alloc_sample_objects", "count"),
                ("alloc_sample_bytes", "bytes"),
            ],
            Kind::Malloc => &[("malloc_objects", "count"), ("malloc_bytes", "bytes")],
        }
    }

    /// `period_type` as (type, unit); none for `malloc`.
    pub fn period_type(self) -> Option<(&'static str, &'static str)> {
        match self {
            Kind::Cpu => Some(("cpu", "nanoseconds")),
            Kind::Wall => Some(("wall", "nanoseconds")),
            Kind::AllocInNewTlab | Kind::AllocOutsideTlab | Kind::AllocSample => {
                Some(("space", "bytes"))
            }
            Kind::Lock => Some(("mutex", "count")),
            Kind::ThreadPark => Some(("block", "count")),
            Kind::LiveObject => Some(("objects", "count")),
            Kind::Malloc => None,
        }
    }

    /// The profile's name, Pyroscope's `__name__`.
    pub fn metric(self) -> &'static str {
        match self {
            Kind::Cpu => "process_cpu",
            Kind::Wall => "wall",
            Kind::Lock => "mutex",
            Kind::ThreadPark => "block",
            Kind::AllocInNewTlab
            | Kind::AllocOutsideTlab
            | Kind::LiveObject
            | Kind::AllocSample
            | Kind::Malloc => "memory",
        }
    }

    /// Whether each sample counts one sampling period (its value is then
    /// the period in nanoseconds).
    pub fn sampled_time(self) -> bool {
        matches!(self, Kind::Cpu | Kind::Wall)
    }
}

/// The JFR event classes read, and the field holding each sample's
/// second value (none: the sample counts 1).
pub const EXECUTION_SAMPLE: &str = "jdk.ExecutionSample";
pub const WALL_CLOCK_SAMPLE: &str = "profiler.WallClockSample";
pub const ACTIVE_SETTING: &str = "jdk.ActiveSetting";

/// (event class, kind, value field, whether the value is a duration in ticks).
pub const VALUE_EVENTS: &[(&str, Kind, Option<&str>, bool)] = &[
    (
        "jdk.ObjectAllocationInNewTLAB",
        Kind::AllocInNewTlab,
        Some("tlabSize"),
        false,
    ),
    (
        "jdk.ObjectAllocationOutsideTLAB",
        Kind::AllocOutsideTlab,
        Some("allocationSize"),
        false,
    ),
    (
        "jdk.ObjectAllocationSample",
        Kind::AllocSample,
        Some("weight"),
        false,
    ),
    ("jdk.JavaMonitorEnter", Kind::Lock, Some("duration"), true),
    ("jdk.ThreadPark", Kind::ThreadPark, Some("duration"), true),
    ("profiler.LiveObject", Kind::LiveObject, None, false),
    ("profiler.Malloc", Kind::Malloc, Some("size"), false),
];

/// The thread state an execution sample of a sleeping thread has: such a
/// sample counts for wall time, not CPU.
pub const STATE_SLEEPING: &str = "STATE_SLEEPING";
