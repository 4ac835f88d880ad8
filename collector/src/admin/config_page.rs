//! The `/config` page: the running configuration as `profcol print-config`
//! prints it (typed, defaults written out, secrets redacted by type: see
//! [`crate::effective`]), and
//! when the last load or reload happened and how it went (the change
//! summary, or the problems that made profcol keep the previous
//! configuration). The text is kept in [`AdminState::config_yaml`], set at
//! start and after every applied reload.

use super::layout::{escape, page, Nav};
use super::AdminState;
use crate::reload::status::Outcome;
use axum::extract::State;
use axum::response::Html;
use profcol_receiver::status::rfc3339;
use std::sync::PoisonError;
use std::time::SystemTime;

pub async fn html(State(s): State<AdminState>) -> Html<String> {
    let yaml = s
        .config_yaml
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let (at, outcome) = s.reload.status.last();
    Html(render(&yaml, at, &outcome))
}

/// The whole page.
pub fn render(yaml: &str, at: SystemTime, outcome: &Outcome) -> String {
    let at = escape(&rfc3339(at));
    let when = format!("<time datetime=\"{at}\" title=\"{at}\">{at}</time>");
    let status = match outcome {
        Outcome::Started => {
            format!("<p id=reload class=up>Loaded at start-up, {when}; not reloaded since.</p>")
        }
        Outcome::Reloaded { summary } => format!(
            "<p id=reload><span class=up>Last reload {when}: ok</span> ({})</p>",
            escape(summary)
        ),
        Outcome::Failed { problems } => format!(
            "<div id=reload><p class=down>Last reload {when} failed; the configuration below \
             (the previous one) keeps running. The problems:</p><pre class=down>{}</pre></div>",
            escape(problems)
        ),
    };
    let body = format!(
        "<h1>Configuration</h1>{status}<p class=muted>The effective merged configuration, \
         secrets redacted (the same text as <code>profcol print-config</code>).</p>\
         <pre id=config-yaml>{}</pre>",
        escape(yaml)
    );
    page("Config", Nav::Config, STYLE, &body)
}

const STYLE: &str = "<style>#config-yaml{border:1px solid var(--line);padding:.8em;\
background:var(--head)}</style>";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_text_with_markup_renders_as_text_and_secrets_stay_hidden() {
        let state = AdminState::new(profcol_runtime::Telemetry::default());
        let settings = crate::settings::from_text(
            "t.yaml",
            concat!(
                "receivers:\n  pyroscope_scrape/x:\n    targets: [{__address__: 'h:1', ",
                "service_name: \"<script>alert(1)</script>\"}]\n",
                "exporters:\n  otlp_http:\n    endpoint: http://e\n    headers: {Authorization: Bearer s3cr3t}\n",
                "service:\n  pipelines: {profiles: {receivers: [pyroscope_scrape/x], exporters: [otlp_http]}}\n",
                "  telemetry:\n    metrics:\n      basic_auth: {username: u, password: hunter2}\n",
            ),
        )
        .unwrap();
        state.set_config(&settings);
        let yaml = state
            .config_yaml
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let html = render(&yaml, SystemTime::UNIX_EPOCH, &Outcome::Started);
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(!html.contains("s3cr3t"), "{html}");
        assert!(!html.contains("hunter2"), "{html}");
        assert!(html.contains("password: &lt;secret&gt;"), "{html}");
        assert!(html.contains("Loaded at start-up, <time datetime=\"1970-01-01T00:00:00.000Z\""));
    }

    #[test]
    fn reload_outcomes_show_with_their_text_escaped() {
        let failed = Outcome::Failed {
            problems: "receivers::x: <b>bad</b>".into(),
        };
        let html = render("a: 1\n", SystemTime::UNIX_EPOCH, &failed);
        assert!(html.contains("failed; the configuration below"));
        assert!(html.contains("<pre class=down>receivers::x: &lt;b&gt;bad&lt;/b&gt;</pre>"));
        let ok = Outcome::Reloaded {
            summary: "restarted <x>".into(),
        };
        let html = render("a: 1\n", SystemTime::UNIX_EPOCH, &ok);
        assert!(
            html.contains(": ok</span> (restarted &lt;x&gt;)</p>"),
            "{html}"
        );
        assert!(html.contains("<pre id=config-yaml>a: 1\n</pre>"));
    }
}
