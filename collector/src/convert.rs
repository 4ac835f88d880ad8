//! `profcol convert`: converts profile files between pprof (gzip, zstd or
//! raw), OTLP profiles (protobuf or JSON `ExportProfilesServiceRequest`) and
//! folded stacks, offline.
//!
//! Inputs are files or directories (read recursively, in name order, taking
//! files ending in .pb, .gz, .zst, .pprof, .prof, .json or .otlp). Each
//! input is read as pprof first, then as OTLP; a `.json` file is OTLP JSON.
//! Every profile read from a file carries the label `file` (its name), which
//! becomes a resource attribute in OTLP output.
//!
//! Output, by `--to`:
//! - `otlp` / `otlp-json`: one request holding every input, written to `-o`
//!   or stdout; when `-o` is a directory, one request per input
//!   (`<name>.otlp.pb` / `<name>.otlp.json`).
//! - `pprof`: gzipped pprof. With one resulting profile, to `-o` or stdout;
//!   with several, `-o` must be a directory (`<name>.pb.gz`, or
//!   `<name>.<n>.pb.gz` when an input holds several profiles).
//! - `folded`: `type/unit;root;…;leaf value` lines, summed over all inputs,
//!   to `-o` or stdout; one `<name>.folded` per input when `-o` is a
//!   directory.

use anyhow::{bail, Context};
use bytes::Bytes;
use profcol_pdata::otlp::collector::ExportProfilesServiceRequest;
use profcol_pdata::otlp::{from_otlp, to_otlp_bytes, OtlpWriter};
use profcol_pdata::pprof::{decompress, folded_pprof, DecodeLimits, PprofView};
use profcol_pdata::{Labels, PprofData, ProfileRecord};
use prost::Message;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Arguments of `profcol convert`.
#[derive(clap::Args, Debug, Clone)]
pub struct ConvertArgs {
    /// Profile files or directories of them (pprof, OTLP protobuf, OTLP JSON).
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// The output format.
    #[arg(long, value_enum)]
    pub to: Format,
    /// Output file, or an existing directory for one output per input;
    /// stdout when absent.
    #[arg(short = 'o', long = "output", value_name = "PATH")]
    pub output: Option<PathBuf>,
}

/// Output formats of `profcol convert`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// OTLP `ExportProfilesServiceRequest`, protobuf.
    Otlp,
    /// OTLP `ExportProfilesServiceRequest`, JSON.
    OtlpJson,
    /// gzipped pprof.
    Pprof,
    /// Folded stacks, one line per sample type and stack.
    Folded,
}

/// The label that names the file a profile was read from.
pub const FILE_LABEL: &str = "file";

/// Runs the conversion.
pub fn run(args: &ConvertArgs) -> anyhow::Result<()> {
    let files = expand_inputs(&args.inputs)?;
    if files.is_empty() {
        bail!("no input files found in {}", display_list(&args.inputs));
    }
    if args.to == Format::Otlp && pprof_to_otlp_fast(&files, args.output.as_deref())? {
        return Ok(());
    }
    let mut inputs = Vec::with_capacity(files.len());
    for f in &files {
        let records = read_profiles(f).with_context(|| format!("reading {}", f.display()))?;
        inputs.push((f.clone(), records));
    }
    let to_dir = args.output.as_deref().filter(|o| o.is_dir());
    match (args.to, to_dir) {
        (Format::Otlp | Format::OtlpJson, Some(dir)) => {
            for (f, records) in &inputs {
                let ext = if args.to == Format::Otlp {
                    "otlp.pb"
                } else {
                    "otlp.json"
                };
                let req = otlp_request(records)?;
                write_file(
                    &dir.join(format!("{}.{ext}", stem(f))),
                    &encode_otlp(&req, args.to)?,
                )?;
            }
        }
        (Format::Otlp | Format::OtlpJson, None) => {
            let all: Vec<ProfileRecord> = inputs.into_iter().flat_map(|(_, r)| r).collect();
            let req = otlp_request(&all)?;
            emit(args.output.as_deref(), &encode_otlp(&req, args.to)?)?;
        }
        (Format::Pprof, Some(dir)) => {
            for (f, records) in &inputs {
                for (i, r) in records.iter().enumerate() {
                    let name = if records.len() == 1 {
                        format!("{}.pb.gz", stem(f))
                    } else {
                        format!("{}.{i}.pb.gz", stem(f))
                    };
                    write_file(&dir.join(name), &r.pprof.pprof_gzip())?;
                }
            }
        }
        (Format::Pprof, None) => {
            let all: Vec<&ProfileRecord> = inputs.iter().flat_map(|(_, r)| r).collect();
            match all.as_slice() {
                [one] => emit(args.output.as_deref(), &one.pprof.pprof_gzip())?,
                [] => bail!("the inputs hold no profiles"),
                many => bail!(
                    "the inputs hold {} profiles; give -o an existing directory to write one file each",
                    many.len()
                ),
            }
        }
        (Format::Folded, Some(dir)) => {
            for (f, records) in &inputs {
                write_file(
                    &dir.join(format!("{}.folded", stem(f))),
                    &folded_text(records),
                )?;
            }
        }
        (Format::Folded, None) => {
            let all: Vec<ProfileRecord> = inputs.into_iter().flat_map(|(_, r)| r).collect();
            emit(args.output.as_deref(), &folded_text(&all))?;
        }
    }
    Ok(())
}

fn display_list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Files named directly, plus every file under named directories.
fn expand_inputs(inputs: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for input in inputs {
        let meta =
            std::fs::metadata(input).with_context(|| format!("cannot read {}", input.display()))?;
        if meta.is_dir() {
            walk(input, &mut out)?;
        } else {
            out.push(input.clone());
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for e in entries {
        if e.is_dir() {
            walk(&e, out)?;
        } else if e.is_file() && looks_like_profile_file(&e) {
            out.push(e);
        }
    }
    Ok(())
}

/// Files picked up from directories (named files are always read).
const PROFILE_EXTENSIONS: [&str; 7] = ["pb", "gz", "zst", "pprof", "prof", "json", "otlp"];

fn looks_like_profile_file(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| PROFILE_EXTENSIONS.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

/// A file name without its profile extensions (`cpu.pb.gz` → `cpu`).
fn stem(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut s = name.as_str();
    for ext in [".gz", ".zst", ".json", ".pb", ".pprof", ".otlp", ".prof"] {
        s = s.strip_suffix(ext).unwrap_or(s);
    }
    for ext in [".pb", ".pprof", ".otlp"] {
        s = s.strip_suffix(ext).unwrap_or(s);
    }
    if s.is_empty() {
        name
    } else {
        s.to_string()
    }
}

/// `--to otlp` when every input is pprof: zero-copy views of the
/// decompressed bodies, checked while converted, one at a time into one
/// reused body buffer, and written straight to OTLP protobuf as it is
/// produced (the same bytes the general path produces, several times faster
/// and in a fraction of the memory). Returns false, having written nothing, when some input is not
/// pprof; the general path then handles (or reports) it.
fn pprof_to_otlp_fast(files: &[PathBuf], output: Option<&Path>) -> anyhow::Result<bool> {
    if files
        .iter()
        .any(|f| f.extension().is_some_and(|e| e == "json"))
    {
        return Ok(false);
    }
    let limits = DecodeLimits::default();
    let mut raw = Vec::new();
    let mut convert_one = |f: &PathBuf, w: &mut OtlpWriter| -> anyhow::Result<bool> {
        let body = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
        if PprofView::decompress_into(&body, &limits, &mut raw).is_err() {
            return Ok(false);
        }
        let labels = Labels::from_pairs([(FILE_LABEL, file_name(f).as_str())]);
        let data = Bytes::from(std::mem::take(&mut raw));
        let ok = w.add_pprof(labels, &data, &limits).is_ok();
        // The view is gone: the buffer is this function's again.
        raw = Vec::from(data);
        Ok(ok)
    };
    match output.filter(|o| o.is_dir()) {
        Some(dir) => {
            let mut writers = Vec::with_capacity(files.len());
            for f in files {
                let mut w = OtlpWriter::new();
                if !convert_one(f, &mut w)? {
                    return Ok(false);
                }
                writers.push((dir.join(format!("{}.otlp.pb", stem(f))), w));
            }
            for (path, w) in writers {
                stream_to(Some(&path), |out| w.write(out))?;
            }
        }
        None => {
            let mut w = OtlpWriter::new();
            for f in files {
                if !convert_one(f, &mut w)? {
                    return Ok(false);
                }
            }
            stream_to(output, |out| w.write(out))?;
        }
    }
    Ok(true)
}

/// Runs `write` on the file at `output` (created or truncated), or on
/// stdout; the output is written as it is produced, never held whole.
fn stream_to(
    output: Option<&Path>,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    match output {
        Some(p) => {
            let file = std::fs::File::create(p)
                .with_context(|| format!("cannot write {}", p.display()))?;
            let mut w = std::io::BufWriter::new(file);
            write(&mut w)
                .and_then(|()| w.flush())
                .with_context(|| format!("cannot write {}", p.display()))
        }
        None => {
            let mut out = std::io::stdout().lock();
            match write(&mut out).and_then(|()| out.flush()) {
                // `profcol convert … | head` is fine.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                r => Ok(r?),
            }
        }
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The OTLP request the exporters would send for `records` (the writer's
/// bytes, read back for JSON and for files).
fn otlp_request(records: &[ProfileRecord]) -> anyhow::Result<ExportProfilesServiceRequest> {
    let bytes = to_otlp_bytes(records);
    Ok(ExportProfilesServiceRequest::decode(bytes.as_slice())?)
}

/// Reads one file as pprof, OTLP protobuf or OTLP JSON.
fn read_profiles(path: &Path) -> anyhow::Result<Vec<ProfileRecord>> {
    let body = std::fs::read(path)?;
    let file_label = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let limits = DecodeLimits::default();
    let is_json = path.extension().is_some_and(|e| e == "json");
    let mut records = if is_json {
        let raw = decompress(&body, limits.max_decompressed_bytes)?;
        let req = profcol_pdata::otlp::json::from_otlp_json(&raw)
            .map_err(|e| anyhow::anyhow!("not an OTLP profiles JSON request: {e}"))?;
        from_otlp(&req)?
    } else {
        match PprofData::from_served(Bytes::from(body.clone()), &limits) {
            Ok(data) => vec![ProfileRecord::new(Labels::new(), data)],
            Err(pprof_err) => {
                let raw = decompress(&body, limits.max_decompressed_bytes)?;
                let req = ExportProfilesServiceRequest::decode(raw.as_ref())
                    .map_err(anyhow::Error::from)
                    .and_then(|req| {
                        if req.resource_profiles.is_empty() {
                            bail!("no resource profiles");
                        }
                        Ok(from_otlp(&req)?)
                    });
                match req {
                    Ok(records) => records,
                    Err(otlp_err) => {
                        bail!("neither pprof ({pprof_err}) nor OTLP profiles ({otlp_err:#})")
                    }
                }
            }
        }
    };
    for r in &mut records {
        r.labels.set(FILE_LABEL, file_label.clone());
    }
    Ok(records)
}

fn encode_otlp(req: &ExportProfilesServiceRequest, format: Format) -> anyhow::Result<Vec<u8>> {
    Ok(match format {
        Format::OtlpJson => {
            let mut v = profcol_pdata::otlp::json::to_otlp_json_string(req, true)?;
            v.push('\n');
            v.into_bytes()
        }
        _ => req.encode_to_vec(),
    })
}

/// Folded lines of all records, equal stacks summed.
fn folded_text(records: &[ProfileRecord]) -> Vec<u8> {
    let mut acc: BTreeMap<String, i64> = BTreeMap::new();
    for r in records {
        for line in folded_pprof(&r.profile()) {
            if let Some((k, v)) = line.rsplit_once(' ') {
                let e = acc.entry(k.to_string()).or_insert(0);
                *e = e.saturating_add(v.parse().unwrap_or(0));
            }
        }
    }
    let mut out = String::new();
    for (k, v) in acc {
        if v != 0 {
            out.push_str(&k);
            out.push(' ');
            out.push_str(&v.to_string());
            out.push('\n');
        }
    }
    out.into_bytes()
}

fn write_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

fn emit(output: Option<&Path>, bytes: &[u8]) -> anyhow::Result<()> {
    stream_to(output, |w| w.write_all(bytes))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn corpus() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../pdata/testdata")
    }

    fn args(inputs: Vec<PathBuf>, to: Format, output: Option<PathBuf>) -> ConvertArgs {
        ConvertArgs { inputs, to, output }
    }

    #[test]
    fn stems() {
        assert_eq!(stem(Path::new("/x/cpu.pb.gz")), "cpu");
        assert_eq!(stem(Path::new("a.otlp.json")), "a");
        assert_eq!(stem(Path::new("heap")), "heap");
        assert_eq!(stem(Path::new(".gz")), ".gz");
    }

    #[test]
    fn pprof_to_otlp_and_back_through_files() {
        let dir = tempfile::tempdir().unwrap();
        let c = corpus();
        let inputs = vec![c.join("cpu.pb.gz"), c.join("heap.pb.gz")];
        for (to, name) in [
            (Format::Otlp, "all.otlp.pb"),
            (Format::OtlpJson, "all.otlp.json"),
        ] {
            let out = dir.path().join(name);
            run(&args(inputs.clone(), to, Some(out.clone()))).unwrap();
            // Read the OTLP back as input: two pprof profiles, same folded stacks.
            let back = read_profiles(&out).unwrap();
            assert_eq!(back.len(), 2, "{name}");
            let want = read_profiles(&inputs[0]).unwrap();
            assert_eq!(
                folded_pprof(&back[0].profile()),
                folded_pprof(&want[0].profile())
            );
            assert_eq!(back[0].labels.get(FILE_LABEL), Some(name));
            if to == Format::OtlpJson {
                // OTLP/JSON: 64-bit integers are strings.
                let text = std::fs::read_to_string(&out).unwrap();
                assert!(text.contains(r#""timeUnixNano": ""#), "{text:.400}");
                assert!(!text.contains(r#""timeUnixNano": 1"#));
            }
        }
        // One file per input into a directory.
        let per = dir.path().join("per");
        std::fs::create_dir(&per).unwrap();
        run(&args(vec![c.clone()], Format::Pprof, Some(per.clone()))).unwrap();
        assert!(per.join("cpu.pb.gz").is_file());
        assert!(per.join("allocs_big.pb.gz").is_file());
        run(&args(inputs.clone(), Format::Folded, Some(per.clone()))).unwrap();
        let folded = std::fs::read_to_string(per.join("cpu.folded")).unwrap();
        assert!(folded
            .lines()
            .all(|l| l.starts_with("samples/count;") || l.starts_with("cpu/nanoseconds;")));
        // Several profiles cannot go to one pprof file.
        let err = run(&args(
            inputs,
            Format::Pprof,
            Some(dir.path().join("x.pb.gz")),
        ))
        .unwrap_err();
        assert!(err.to_string().contains("directory"), "{err}");
    }

    #[test]
    fn fast_otlp_path_writes_what_the_general_path_writes() {
        let dir = tempfile::tempdir().unwrap();
        let files = expand_inputs(&[corpus()]).unwrap();
        let out = dir.path().join("all.otlp.pb");
        run(&args(vec![corpus()], Format::Otlp, Some(out.clone()))).unwrap();
        let mut all = Vec::new();
        for f in &files {
            all.extend(read_profiles(f).unwrap());
        }
        let want = encode_otlp(&profcol_pdata::oracle::to_otlp(&all), Format::Otlp).unwrap();
        assert!(std::fs::read(&out).unwrap() == want);
        // A non-pprof input sends everything through the general path.
        let otlp_in = dir.path().join("in.otlp");
        std::fs::copy(&out, &otlp_in).unwrap();
        assert!(!pprof_to_otlp_fast(&[otlp_in], None).unwrap());
    }

    #[test]
    fn garbage_input_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("page.html");
        std::fs::write(&f, "<html>nope</html>").unwrap();
        let err = run(&args(vec![f], Format::Folded, None)).unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains("page.html") && msg.contains("neither pprof"),
            "{msg}"
        );
    }
}
