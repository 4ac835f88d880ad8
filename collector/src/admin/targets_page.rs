//! The `/targets` page a person reads: every scrape job of every receiver,
//! grouped by receiver and by job, with a `7/10 up` summary per group and
//! one row per target × profile type (health, URL, labels, last scrape,
//! duration, last error, a link to the job's flame graph).
//!
//! The page works without JavaScript; with it, a small inline script
//! filters rows by state and free text, turns scrape times into "3.2s ago"
//! every second and refreshes the content every 10 s (fetching this page
//! again), keeping the scroll position, the filter and the open
//! `<details>`. Every piece of outside text goes through [`escape`].
//!
//! The flame graph link is `/profile?receiver=<component id>&job=<job
//! key>&type=<profile type>`, where the job key is the receiver's `u64` key
//! of the job ([`TargetStatus::key`], decimal).

use super::layout::{escape, page, Nav};
use profcol_receiver::status::{Health, TargetStatus};
use profcol_receiver::ClusterStatus;
use profcol_runtime::ClusterView;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

/// One receiver's jobs as the page shows them.
pub struct ReceiverTargets {
    pub id: String,
    pub targets: Vec<TargetStatus>,
    pub share: Option<ClusterStatus>,
}

/// The whole page at time `now`.
pub fn render(
    receivers: &[ReceiverTargets],
    cluster: Option<&ClusterView>,
    now: SystemTime,
) -> String {
    let body = format!(
        "<h1>Targets</h1>{FILTERS}<div id=targets-content>{}</div>",
        content(receivers, cluster, now)
    );
    page("Targets", Nav::Targets, HEAD, &body)
}

/// The part the script replaces on refresh.
fn content(
    receivers: &[ReceiverTargets],
    cluster: Option<&ClusterView>,
    now: SystemTime,
) -> String {
    let mut out = String::new();
    if let Some(view) = cluster {
        let _ = write!(
            out,
            "<p>Cluster: this node is <b>{}</b>; {} live members: {}.</p>",
            escape(&view.local),
            view.members.len(),
            escape(&view.members.join(", "))
        );
    }
    if receivers.is_empty() {
        out.push_str("<p>No scrape receivers are running.</p>");
    }
    for r in receivers {
        out.push_str(&receiver_html(r, now));
    }
    out
}

fn summary(list: &[&TargetStatus]) -> String {
    let up = list.iter().filter(|t| t.health == Health::Up).count();
    let down = list.iter().filter(|t| t.health == Health::Down).count();
    let class = if down > 0 { "down" } else { "up" };
    let mut out = format!("<span class=\"sum {class}\">{up}/{} up</span>", list.len());
    let waiting = list
        .iter()
        .filter(|t| t.waiting_for_pipeline_since.is_some())
        .count();
    if waiting > 0 {
        let _ = write!(
            out,
            " <span class=\"sum warn\">{waiting} waiting for the pipeline</span>"
        );
    }
    out
}

fn receiver_html(r: &ReceiverTargets, now: SystemTime) -> String {
    let all: Vec<&TargetStatus> = r.targets.iter().collect();
    let mut out = format!(
        "<section class=receiver data-receiver=\"{id}\"><h2>{id} {}</h2>",
        summary(&all),
        id = escape(&r.id)
    );
    if let Some(c) = &r.share {
        out.push_str(&share_html(c));
    }
    if r.targets.is_empty() {
        out.push_str("<p class=muted>No targets.</p></section>");
        return out;
    }
    let mut jobs: BTreeMap<&str, Vec<&TargetStatus>> = BTreeMap::new();
    for t in &r.targets {
        jobs.entry(t.job.as_str()).or_default().push(t);
    }
    out.push_str(TABLE_HEAD);
    for (job, list) in jobs {
        let _ = write!(
            out,
            "<tbody class=group><tr class=gh><th colspan=9>job <b>{}</b> {}</th></tr>",
            escape(job),
            summary(&list)
        );
        for t in list {
            out.push_str(&row(&r.id, t, now));
        }
        out.push_str("</tbody>");
    }
    out.push_str("</table></section>");
    out
}

const TABLE_HEAD: &str = concat!(
    "<table class=targets><colgroup><col style=\"width:6%\"><col style=\"width:20%\">",
    "<col style=\"width:10%\"><col style=\"width:16%\"><col style=\"width:9%\">",
    "<col style=\"width:7%\"><col style=\"width:9%\"><col style=\"width:17%\">",
    "<col style=\"width:6%\"></colgroup>",
    "<thead><tr><th>Health</th><th>URL</th><th>Profile type</th><th>Labels</th>",
    "<th>Last scrape</th><th>Duration</th><th>Samples</th><th>Last error</th>",
    "<th>Profile</th></tr></thead>",
);

fn health_name(h: Health) -> &'static str {
    match h {
        Health::Up => "up",
        Health::Down => "down",
        Health::Unknown => "unknown",
    }
}

fn row(receiver: &str, t: &TargetStatus, now: SystemTime) -> String {
    let health = health_name(t.health);
    let k = escape(&format!("{receiver}/{}", t.key));
    let mut last = match &t.last_scrape {
        Some(at) => time_html(at, now),
        None => "<span class=muted>never</span>".into(),
    };
    last.push_str(&pipeline_wait_html(t, now));
    let duration = match t.last_scrape {
        Some(_) => duration_ms(t.last_scrape_duration_seconds),
        None => String::new(),
    };
    let samples = match t.last_scrape {
        Some(_) => format!("{} · {}", t.last_scrape_samples, bytes(t.last_scrape_bytes)),
        None => String::new(),
    };
    let error = match &t.last_error {
        Some(e) => error_html(&k, e),
        None => String::new(),
    };
    let flame = format!(
        "/profile?receiver={}&job={}&type={}",
        url_encode(receiver),
        t.key,
        url_encode(&t.profile_type)
    );
    format!(
        "<tr class=t data-health={health}><td class={health}>{health}</td>\
         <td><code>{url}</code></td><td>{ptype}</td><td>{labels}</td><td>{last}</td>\
         <td class=num>{duration}</td><td class=num>{samples}</td><td>{error}</td>\
         <td><a class=flame href=\"{flame}\">flame graph</a></td></tr>",
        url = escape(&t.url),
        ptype = escape(&t.profile_type),
        labels = labels_html(&k, t),
        flame = escape(&flame),
    )
}

/// A job held by its pipeline (a full sending queue with
/// `block_on_overflow`): since when, or how long the last wait was and how
/// many scrapes it skipped.
fn pipeline_wait_html(t: &TargetStatus, now: SystemTime) -> String {
    if let Some(since) = &t.waiting_for_pipeline_since {
        return format!(
            "<div class=warn>waiting for the pipeline since {}</div>",
            time_html(since, now)
        );
    }
    if t.last_pipeline_wait_seconds > 0.0 && t.scrapes_skipped_total > 0 {
        return format!(
            "<div class=muted>last pipeline wait {:.1}s; {} scrapes skipped</div>",
            t.last_pipeline_wait_seconds, t.scrapes_skipped_total
        );
    }
    String::new()
}

fn pairs(m: &BTreeMap<String, String>) -> String {
    m.iter()
        .map(|(k, v)| format!("{}=&quot;{}&quot;", escape(k), escape(v)))
        .collect::<Vec<_>>()
        .join("<br>")
}

fn labels_html(k: &str, t: &TargetStatus) -> String {
    let mut out = format!(
        "<details data-k=\"{k}/labels\"><summary>{} labels</summary><code>{}</code>",
        t.labels.len(),
        pairs(&t.labels)
    );
    if !t.discovered_labels.is_empty() {
        let _ = write!(
            out,
            "<div class=muted>discovered:</div><code>{}</code>",
            pairs(&t.discovered_labels)
        );
    }
    out.push_str("</details>");
    out
}

/// The whole error, folded under its first line.
fn error_html(k: &str, e: &str) -> String {
    let first = e.lines().next().unwrap_or_default();
    format!(
        "<details class=err data-k=\"{k}/error\"><summary class=down>{}</summary><pre>{}</pre></details>",
        escape(first),
        escape(e)
    )
}

/// `<time>` with the RFC 3339 time on hover and "3.2s ago" as text.
fn time_html(at: &str, now: SystemTime) -> String {
    let text = match parse_rfc3339(at) {
        Some(t) => ago(now.duration_since(t).unwrap_or_default()),
        None => at.to_string(),
    };
    format!(
        "<time class=ago datetime=\"{a}\" title=\"{a}\">{}</time>",
        escape(&text),
        a = escape(at)
    )
}

/// "3.2s ago", "4m 12s ago", "3h 5m ago", "2d 3h ago" (the script's `ago`
/// says the same).
pub fn ago(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 60.0 {
        return format!("{s:.1}s ago");
    }
    let m = d.as_secs() / 60;
    if m < 60 {
        return format!("{m}m {}s ago", d.as_secs() % 60);
    }
    let h = m / 60;
    if h < 24 {
        return format!("{h}h {}m ago", m % 60);
    }
    format!("{}d {}h ago", h / 24, h % 24)
}

/// `12.3 ms`.
pub fn duration_ms(seconds: f64) -> String {
    format!("{:.1} ms", seconds * 1000.0)
}

fn bytes(n: u64) -> String {
    if n < 1024 {
        format!("{n} B")
    } else if n < 1024 * 1024 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else {
        format!("{:.1} MiB", n as f64 / (1024.0 * 1024.0))
    }
}

/// `2026-11-25T11:40:00.123Z` (as [`profcol_receiver::status::rfc3339`]
/// writes it) back to a time; `None` for anything else.
fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || !s.ends_with('Z') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<u64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let millis = match s.get(19..20) {
        Some(".") => num(20..s.len() - 1).filter(|_| s.len() == 24)?,
        _ => 0,
    };
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let days = days_from_civil(y as i64, mo as i64, d as i64);
    let secs = u64::try_from(days).ok()? * 86_400 + h * 3600 + mi * 60 + sec;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(millis))
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Percent-encoding for a query value (everything but unreserved bytes).
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// `This node owns 97 of 300 targets; owned elsewhere: n1 101, n2 102.`
pub fn share_html(c: &ClusterStatus) -> String {
    let elsewhere: usize = c.targets_elsewhere.values().sum();
    let others: Vec<String> = c
        .targets_elsewhere
        .iter()
        .map(|(node, n)| format!("{} {n}", escape(node)))
        .collect();
    format!(
        "<p>This node owns {} of {} targets; owned elsewhere: {}.</p>",
        c.owned_targets,
        c.owned_targets + elsewhere,
        if others.is_empty() {
            "none".to_string()
        } else {
            others.join(", ")
        }
    )
}

/// The controls above the content (not replaced on refresh).
const FILTERS: &str = concat!(
    "<div class=filters><label>State <select id=f-state>",
    "<option value=\"\">all</option><option value=up>up</option>",
    "<option value=down>down</option><option value=unknown>unknown</option></select></label>",
    "<input id=f-text type=search placeholder=\"Filter by URL, label, error…\" size=40>",
    "<span id=f-count class=muted></span>",
    "<label><input type=checkbox id=f-auto checked> refresh every 10 s</label>",
    "<span id=refreshed class=muted></span></div>",
);

const HEAD: &str = concat!(
    "<style>",
    ".filters{display:flex;flex-wrap:wrap;gap:1em;align-items:center;margin:.4em 0 .8em}",
    ".filters input[type=search]{padding:3px 6px}",
    "table.targets td.num{white-space:nowrap}",
    "table.targets tr.gh th{background:none;border-bottom:2px solid var(--line);padding-top:.8em}",
    ".sum{font-size:13px;margin-left:.5em}",
    "details summary{cursor:pointer}details.err summary{overflow:hidden;",
    "text-overflow:ellipsis;white-space:nowrap}",
    "</style>",
    "<script>",
    include_str!("targets_page.js"),
    "</script>",
);

#[cfg(test)]
mod tests {
    use super::*;

    fn status(url: &str, health: Health) -> TargetStatus {
        TargetStatus {
            key: 42,
            component: "pyroscope_scrape/a".into(),
            job: "j".into(),
            instance: "127.0.0.1:1".into(),
            profile_type: "process_cpu".into(),
            url: url.into(),
            health,
            last_error: None,
            last_scrape: None,
            last_success: None,
            last_scrape_duration_seconds: 0.0,
            last_scrape_bytes: 0,
            last_scrape_samples: 0,
            last_scrape_truncated_stacks: 0,
            scrapes_total: 0,
            waiting_for_pipeline_since: None,
            last_pipeline_wait_seconds: 0.0,
            scrapes_skipped_total: 0,
            labels: BTreeMap::new(),
            discovered_labels: BTreeMap::new(),
        }
    }

    fn one(targets: Vec<TargetStatus>) -> Vec<ReceiverTargets> {
        vec![ReceiverTargets {
            id: "pyroscope_scrape/a".into(),
            targets,
            share: None,
        }]
    }

    #[test]
    fn labels_and_errors_with_markup_render_as_text() {
        let mut t = status("http://h/<b>x</b>", Health::Down);
        t.labels
            .insert("evil".into(), "<script>alert(1)</script>".into());
        t.last_error = Some("HTTP 500: <img src=x onerror=alert(2)>\nsecond line".into());
        t.last_scrape = Some("2026-11-25T11:40:00.000Z".into());
        let html = render(&one(vec![t]), None, SystemTime::UNIX_EPOCH);
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(!html.contains("<img src=x"), "{html}");
        assert!(!html.contains("<b>x</b>"), "{html}");
        assert!(html.contains("evil=&quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;"));
        assert!(html.contains(
            "<summary class=down>HTTP 500: &lt;img src=x onerror=alert(2)&gt;</summary>"
        ));
        assert!(
            html.contains("<pre>HTTP 500: &lt;img src=x onerror=alert(2)&gt;\nsecond line</pre>")
        );
        assert!(html.contains("http://h/&lt;b&gt;x&lt;/b&gt;"));
    }

    #[test]
    fn groups_count_up_targets_and_rows_carry_times_and_links() {
        let mut a = status("http://a/", Health::Up);
        a.last_scrape = Some("2026-11-25T11:40:00.000Z".into());
        a.last_scrape_duration_seconds = 0.012_345_678;
        let mut b = status("http://b/", Health::Down);
        b.job = "other job".into();
        b.profile_type = "godeltaprof memory".into();
        let c = status("http://c/", Health::Unknown);
        let now = parse_rfc3339("2026-11-25T11:40:03.250Z").unwrap_or(SystemTime::UNIX_EPOCH);
        let html = render(&one(vec![a, b, c]), None, now);
        assert!(
            html.contains("pyroscope_scrape/a <span class=\"sum down\">1/3 up</span>"),
            "{html}"
        );
        assert!(
            html.contains("job <b>j</b> <span class=\"sum up\">1/2 up</span>"),
            "{html}"
        );
        assert!(html.contains("job <b>other job</b> <span class=\"sum down\">0/1 up</span>"));
        assert!(html.contains(
            "<time class=ago datetime=\"2026-11-25T11:40:00.000Z\" title=\"2026-11-25T11:40:00.000Z\">3.2s ago</time>"
        ), "{html}");
        assert!(html.contains("<td class=num>12.3 ms</td>"));
        assert!(html.contains(
            "href=\"/profile?receiver=pyroscope_scrape%2Fa&amp;job=42&amp;type=godeltaprof%20memory\""
        ), "{html}");
        assert_eq!(html.matches("<tr class=t ").count(), 3);
    }

    #[test]
    fn a_job_held_by_its_pipeline_says_so() {
        let mut held = status("http://a/", Health::Up);
        held.waiting_for_pipeline_since = Some("2026-11-25T11:40:00.000Z".into());
        let mut after = status("http://b/", Health::Up);
        after.last_pipeline_wait_seconds = 31.3;
        after.scrapes_skipped_total = 3;
        let quiet = status("http://c/", Health::Up);
        let now = parse_rfc3339("2026-11-25T11:40:12.000Z").unwrap_or(SystemTime::UNIX_EPOCH);
        let html = render(&one(vec![held, after, quiet]), None, now);
        assert!(
            html.contains("job <b>j</b> <span class=\"sum up\">3/3 up</span> <span class=\"sum warn\">1 waiting for the pipeline</span>"),
            "{html}"
        );
        assert!(html.contains(
            "<div class=warn>waiting for the pipeline since <time class=ago datetime=\"2026-11-25T11:40:00.000Z\" title=\"2026-11-25T11:40:00.000Z\">12.0s ago</time></div>"
        ), "{html}");
        assert!(
            html.contains("<div class=muted>last pipeline wait 31.3s; 3 scrapes skipped</div>"),
            "{html}"
        );
        // The receiver's heading, the job's heading, the two rows.
        assert_eq!(html.matches("pipeline").count(), 4, "{html}");
    }

    #[test]
    fn times_parse_back_and_read_as_ago() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_764_070_800_123);
        let s = profcol_receiver::status::rfc3339(t);
        assert_eq!(parse_rfc3339(&s), Some(t));
        assert_eq!(parse_rfc3339("yesterday"), None);
        assert_eq!(parse_rfc3339("2026-13-01T00:00:00.000Z"), None);
        assert_eq!(ago(Duration::from_millis(3_240)), "3.2s ago");
        assert_eq!(ago(Duration::from_secs(252)), "4m 12s ago");
        assert_eq!(ago(Duration::from_secs(3 * 3600 + 300)), "3h 5m ago");
        assert_eq!(ago(Duration::from_secs(51 * 3600)), "2d 3h ago");
        assert_eq!(duration_ms(0.000_5), "0.5 ms");
    }

    #[test]
    fn a_share_names_the_other_owners() {
        let c = ClusterStatus {
            local: "a".into(),
            members: vec!["a".into(), "b<".into(), "c".into()],
            owned_targets: 3,
            targets_elsewhere: [("b<".to_string(), 4), ("c".to_string(), 5)].into(),
        };
        assert_eq!(
            share_html(&c),
            "<p>This node owns 3 of 12 targets; owned elsewhere: b&lt; 4, c 5.</p>"
        );
    }

    #[test]
    fn the_cluster_line_is_escaped() {
        let view = ClusterView {
            local: "n<1>".into(),
            members: vec!["n<1>".into(), "n2".into()],
        };
        let html = render(&[], Some(&view), SystemTime::UNIX_EPOCH);
        assert!(html.contains("this node is <b>n&lt;1&gt;</b>; 2 live members: n&lt;1&gt;, n2."));
        assert!(html.contains("No scrape receivers are running."));
    }
}
