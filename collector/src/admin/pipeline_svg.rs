//! The pipelines as an SVG drawn on the server (no script, no external
//! asset): three columns — receivers, pipelines, exporters — one box per
//! component and per pipeline, arrows from each receiver to the pipelines
//! it feeds and from each pipeline to its exporters. Box outlines take the
//! component's health colour; every id is escaped (and shortened on the
//! box, in full in its `<title>` tooltip). Components used by no pipeline
//! get a box without arrows.

use super::layout::escape;
use crate::component_status::{ComponentStatus, Snapshot};

const BOX_W: usize = 220;
const BOX_H: usize = 34;
const GAP_Y: usize = 14;
const COL_X: [usize; 3] = [10, 330, 650];
const TOP: usize = 30;
/// Characters of an id shown on a box.
const LABEL_CHARS: usize = 28;

/// One box: its column, row, label, CSS class and tooltip.
struct Node<'a> {
    column: usize,
    row: usize,
    id: &'a str,
    class: String,
    title: String,
}

fn y(row: usize) -> usize {
    TOP + row * (BOX_H + GAP_Y)
}

fn shorten(s: &str) -> String {
    if s.chars().count() <= LABEL_CHARS {
        return s.to_string();
    }
    let mut out: String = s.chars().take(LABEL_CHARS - 1).collect();
    out.push('…');
    out
}

fn component_node<'a>(column: usize, row: usize, c: &'a ComponentStatus) -> Node<'a> {
    let mut title = format!("{} {}: {}", c.kind, c.id, c.health.name());
    if let Some(r) = c.health.reason() {
        title.push_str(" — ");
        title.push_str(r);
    }
    Node {
        column,
        row,
        id: &c.id,
        class: format!("box {} {}", c.kind, c.health.name()),
        title,
    }
}

/// The diagram of `s`.
pub fn render(s: &Snapshot) -> String {
    let of = |kind: &str| -> Vec<&ComponentStatus> {
        s.components.iter().filter(|c| c.kind == kind).collect()
    };
    let receivers = of("receiver");
    let exporters = of("exporter");
    let mut nodes: Vec<Node> = Vec::new();
    for (row, c) in receivers.iter().enumerate() {
        nodes.push(component_node(0, row, c));
    }
    for (row, p) in s.pipelines.iter().enumerate() {
        nodes.push(Node {
            column: 1,
            row,
            id: &p.name,
            class: "box pipeline".into(),
            title: format!("pipeline {}", p.name),
        });
    }
    for (row, c) in exporters.iter().enumerate() {
        nodes.push(component_node(2, row, c));
    }
    let rows = receivers
        .len()
        .max(exporters.len())
        .max(s.pipelines.len())
        .max(1);
    let width = COL_X[2] + BOX_W + 10;
    let height = y(rows) + 4;
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"pipelines\" role=\"img\" \
         aria-label=\"Pipeline diagram\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\">\
         <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" \
         markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\">\
         <path d=\"M0,0 L10,5 L0,10 z\" class=\"arrowhead\"/></marker></defs>"
    );
    for (i, head) in ["receivers", "pipelines", "exporters"].iter().enumerate() {
        out.push_str(&format!(
            "<text x=\"{}\" y=\"18\" class=\"column\">{head}</text>",
            COL_X[i]
        ));
    }
    // Arrows first, so that boxes cover their ends.
    for (row, p) in s.pipelines.iter().enumerate() {
        let py = y(row) + BOX_H / 2;
        for r in &p.receivers {
            if let Some(from) = receivers.iter().position(|c| &c.id == r) {
                out.push_str(&arrow(COL_X[0] + BOX_W, y(from) + BOX_H / 2, COL_X[1], py));
            }
        }
        for e in &p.exporters {
            if let Some(to) = exporters.iter().position(|c| &c.id == e) {
                out.push_str(&arrow(COL_X[1] + BOX_W, py, COL_X[2], y(to) + BOX_H / 2));
            }
        }
    }
    for n in &nodes {
        out.push_str(&format!(
            "<g class=\"{class}\" data-id=\"{id}\"><title>{title}</title>\
             <rect x=\"{x}\" y=\"{y}\" width=\"{BOX_W}\" height=\"{BOX_H}\" rx=\"5\"/>\
             <text x=\"{tx}\" y=\"{ty}\">{label}</text></g>",
            class = escape(&n.class),
            id = escape(n.id),
            title = escape(&n.title),
            x = COL_X[n.column],
            y = y(n.row),
            tx = COL_X[n.column] + 10,
            ty = y(n.row) + BOX_H / 2 + 5,
            label = escape(&shorten(n.id)),
        ));
    }
    out.push_str("</svg>");
    out
}

fn arrow(x1: usize, y1: usize, x2: usize, y2: usize) -> String {
    format!(
        "<line class=\"edge\" x1=\"{x1}\" y1=\"{y1}\" x2=\"{x2}\" y2=\"{y2}\" \
         marker-end=\"url(#arrow)\"/>"
    )
}

/// The diagram's colours, for the page's `<head>`.
pub const STYLE: &str = concat!(
    "svg.pipelines{max-width:100%;height:auto;font:12px ui-monospace,monospace}",
    "svg.pipelines rect{fill:var(--head);stroke:var(--muted);stroke-width:2}",
    "svg.pipelines text{fill:var(--fg)}svg.pipelines text.column{fill:var(--muted);font-weight:600}",
    "svg.pipelines .healthy rect{stroke:var(--up)}svg.pipelines .unhealthy rect{stroke:var(--down)}",
    "svg.pipelines .degraded rect{stroke:var(--warn)}",
    "svg.pipelines .stopped rect{stroke:var(--muted);stroke-dasharray:4 3}",
    "svg.pipelines .pipeline rect{stroke:var(--link)}",
    "svg.pipelines line.edge{stroke:var(--muted);stroke-width:1.5}",
    "svg.pipelines .arrowhead{fill:var(--muted)}",
);

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::component_status::{Health, PipelineView};
    use serde_json::Value;

    /// A small well-formedness check: tags balance, attributes are quoted,
    /// text and attribute values hold no raw `<` and only known entities.
    /// Returns the element names in document order.
    pub(crate) fn check_xml(doc: &str) -> Result<Vec<String>, String> {
        let mut stack: Vec<String> = Vec::new();
        let mut seen = Vec::new();
        let mut rest = doc;
        while let Some(open) = rest.find('<') {
            check_text(&rest[..open])?;
            let after = &rest[open + 1..];
            let close = after.find('>').ok_or("unclosed tag")?;
            let tag = &after[..close];
            rest = &after[close + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                match stack.pop() {
                    Some(top) if top == name => {}
                    other => return Err(format!("</{name}> closes {other:?}")),
                }
                continue;
            }
            let self_closing = tag.ends_with('/');
            let body = tag.trim_end_matches('/');
            let name: String = body.chars().take_while(|c| !c.is_whitespace()).collect();
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return Err(format!("bad element name in <{tag}>"));
            }
            check_attributes(&body[name.len()..])?;
            seen.push(name.clone());
            if !self_closing {
                stack.push(name);
            }
        }
        check_text(rest)?;
        match stack.is_empty() {
            true => Ok(seen),
            false => Err(format!("unclosed elements {stack:?}")),
        }
    }

    fn check_text(t: &str) -> Result<(), String> {
        if t.contains('<') {
            return Err(format!("raw < in {t:?}"));
        }
        let mut rest = t;
        while let Some(amp) = rest.find('&') {
            let after = &rest[amp + 1..];
            let ok = ["amp;", "lt;", "gt;", "quot;", "#39;"]
                .iter()
                .any(|e| after.starts_with(e));
            if !ok {
                return Err(format!("raw & in {t:?}"));
            }
            rest = after;
        }
        Ok(())
    }

    fn check_attributes(mut a: &str) -> Result<(), String> {
        loop {
            a = a.trim_start();
            if a.is_empty() {
                return Ok(());
            }
            let eq = a.find('=').ok_or(format!("attribute without value: {a}"))?;
            let value = a[eq + 1..]
                .strip_prefix('"')
                .ok_or(format!("unquoted attribute: {a}"))?;
            let end = value.find('"').ok_or("unterminated attribute")?;
            check_text(&value[..end])?;
            a = &value[end + 1..];
        }
    }

    pub(crate) fn component(kind: &'static str, id: &str, health: Health) -> ComponentStatus {
        ComponentStatus {
            kind,
            id: id.into(),
            type_name: id.split('/').next().unwrap_or_default().into(),
            health,
            arguments: String::new(),
            debug: Value::Null,
        }
    }

    fn snapshot() -> Snapshot {
        Snapshot {
            components: vec![
                component(
                    "receiver",
                    "pyroscope_scrape/<script>alert(1)</script>",
                    Health::Healthy,
                ),
                component(
                    "receiver",
                    "pyroscope_scrape/idle",
                    Health::Stopped {
                        reason: "unused".into(),
                    },
                ),
                component(
                    "exporter",
                    "otlp_http/a&b",
                    Health::Degraded {
                        reason: "connection refused \"x\" <b>".into(),
                    },
                ),
                component("exporter", "file", Health::Healthy),
            ],
            pipelines: vec![PipelineView {
                name: "profiles/<i>".into(),
                receivers: vec!["pyroscope_scrape/<script>alert(1)</script>".into()],
                processors: vec![],
                exporters: vec!["otlp_http/a&b".into(), "file".into()],
            }],
        }
    }

    #[test]
    fn the_diagram_is_well_formed_with_one_box_per_component_and_pipeline() {
        let svg = render(&snapshot());
        let elements = check_xml(&svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
        assert_eq!(elements.iter().filter(|e| *e == "rect").count(), 5, "{svg}");
        assert_eq!(svg.matches("class=\"box receiver").count(), 2);
        assert_eq!(svg.matches("class=\"box exporter").count(), 2);
        assert_eq!(svg.matches("class=\"box pipeline\"").count(), 1);
        // One arrow in, two out; the unused receiver has none.
        assert_eq!(svg.matches("<line class=\"edge\"").count(), 3);
        assert!(svg.contains("class=\"box exporter degraded\""));
        assert!(svg.contains("class=\"box receiver stopped\""));
    }

    #[test]
    fn ids_and_reasons_are_escaped() {
        let svg = render(&snapshot());
        assert!(!svg.contains("<script>"), "{svg}");
        assert!(!svg.contains("<i>"));
        assert!(!svg.contains("<b>"));
        assert!(svg.contains("data-id=\"otlp_http/a&amp;b\""));
        assert!(svg.contains("connection refused &quot;x&quot; &lt;b&gt;"));
    }

    #[test]
    fn the_checker_rejects_broken_markup() {
        assert!(check_xml("<svg><g></svg>").is_err());
        assert!(check_xml("<svg>a & b</svg>").is_err());
        assert!(check_xml("<svg x=1></svg>").is_err());
        assert!(check_xml("<svg x=\"<\"></svg>").is_err());
        assert!(check_xml("<svg><g/></svg>").is_ok());
    }

    #[test]
    fn long_ids_are_shortened_on_the_box_only() {
        let long = "pyroscope_scrape/a_very_long_name_that_goes_on_and_on";
        let s = Snapshot {
            components: vec![component("receiver", long, Health::Healthy)],
            pipelines: vec![],
        };
        let svg = render(&s);
        assert!(svg.contains(&format!("data-id=\"{long}\"")));
        assert!(svg.contains("…</text>"));
    }
}
