//! The file exporter on a temporary directory (formats, names, retention)
//! and the debug exporter's log lines.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use profcol_config::ComponentId;
use profcol_exporter::start_exporter;
use profcol_pdata::otlp::collector::ExportProfilesServiceRequest;
use prost::Message;
use std::time::Duration;

fn id(s: &str) -> ComponentId {
    s.parse().unwrap()
}

fn files(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn writes_one_gzipped_pprof_per_profile() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, telemetry) = ctx("file");
    let cfg = yaml(&format!("directory: {}", dir.path().join("out").display()));
    let h = start_exporter(&id("file"), &cfg, ctx).unwrap();
    let raw = record("ns/app one", 1, &[]);
    let encoded = record("svc", 2, &[]);
    let encoded =
        profcol_pdata::ProfileRecord::from_profile(encoded.labels.clone(), &encoded.profile())
            .unwrap();
    h.consumer()
        .consume(batch(vec![raw.clone(), encoded.clone()]))
        .await
        .unwrap();
    h.shutdown(Duration::from_secs(5)).await;
    let out = dir.path().join("out");
    let names = files(&out);
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(
        names[0].contains("_ns_app_one_process_cpu_000000.pb.gz"),
        "{names:?}"
    );
    assert!(
        names[1].contains("_svc_process_cpu_000001.pb.gz"),
        "{names:?}"
    );
    assert_eq!(
        std::fs::read(out.join(&names[0])).unwrap(),
        raw.pprof.served().unwrap().to_vec(),
        "raw gzip kept as is"
    );
    let second = std::fs::read(out.join(&names[1])).unwrap();
    assert_eq!(&second[..2], &[0x1f, 0x8b]);
    let decoded = profcol_pdata::pprof::decode_pprof(&second, &Default::default()).unwrap();
    assert_eq!(decoded, encoded.profile());
    assert_eq!(
        metric(
            &telemetry.encode(),
            r#"profcol_exporter_sent_profiles_total{exporter="file"}"#
        ),
        Some(2.0)
    );
}

#[tokio::test]
async fn otlp_formats_decode() {
    for format in ["otlp", "otlp_json"] {
        let dir = tempfile::tempdir().unwrap();
        let (ctx, _t) = ctx("file");
        let cfg = yaml(&format!(
            "directory: {}\nformat: {format}",
            dir.path().display()
        ));
        let h = start_exporter(&id("file/x"), &cfg, ctx).unwrap();
        h.consumer()
            .consume(batch(vec![record("svc", 1, &[])]))
            .await
            .unwrap();
        h.shutdown(Duration::from_secs(5)).await;
        let names = files(dir.path());
        assert_eq!(names.len(), 1);
        let data = std::fs::read(dir.path().join(&names[0])).unwrap();
        let req: ExportProfilesServiceRequest = if format == "otlp" {
            assert!(names[0].ends_with(".otlp.pb"));
            ExportProfilesServiceRequest::decode(data.as_slice()).unwrap()
        } else {
            assert!(names[0].ends_with(".otlp.json"));
            profcol_pdata::otlp::json::from_otlp_json(&data).unwrap()
        };
        assert_eq!(req.resource_profiles.len(), 1);
        let folded = profcol_pdata::otlp::folded_otlp(&req);
        assert_eq!(
            folded,
            profcol_pdata::pprof::folded_pprof(&profile(1)),
            "{format}"
        );
    }
}

#[tokio::test]
async fn numeric_sample_attributes_keep_or_drop_in_otlp_files() {
    for (format, choice, want_bytes) in [
        ("otlp", "", true),
        ("otlp", "numeric_sample_attributes: keep", true),
        ("otlp", "numeric_sample_attributes: drop", false),
        ("otlp_json", "", true),
        ("otlp_json", "numeric_sample_attributes: drop", false),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let (ctx, _t) = ctx("file");
        let cfg = yaml(&format!(
            "directory: {}\nformat: {format}\n{choice}",
            dir.path().display()
        ));
        let h = start_exporter(&id("file"), &cfg, ctx).unwrap();
        h.consumer()
            .consume(batch(vec![numeric_record("svc")]))
            .await
            .unwrap();
        h.shutdown(Duration::from_secs(5)).await;
        let names = files(dir.path());
        let data = std::fs::read(dir.path().join(&names[0])).unwrap();
        let req = if format == "otlp" {
            ExportProfilesServiceRequest::decode(data.as_slice()).unwrap()
        } else {
            profcol_pdata::otlp::json::from_otlp_json(&data).unwrap()
        };
        let keys = sample_attribute_keys(&req);
        assert!(
            keys.contains(&"thread".to_string()),
            "{format} {choice}: {keys:?}"
        );
        assert_eq!(
            keys.contains(&"bytes".to_string()),
            want_bytes,
            "{format} {choice}: {keys:?}"
        );
    }
}

#[test]
fn numeric_sample_attributes_is_checked_with_its_path() {
    let check = |body: &str| {
        profcol_exporter::EXPORTERS
            .decode(&id("file/a"), &yaml(body), "exporters::file/a")
            .unwrap_err()
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
    };
    let e = check("format: pprof\nnumeric_sample_attributes: drop");
    assert_eq!(
        e,
        ["exporters::file/a::numeric_sample_attributes: applies only to format otlp or otlp_json (pprof files keep every label as served)"]
    );
    let e = check("format: otlp\nnumeric_sample_attributes: maybe");
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with("exporters::file/a::numeric_sample_attributes"),
        "{e:?}"
    );
    assert!(e[0].contains("keep") && e[0].contains("drop"), "{e:?}");
}

#[tokio::test]
async fn retention_keeps_the_newest_files_including_earlier_runs() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("20000101T000000.000Z_old_cpu_000000.pb.gz"),
        b"x",
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"mine").unwrap();
    let (ctx, _t) = ctx("file");
    let cfg = yaml(&format!(
        "directory: {}\nmax_files: 3",
        dir.path().display()
    ));
    let h = start_exporter(&id("file"), &cfg, ctx).unwrap();
    for i in 0..5 {
        h.consumer()
            .consume(batch(vec![record(&format!("s{i}"), i, &[])]))
            .await
            .unwrap();
    }
    h.shutdown(Duration::from_secs(5)).await;
    let names = files(dir.path());
    assert_eq!(names.len(), 4, "{names:?}");
    assert!(
        names.contains(&"notes.txt".to_string()),
        "foreign files stay"
    );
    for (name, want) in names
        .iter()
        .filter(|n| n.ends_with(".pb.gz"))
        .zip(["_s2_", "_s3_", "_s4_"])
    {
        assert!(name.contains(want), "{names:?}");
    }

    let dir = tempfile::tempdir().unwrap();
    let (ctx2, _t) = common::ctx("file");
    let cfg = yaml(&format!(
        "directory: {}\nmax_bytes: 1",
        dir.path().display()
    ));
    let h = start_exporter(&id("file"), &cfg, ctx2).unwrap();
    for i in 0..3 {
        h.consumer()
            .consume(batch(vec![record("s", i, &[])]))
            .await
            .unwrap();
    }
    h.shutdown(Duration::from_secs(5)).await;
    let names = files(dir.path());
    assert_eq!(names.len(), 1, "only the newest file stays: {names:?}");
    assert!(names[0].contains("_000002."));
}

#[tokio::test]
async fn a_removed_directory_is_made_again() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("data");
    let (ctx, _t) = ctx("file");
    let h = start_exporter(
        &id("file"),
        &yaml(&format!("directory: {}", out.display())),
        ctx,
    )
    .unwrap();
    std::fs::remove_dir_all(&out).unwrap();
    h.consumer()
        .consume(batch(vec![record("s", 1, &[])]))
        .await
        .unwrap();
    h.shutdown(Duration::from_secs(5)).await;
    assert_eq!(files(&out).len(), 1);
}

#[tokio::test]
async fn an_unusable_directory_fails_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, b"x").unwrap();
    let (ctx, _t) = ctx("file");
    let cfg = yaml(&format!("directory: {}", blocker.join("sub").display()));
    assert!(start_exporter(&id("file"), &cfg, ctx).is_err());
}

async fn debug_output(verbosity: &str) -> String {
    let buf = Buf::default();
    let b2 = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || b2.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let (ctx, _t) = ctx("debug");
    let h = start_exporter(&id("debug"), &yaml(&format!("verbosity: {verbosity}")), ctx).unwrap();
    h.consumer()
        .consume(batch(vec![record("svc-a", 5, &[("env", "dev")])]))
        .await
        .unwrap();
    h.shutdown(Duration::from_secs(1)).await;
    let out = buf.0.lock().unwrap().clone();
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn debug_logs_a_batch_line_a_line_per_profile_or_details() {
    let basic = debug_output("basic").await;
    let lines: Vec<&str> = basic.lines().collect();
    assert_eq!(lines.len(), 1, "{basic}");
    for want in ["profiles=1", "samples=2", "otlp_requests=0", "Profiles."] {
        assert!(lines[0].contains(want), "{want} missing in {basic}");
    }
    let normal = debug_output("normal").await;
    let lines: Vec<&str> = normal.lines().collect();
    assert_eq!(lines.len(), 2, "{normal}");
    assert!(lines[0].contains("Profiles."), "{normal}");
    let line = lines[1];
    // seed 5: samples 8 (work<-main) + 1 (main) = 9 samples/count in total; `work` is the heaviest leaf.
    for want in [
        "service=\"svc-a\"",
        "profile_type=\"process_cpu\"",
        "samples=2",
        "sample_type=samples/count",
        "total=9",
        "top_frame=work",
    ] {
        assert!(line.contains(want), "{want} missing in {line}");
    }
    let detailed = debug_output("detailed").await;
    assert!(
        detailed.contains("label=\"env\" value=\"dev\""),
        "{detailed}"
    );
    let stacks: Vec<&str> = detailed
        .lines()
        .filter(|l| l.contains("Profile stack."))
        .collect();
    assert_eq!(stacks.len(), 2, "{detailed}");
    assert!(
        stacks[0].contains("value=8") && stacks[0].contains("stack=main;work"),
        "{}",
        stacks[0]
    );
    assert!(
        stacks[1].contains("value=1") && stacks[1].contains("stack=main"),
        "{}",
        stacks[1]
    );
}
