//! The reader against recordings the JDK and the Pyroscope Java agent
//! wrote (`integration/corpus/ingest/`), and against small recordings
//! written here, for the rules a real recording shows only by chance.

use super::*;
use crate::ingest::multipart;
use crate::pprof::decompress;
use std::collections::BTreeMap;

mod written;

fn corpus(name: &str) -> Vec<u8> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../integration/corpus/ingest/");
    std::fs::read(format!("{path}{name}")).unwrap()
}

/// Total of sample type `i`.
fn total(p: &Profile, i: usize) -> i64 {
    p.sample.iter().map(|s| s.value[i]).sum()
}

fn function_names(p: &Profile) -> Vec<String> {
    p.function
        .iter()
        .map(|f| p.string_table[f.name as usize].clone())
        .collect()
}

fn by_kind(out: &JfrProfiles) -> BTreeMap<Kind, &Profile> {
    out.profiles.iter().map(|p| (p.kind, &p.profile)).collect()
}

fn types(p: &Profile) -> Vec<String> {
    p.sample_type
        .iter()
        .map(|t| {
            format!(
                "{}/{}",
                p.string_table[t.r#type as usize], p.string_table[t.unit as usize]
            )
        })
        .collect()
}

#[test]
fn a_jdk_recording_converts_with_the_jdk_counts() {
    // 123 execution samples, 450 allocation samples (one without a stack),
    // 99 monitor enters and 102 parks (`jfr summary`, in the sidecar).
    let input = JfrInput {
        start_nanos: 1_000_000_000,
        end_nanos: 4_000_000_000,
        sample_rate: 100,
        ..Default::default()
    };
    let out = to_pprof(
        &corpus("jdk_recording.jfr"),
        &LabelsSnapshot::default(),
        &input,
    )
    .unwrap();
    assert_eq!(out.event, "");
    let p = by_kind(&out);
    assert_eq!(
        p.keys().copied().collect::<Vec<_>>(),
        [Kind::Cpu, Kind::Lock, Kind::ThreadPark, Kind::AllocSample]
    );
    assert_eq!(total(p[&Kind::Cpu], 0), 123 * 10_000_000);
    assert_eq!(types(p[&Kind::Cpu]), ["cpu/nanoseconds"]);
    assert_eq!(p[&Kind::Cpu].period, 10_000_000);
    assert_eq!(
        (p[&Kind::Cpu].time_nanos, p[&Kind::Cpu].duration_nanos),
        (1_000_000_000, 3_000_000_000)
    );
    assert_eq!(total(p[&Kind::Lock], 0), 99);
    assert_eq!(total(p[&Kind::ThreadPark], 0), 102);
    assert_eq!(total(p[&Kind::AllocSample], 0), 449);
    assert_eq!(
        types(p[&Kind::Lock]),
        ["contentions/count", "delay/nanoseconds"]
    );
    for (kind, needle) in [
        (Kind::Cpu, "JdkRecordingWorkload.workloadJdkRecCpuBurn"),
        (
            Kind::AllocSample,
            "JdkRecordingWorkload.workloadJdkRecAlloc",
        ),
        (Kind::Lock, "JdkRecordingWorkload.workloadJdkRecLock"),
        (Kind::ThreadPark, "JdkRecordingWorkload.workloadJdkRecPark"),
    ] {
        let names = function_names(p[&kind]);
        assert!(names.iter().any(|n| n == needle), "{kind:?}: {names:?}");
    }
    // Lines are the JDK's ints: -1 (unknown) reads as no line, not 2^32-1.
    for prof in p.values() {
        assert!(prof
            .location
            .iter()
            .all(|l| (0..100_000).contains(&l.line[0].line)));
    }
}

/// The `jfr` and `labels` parts of the agent's upload, inflated.
fn agent_upload() -> (Vec<u8>, LabelsSnapshot) {
    let body = bytes::Bytes::from(corpus("java_jfr.multipart"));
    let meta: serde_json::Value = serde_json::from_slice(&corpus("java_jfr.json")).unwrap();
    let parts = multipart::parse(meta["content_type"].as_str().unwrap(), &body).unwrap();
    let part = |name: &str| {
        let p = parts.iter().find(|p| p.name == name).unwrap();
        decompress(&p.body, 1 << 24).unwrap().into_owned()
    };
    let labels = LabelsSnapshot::decode_part(&part("labels")).unwrap();
    (part("jfr"), labels)
}

#[test]
fn the_java_agents_upload_converts_with_its_labels() {
    // async-profiler's itimer recording: 80 execution samples, 1,218
    // allocations in new TLABs, 54 monitor enters; 20 label contexts.
    let (recording, labels) = agent_upload();
    let input = JfrInput {
        sample_rate: 100,
        ..Default::default()
    };
    let out = to_pprof(&recording, &labels, &input).unwrap();
    assert_eq!(out.event, "itimer");
    let p = by_kind(&out);
    assert_eq!(
        p.keys().copied().collect::<Vec<_>>(),
        [Kind::Cpu, Kind::AllocInNewTlab, Kind::Lock]
    );
    assert_eq!(total(p[&Kind::Cpu], 0), 80 * 10_000_000);
    assert_eq!(total(p[&Kind::AllocInNewTlab], 0), 1218);
    assert_eq!(total(p[&Kind::Lock], 0), 54);
    assert_eq!(
        types(p[&Kind::AllocInNewTlab]),
        [
            "alloc_in_new_tlab_objects/count",
            "alloc_in_new_tlab_bytes/bytes"
        ]
    );
    // No window in the input: the chunk's own start.
    assert!(p[&Kind::Cpu].time_nanos > 1_700_000_000_000_000_000);
    let cpu = p[&Kind::Cpu];
    let labelled: Vec<(String, String)> = cpu
        .sample
        .iter()
        .flat_map(|s| &s.label)
        .map(|l| {
            (
                cpu.string_table[l.key as usize].clone(),
                cpu.string_table[l.str as usize].clone(),
            )
        })
        .collect();
    assert!(!labelled.is_empty());
    assert!(labelled
        .iter()
        .all(|l| l == &("handler".to_string(), "/cart".to_string())));
    let names = function_names(cpu);
    assert!(
        names
            .iter()
            .any(|n| n == "JavaPush.workloadJavaPushCpuBurn"),
        "{names:?}"
    );
    assert!(
        names.iter().any(|n| n == "JavaPush$$Lambda_.run"),
        "lambda classes merge"
    );
    assert!(function_names(p[&Kind::Lock])
        .iter()
        .any(|n| n == "JavaPush.workloadJavaPushLock"));
}

#[test]
fn every_cut_of_a_recording_is_an_error() {
    let (recording, labels) = agent_upload();
    for cut in (1..200).chain((200..recording.len()).step_by(613)) {
        let r = to_pprof(&recording[..cut], &labels, &JfrInput::default());
        assert!(r.is_err(), "cut at {cut} read");
    }
}

#[test]
fn damaged_recordings_never_panic() {
    let recordings = [agent_upload().0, corpus("jdk_recording.jfr")];
    for recording in &recordings {
        for (i, step) in (68..recording.len()).step_by(409).enumerate() {
            let mut bad = recording.clone();
            bad[step] ^= [0xff, 0x80, 0x01, 0x7f][i % 4];
            let _ = to_pprof(&bad, &LabelsSnapshot::default(), &JfrInput::default());
        }
    }
}

#[test]
fn the_constant_index_keeps_to_the_memory_limit() {
    let (recording, labels) = agent_upload();
    let input = |memory_limit| JfrInput {
        memory_limit,
        ..Default::default()
    };
    let err = to_pprof(&recording, &labels, &input(4096)).unwrap_err();
    assert!(err.over_limit, "{err}");
    assert_eq!(
        err.problem,
        "the constant pools hold more constants than the memory limit allows"
    );
    // The recording's few thousand constants fit in a megabyte.
    assert!(to_pprof(&recording, &labels, &input(1 << 20)).is_ok());
    assert!(
        !to_pprof(&recording[..100], &labels, &input(1 << 20))
            .unwrap_err()
            .over_limit
    );
}

#[test]
fn labels_that_are_not_a_snapshot_are_an_error() {
    assert!(LabelsSnapshot::decode_part(b"\x0a\xff\xff").is_err());
    assert!(LabelsSnapshot::decode_part(b"")
        .unwrap()
        .contexts
        .is_empty());
}

/// A labels part holding protobuf groups is refused before prost decodes
/// it (prost would recurse through nested groups, without a limit in the
/// binary's build): at the top, nested a million deep, or inside a
/// context's entry. A snapshot prost writes still decodes.
#[test]
fn labels_with_protobuf_groups_are_refused() {
    use prost::Message;
    let group_start = (9 << 3) | 3;
    let mut in_context = Vec::new();
    // contexts {key: 1, value: Context {labels {key 1, value 2}, <group 9>}}
    let context = [
        0x0a,
        0x04,
        0x08,
        0x01,
        0x10,
        0x02,
        group_start,
        (9 << 3) | 4,
    ];
    let entry = [&[0x08, 0x01, 0x12, context.len() as u8][..], &context[..]].concat();
    in_context.extend_from_slice(&[0x0a, entry.len() as u8]);
    in_context.extend_from_slice(&entry);
    for bytes in [
        vec![group_start, (9 << 3) | 4],
        vec![group_start; 1_000_000],
        in_context,
    ] {
        let err = LabelsSnapshot::decode_part(&bytes).unwrap_err();
        assert!(err.to_string().contains("protobuf groups"), "{err}");
    }
    let mut snapshot = LabelsSnapshot::default();
    snapshot.strings.insert(1, "handler".into());
    snapshot.strings.insert(2, "/cart".into());
    snapshot.contexts.insert(
        7,
        super::labels::Context {
            labels: [(1, 2)].into_iter().collect(),
        },
    );
    let decoded = LabelsSnapshot::decode_part(&snapshot.encode_to_vec()).unwrap();
    assert_eq!(
        decoded.labels_of(7),
        [("handler".to_string(), "/cart".to_string())]
    );
}
