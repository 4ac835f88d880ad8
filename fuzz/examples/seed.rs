//! Writes seed corpora for the fuzz targets from `pdata/testdata`: the pprof
//! files as they are (decode_pprof, to_otlp) and their OTLP conversions
//! (from_otlp) and their OTLP/JSON (otlp_json), and the otlp receiver's
//! request bodies of both (otlp_receive: a selector byte, then a gRPC frame,
//! a protobuf, gzipped protobuf or JSON body; otlp_check: a limits byte, then
//! the protobuf), and persistent-queue records
//! holding each pprof file as served and as encoded (storage_record). Usage: `cargo run --example
//! seed` from `fuzz/`.

use profcol_exporter::storage_codec::encode_batch;
use profcol_pdata::oracle::to_otlp;
use profcol_pdata::pprof::{decode_pprof, encode_pprof, DecodeLimits};
use profcol_pdata::{Labels, ProfileBatch, ProfileRecord};
use prost::Message;
use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let testdata = root.join("../pdata/testdata");
    for t in [
        "decode_pprof",
        "to_otlp",
        "from_otlp",
        "view",
        "otlp_json",
        "delta",
        "ingest",
        "otlp_receive",
        "otlp_check",
        "ottl",
        "storage_record",
        "jfr",
    ] {
        std::fs::create_dir_all(root.join("corpus").join(t))?;
    }
    // JFR recordings the JDK and the Pyroscope Java agent wrote.
    let jfr_corpus = root.join("../integration/corpus/ingest");
    std::fs::copy(
        jfr_corpus.join("jdk_recording.jfr"),
        root.join("corpus/jfr/jdk_recording"),
    )?;
    let upload = std::fs::read(jfr_corpus.join("java_jfr.multipart"))?;
    if let Some(recording) = agent_recording(&upload) {
        std::fs::write(root.join("corpus/jfr/agent_recording"), recording)?;
    }
    // Filter conditions, valid and not.
    for (i, text) in [
        r#"profile.sample_type.type == "goroutine""#,
        r#"resource.attributes["service.name"] == "api" and not IsMatch(profile.sample_type.unit, "^n")"#,
        r#"(profile.period > 1 or instrumentation_scope.name != nil) and HasAttrOnSample("k", "v")"#,
        r#"resource.attributes["a"]["b"][0] == 1.5e3"#,
        r#"IsMatch(sample_type.type, "(")"#,
    ]
    .iter()
    .enumerate()
    {
        std::fs::write(root.join("corpus/ottl").join(format!("seed{i}")), text)?;
    }
    // The pyroscope receiver's text inputs: names, folded and lines bodies,
    // a multipart form (boundary "B", as the target reads it).
    let ingest = root.join("corpus/ingest");
    for (file, text) in [
        ("name", &b"checkout.cpu{env=prod,__session_id__=9f1c,otel.scope.name=com.grafana.pyroscope/go}"[..]),
        ("query", b"name=app%7Bx%3D1%7D&from=1700000000&until=now-10s&sampleRate=100&format=lines"),
        ("folded", b"main;work;parse 10\nmain;idle 3\r\nmain;work;parse 5\n"),
        ("form", b"--B\r\nContent-Disposition: form-data; name=\"profile\"; filename=\"profile.pprof\"\r\nContent-Type: application/octet-stream\r\n\r\n\x1f\x8b\r\n--B--\r\n"),
        ("push.json", br#"{"series":[{"labels":[{"name":"service_name","value":"svc"}],"samples":[{"rawProfile":"AQI=","ID":"1"}]}]}"#),
    ] {
        std::fs::write(ingest.join(file), text)?;
    }
    for entry in std::fs::read_dir(&testdata)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !name.ends_with(".pb.gz") {
            continue;
        }
        let body = std::fs::read(&path)?;
        let profile = decode_pprof(&body, &DecodeLimits::default())?;
        // Skip the benchmark-sized files: libFuzzer's default max_len is small.
        if body.len() > 64 << 10 {
            continue;
        }
        let raw = encode_pprof(&profile);
        for t in ["decode_pprof", "to_otlp", "view", "delta"] {
            std::fs::write(root.join("corpus").join(t).join(&name), &body)?;
            std::fs::write(
                root.join("corpus").join(t).join(format!("{name}.raw")),
                &raw,
            )?;
        }
        let record =
            ProfileRecord::from_profile(Labels::from_pairs([("service_name", "seed")]), &profile)?;
        // A persistent-queue record: the profile as served and as encoded.
        let served =
            profcol_pdata::PprofData::from_served(body.clone().into(), &DecodeLimits::default())?;
        let stored = ProfileBatch::new(vec![
            ProfileRecord::new(record.labels.clone(), served),
            record.clone(),
        ]);
        std::fs::write(
            root.join("corpus/storage_record").join(&name),
            encode_batch(&stored),
        )?;
        let req = to_otlp(&[record]);
        std::fs::write(
            root.join("corpus/from_otlp").join(format!("{name}.otlp")),
            req.encode_to_vec(),
        )?;
        let json = profcol_pdata::otlp::json::to_otlp_json_string(&req, false)?;
        std::fs::write(
            root.join("corpus/otlp_json").join(format!("{name}.json")),
            &json,
        )?;
        let pb = req.encode_to_vec();
        for limits in [0x00u8, 0x3f] {
            std::fs::write(
                root.join("corpus/otlp_check")
                    .join(format!("{name}.{limits:02x}")),
                [&[limits][..], &pb].concat(),
            )?;
        }
        let receive = root.join("corpus/otlp_receive");
        // Selector: bits 0-1 the encoding, bit 2 HTTP (else gRPC), bit 3 JSON.
        let mut grpc = vec![0u8, 0];
        grpc.extend_from_slice(&(pb.len() as u32).to_be_bytes());
        grpc.extend_from_slice(&pb);
        std::fs::write(receive.join(format!("{name}.grpc")), grpc)?;
        let with = |selector: u8, body: &[u8]| [&[selector][..], body].concat();
        std::fs::write(receive.join(format!("{name}.http")), with(0x04, &pb))?;
        let gz = profcol_pdata::pprof::gzip(&pb);
        std::fs::write(receive.join(format!("{name}.http.gz")), with(0x05, &gz))?;
        std::fs::write(
            receive.join(format!("{name}.http.json")),
            with(0x0c, json.as_bytes()),
        )?;
    }
    Ok(())
}

/// The gunzipped `jfr` part of the agent's captured upload (its first
/// line names the multipart boundary).
fn agent_recording(upload: &[u8]) -> Option<Vec<u8>> {
    let first = upload.split(|&b| b == b'\r').next()?;
    let boundary = std::str::from_utf8(first.strip_prefix(b"--")?).ok()?;
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let parts = profcol_pdata::ingest::multipart::parse(
        &content_type,
        &bytes::Bytes::copy_from_slice(upload),
    )
    .ok()?;
    let jfr = parts.iter().find(|p| p.name == "jfr")?;
    profcol_pdata::pprof::decompress(&jfr.body, 1 << 24)
        .ok()
        .map(|b| b.into_owned())
}
