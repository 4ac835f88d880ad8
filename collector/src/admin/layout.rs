//! What every HTML page of the admin server shares: the escaping of text
//! that comes from labels, URLs, errors or config, and the page frame (one
//! stylesheet, a navigation bar, no external assets, no build step).
//!
//! A page handler builds its body with [`escape`] around every piece of
//! outside text and wraps it with [`page`]:
//!
//! ```ignore
//! let body = format!("<p>{}</p>", escape(&error));
//! Html(page("Targets", Nav::Targets, "", &body))
//! ```

/// The pages in the navigation bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Home,
    Targets,
    Components,
    Config,
}

const NAV: [(Nav, &str, &str); 4] = [
    (Nav::Home, "/", "profcol"),
    (Nav::Targets, "/targets", "Targets"),
    (Nav::Components, "/components", "Components"),
    (Nav::Config, "/config", "Config"),
];

/// One stylesheet for every page: readable at 1280 px, no horizontal
/// scrolling for tables (long cells wrap), light and dark colour schemes.
const STYLE: &str = concat!(
    ":root{color-scheme:light dark;--fg:#1d1d1f;--bg:#fff;--muted:#6e6e73;--line:#d9d9de;",
    "--head:#f4f4f6;--up:#176f2c;--down:#b00020;--warn:#9a6700;--link:#0b5cad}",
    "@media (prefers-color-scheme:dark){:root{--fg:#e8e8ea;--bg:#161618;--muted:#a0a0a6;",
    "--line:#3a3a3e;--head:#222226;--up:#5cc777;--down:#ff6b7f;--warn:#e3b341;--link:#6cb0ff}}",
    "*{box-sizing:border-box}body{font:14px/1.45 system-ui,sans-serif;margin:0;color:var(--fg);",
    "background:var(--bg)}a{color:var(--link)}main{padding:1em 1.5em;max-width:100%}",
    "nav{display:flex;gap:1.2em;align-items:baseline;padding:.6em 1.5em;",
    "border-bottom:1px solid var(--line);background:var(--head)}",
    "nav a{text-decoration:none}nav a.active{font-weight:600;color:var(--fg)}",
    "nav .version{margin-left:auto;color:var(--muted);font-size:12px}",
    "table{border-collapse:collapse;width:100%;table-layout:fixed;margin:.4em 0 1.6em}",
    "td,th{border-bottom:1px solid var(--line);padding:4px 8px;vertical-align:top;",
    "text-align:left;overflow-wrap:anywhere}th{background:var(--head);font-weight:600}",
    "code,pre{font:12px/1.4 ui-monospace,monospace}pre{white-space:pre-wrap;overflow-wrap:anywhere}",
    ".up,.healthy{color:var(--up);font-weight:600}.down,.unhealthy{color:var(--down);font-weight:600}",
    ".unknown,.stopped,.muted{color:var(--muted)}.warn{color:var(--warn)}",
    "h1{font-size:20px;margin:.2em 0 .6em}h2{font-size:16px;margin:1.2em 0 .3em}",
);

/// Text made safe to put inside HTML elements and quoted attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page: `title` (plain text, escaped here), the navigation bar
/// with `active` marked, `head` (extra trusted markup for `<head>`, such as
/// a page's own `<style>` or `<script>`) and `body` (trusted markup whose
/// outside text the caller has escaped).
pub fn page(title: &str, active: Nav, head: &str, body: &str) -> String {
    let mut nav = String::new();
    for (item, href, label) in NAV {
        let class = if item == active { " class=active" } else { "" };
        nav.push_str(&format!("<a href=\"{href}\"{class}>{label}</a>"));
    }
    format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8>\
         <meta name=viewport content=\"width=device-width,initial-scale=1\">\
         <title>{title} · profcol</title><style>{STYLE}</style>{head}</head>\
         <body><nav>{nav}<span class=version>profcol {version}</span></nav>\
         <main>{body}</main></body></html>",
        title = escape(title),
        version = env!("CARGO_PKG_VERSION"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape(r#"<script>alert('x')</script> & "q""#),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }

    #[test]
    fn page_marks_the_active_item_and_escapes_the_title() {
        let html = page("<b>", Nav::Config, "", "<p>x</p>");
        assert!(html.contains("<title>&lt;b&gt; · profcol</title>"));
        assert!(html.contains("<a href=\"/config\" class=active>Config</a>"));
        assert!(html.contains("<a href=\"/targets\">Targets</a>"));
        assert!(html.contains("<main><p>x</p></main>"));
    }
}
