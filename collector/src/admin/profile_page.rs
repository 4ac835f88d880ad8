//! `GET /profile?receiver=<component id>&job=<job key>&type=<profile type>`:
//! the last successful profile of one scrape job (after the delta, as it
//! was handed to the exporters), kept by the receiver
//! ([`profcol_receiver::LastProfiles`]), shown as a flame graph rendered
//! here (the SVG inline, with inferno's script for click-to-zoom and
//! search), with a sample type switch (`&sample_type=<index or name>`).
//! `&format=folded` gives the folded stacks as text, `&format=pprof` the
//! profile as gzipped pprof (the delta values for deltas), `&format=svg`
//! the bare SVG. `job` is the job's [`TargetStatus::key`] in decimal, `type`
//! its `profile_type`: what `/targets` links to.
//!
//! [`TargetStatus::key`]: profcol_receiver::TargetStatus::key

use super::flame;
use super::layout::{escape, page, Nav};
use super::AdminState;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use profcol_receiver::status::rfc3339;
use profcol_receiver::{KeptProfile, TargetStatus};
use std::collections::HashMap;
use std::fmt::Write;
use std::time::{Duration, SystemTime};

/// Page-only styles: the flame graph takes the page's width.
const STYLE: &str = "<style>.fg-svg svg{width:100%;height:auto;display:block}\
.fg-bar{display:flex;gap:1em;align-items:center;flex-wrap:wrap;margin:.6em 0}\
.fg-bar input{min-width:22em;padding:3px 6px}.fg-types b{padding:0 .2em}</style>";

/// Wires the page's search box and unzoom button to inferno's functions
/// once the inline SVG's own script has defined them.
const SCRIPT: &str = r#"<script>(function(){
if (typeof init !== "function") return;
init(null);
var box = document.getElementById("fg-term");
var p = get_params();
if (p.s) box.value = p.s;
box.addEventListener("input", function () {
  if (searching) search_prompt();
  if (box.value) { try { search(box.value); } catch (e) {} }
});
document.getElementById("fg-unzoom").addEventListener("click", function () {
  unzoom();
  var q = get_params(); delete q.x; delete q.y;
  history.replaceState(null, null, parse_params(q));
});
})();</script>"#;

enum Format {
    Html,
    Folded,
    Pprof,
    Svg,
}

/// What went wrong, as a status and a sentence.
struct Problem(StatusCode, String);

pub async fn handler(
    State(s): State<AdminState>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let format = match q.get("format").map(String::as_str) {
        None | Some("" | "html") => Format::Html,
        Some("folded") => Format::Folded,
        Some("pprof") => Format::Pprof,
        Some("svg") => Format::Svg,
        Some(other) => {
            return problem(
                &Format::Html,
                Problem(
                    StatusCode::BAD_REQUEST,
                    format!("unknown format {other:?}: use html, folded, pprof or svg"),
                ),
            )
        }
    };
    match render(&s, &q, &format).await {
        Ok(r) => r,
        Err(p) => problem(&format, p),
    }
}

fn param<'a>(q: &'a HashMap<String, String>, name: &str) -> Result<&'a str, Problem> {
    q.get(name).map(String::as_str).filter(|v| !v.is_empty()).ok_or_else(|| {
        Problem(
            StatusCode::BAD_REQUEST,
            format!("the {name} parameter is missing: /profile needs receiver, job and type, as linked from /targets"),
        )
    })
}

/// The kept profile and the job's status (when the job still runs).
fn find(
    s: &AdminState,
    receiver: &str,
    job: &str,
    profile_type: &str,
) -> Result<(KeptProfile, Option<TargetStatus>), Problem> {
    let not_found = |m: String| Problem(StatusCode::NOT_FOUND, m);
    let key = parse_job_key(job).ok_or_else(|| {
        Problem(
            StatusCode::BAD_REQUEST,
            format!("job {job:?} is not a job key (a decimal number, as linked from /targets)"),
        )
    })?;
    let receivers = s.receivers.lock();
    let Some(handle) = receivers
        .iter()
        .find(|(id, _)| id.to_string() == receiver)
        .map(|(_, r)| &r.handle)
    else {
        return Err(not_found(format!("no receiver {receiver:?} is running")));
    };
    let status = handle
        .targets()
        .into_iter()
        .find(|t| t.key == key && t.profile_type == profile_type);
    if let Some(kept) = handle.last_profile(key, profile_type) {
        return Ok((kept, status));
    }
    Err(not_found(match status {
        None => format!(
            "receiver {receiver:?} has no {profile_type} job {job}: its target is gone, or the link is stale"
        ),
        Some(st) => {
            let why = match (&st.last_success, &st.last_error) {
                (None, Some(e)) => format!("it has not been scraped successfully yet (last error: {e})"),
                (None, None) => "it has not been scraped yet".to_string(),
                (Some(_), _) => "its first scrape only set the baseline of a cumulative profile's delta, its last profile was evicted to stay within service.telemetry.metrics.kept_profiles_mib, or keeping is disabled (kept_profiles_mib: 0)".to_string(),
            };
            format!("No profile is kept for {} {profile_type}: {why}.", st.instance)
        }
    }))
}

async fn render(
    s: &AdminState,
    q: &HashMap<String, String>,
    format: &Format,
) -> Result<Response, Problem> {
    let receiver = param(q, "receiver")?;
    let job = param(q, "job")?;
    let profile_type = param(q, "type")?;
    let (kept, status) = find(s, receiver, job, profile_type)?;
    if let Format::Pprof = format {
        let data = kept.data.clone();
        let body = tokio::task::spawn_blocking(move || data.pprof_gzip())
            .await
            .map_err(|e| Problem(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        let name = format!("attachment; filename=\"{}.pb.gz\"", file_name(profile_type));
        return Ok((
            [
                (header::CONTENT_TYPE, "application/octet-stream".to_string()),
                (header::CONTENT_DISPOSITION, name),
            ],
            body,
        )
            .into_response());
    }
    let ctx = Context {
        receiver: receiver.to_string(),
        job: job.to_string(),
        profile_type: profile_type.to_string(),
        status,
        asked: q.get("sample_type").cloned(),
    };
    let html = matches!(format, Format::Html);
    let folded = matches!(format, Format::Folded);
    let rendered = tokio::task::spawn_blocking(move || prepare(&ctx, &kept, html, folded))
        .await
        .map_err(|e| Problem(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
    Ok(match format {
        Format::Folded => (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            rendered,
        )
            .into_response(),
        Format::Svg => ([(header::CONTENT_TYPE, "image/svg+xml")], rendered).into_response(),
        _ => Html(rendered).into_response(),
    })
}

/// A job key as `/targets` links it: the `u64` in decimal, digits only.
fn parse_job_key(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn file_name(profile_type: &str) -> String {
    profile_type
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

struct Context {
    receiver: String,
    job: String,
    profile_type: String,
    status: Option<TargetStatus>,
    asked: Option<String>,
}

impl Context {
    /// A link to this job's page with `extra` parameters.
    fn href(&self, extra: &[(&str, &str)]) -> String {
        let mut h = format!(
            "/profile?receiver={}&job={}&type={}",
            enc(&self.receiver),
            enc(&self.job),
            enc(&self.profile_type)
        );
        for (k, v) in extra {
            let _ = write!(h, "&{k}={}", enc(v));
        }
        escape(&h)
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The folded text, the SVG or the whole page, on a blocking thread.
fn prepare(ctx: &Context, kept: &KeptProfile, html: bool, folded: bool) -> Result<String, Problem> {
    let bad = |m: String| Problem(StatusCode::BAD_REQUEST, m);
    let p = kept.data.to_profile();
    let index = flame::sample_type_index(&p, ctx.asked.as_deref()).map_err(bad)?;
    let types = flame::sample_types(&p);
    let (ty, unit) = types.get(index).cloned().unwrap_or_default();
    let (time, duration) = (p.time_nanos, p.duration_nanos);
    let lines = flame::folded(p, index);
    if folded {
        return Ok(flame::folded_text(&lines));
    }
    let instance = ctx.status.as_ref().map_or("", |s| s.instance.as_str());
    let title = format!("{instance} {} · {ty}/{unit}", ctx.profile_type);
    let svg = flame::svg(&lines, &title, &unit);
    if !html {
        return svg.map_err(|m| Problem(StatusCode::NOT_FOUND, m));
    }
    let delta = kept.data.overlay().is_some();
    let mut body = format!(
        "<h1>{} · {}</h1>",
        escape(if instance.is_empty() {
            "(target gone)"
        } else {
            instance
        }),
        escape(&ctx.profile_type)
    );
    let total = flame::total(&lines);
    let _ = write!(
        body,
        "<p>Sample type <b>{}</b> ({}) · total <b>{}</b>{} · {} stacks · {}</p>",
        escape(&ty),
        escape(&unit),
        escape(&flame::human(total, &unit)),
        if unit.is_empty() || flame::human(total, &unit).ends_with(&unit) {
            String::new()
        } else {
            format!(" ({} {})", total, escape(&unit))
        },
        lines.len(),
        window(time, duration, delta, kept.scraped_at),
    );
    let _ = write!(
        body,
        "<p class=muted>receiver <code>{}</code> · job <code>{}</code>{}</p>",
        escape(&ctx.receiver),
        escape(&ctx.job),
        ctx.status.as_ref().map_or(String::new(), |s| format!(
            " · labels <code>{}</code>",
            escape(
                &s.labels
                    .iter()
                    .filter(|(k, _)| !k.starts_with("__"))
                    .map(|(k, v)| format!("{k}={v:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        )),
    );
    body.push_str("<p class=fg-types>Sample type: ");
    for (i, (t, u)) in types.iter().enumerate() {
        if i > 0 {
            body.push_str(" · ");
        }
        let label = escape(&format!("{t}/{u}"));
        if i == index {
            let _ = write!(body, "<b>{label}</b>");
        } else {
            let idx = i.to_string();
            let _ = write!(
                body,
                "<a class=fg-type href=\"{}\">{label}</a>",
                ctx.href(&[("sample_type", &idx)])
            );
        }
    }
    let idx = index.to_string();
    let _ = write!(
        body,
        "</p><div class=fg-bar><input id=fg-term type=search placeholder=\"Search frames (regular expression)\" aria-label=\"Search frames\">\
         <button type=button id=fg-unzoom>Reset zoom</button>\
         <span>Download: <a href=\"{}\">folded</a> · <a href=\"{}\">pprof</a> · <a href=\"{}\">SVG</a></span></div>",
        ctx.href(&[("sample_type", &idx), ("format", "folded")]),
        ctx.href(&[("format", "pprof")]),
        ctx.href(&[("sample_type", &idx), ("format", "svg")]),
    );
    let mut script = "";
    match &svg {
        Ok(svg) => {
            let inline = flame::inline(svg).replacen(flame::ONLOAD, "", 1);
            let _ = write!(body, "<div class=fg-svg>{inline}</div>");
            script = SCRIPT;
        }
        Err(m) => {
            let _ = write!(body, "<p class=warn>{}</p>", escape(m));
        }
    }
    body.push_str(script);
    let head = STYLE;
    Ok(page(
        &format!("{instance} {} flame graph", ctx.profile_type),
        Nav::Targets,
        head,
        &body,
    ))
}

/// The window the profile covers: `[start, end)` for a delta or a profile
/// with a duration, else the instant it was taken.
fn window(time: i64, duration: i64, delta: bool, scraped_at: SystemTime) -> String {
    let at = |ns: i64| {
        rfc3339(SystemTime::UNIX_EPOCH + Duration::from_nanos(u64::try_from(ns).unwrap_or(0)))
    };
    let what = if delta {
        "delta of a cumulative profile"
    } else {
        "as served"
    };
    if time > 0 && duration > 0 {
        format!(
            "window [{}, {}) ({:.1} s, {what})",
            at(time),
            at(time.saturating_add(duration)),
            duration as f64 / 1e9
        )
    } else if time > 0 {
        format!("taken at {} ({what})", at(time))
    } else {
        format!("scraped at {} ({what})", rfc3339(scraped_at))
    }
}

fn problem(format: &Format, Problem(code, message): Problem) -> Response {
    match format {
        Format::Html => {
            let body = format!(
                "<h1>No flame graph</h1><p>{}</p><p><a href=\"/targets\">Back to the targets</a></p>",
                escape(&message)
            );
            (code, Html(page("Profile", Nav::Targets, "", &body))).into_response()
        }
        _ => (
            code,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("{message}\n"),
        )
            .into_response(),
    }
}

#[cfg(test)]
#[path = "profile_page_tests.rs"]
mod tests;
