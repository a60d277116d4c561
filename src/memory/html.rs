//! `memory --html`: the summary as one self-contained page (no network, no
//! server): totals, a flame graph of memory by key prefix (drawn by the
//! `inferno` crate, the one `cargo flamegraph` uses), bars per type and
//! encoding, TTL and size histograms (drawn by `plotters` as SVG), and the
//! largest keys. Every figure the page prints carries an `id` so a test can
//! read it back and compare it with the JSON summary.

use super::report::{human, Summary, TTL_BUCKETS};
use crate::escape::escape_bytes;
use plotters::prelude::*;
use std::fmt::Write as _;

/// Frames a flame graph holds at most: past them the smallest prefixes are
/// one frame, so the page stays light whatever the keyspace.
const MAX_FRAMES: usize = 2000;

/// The page.
pub fn write_html(s: &Summary) -> Result<String, String> {
    let mut h = String::new();
    h.push_str(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>rdb-tool memory report</title><style>\
         body{font-family:sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;margin:.5em 0}\
         td,th{border:1px solid #ccc;padding:.2em .6em;text-align:right}td.k,th.k{text-align:left;font-family:monospace}\
         h2{margin-top:1.5em}.note{color:#666;font-size:90%}.chart svg{max-width:100%;height:auto}#flamegraph>svg{width:100%;height:auto}\
         </style></head><body>\n<h1>Memory report</h1>\n",
    );
    // Totals (ids as the JSON summary names them) and files.
    h.push_str("<table>");
    for (name, value) in s.totals() {
        let (label, id) = match name {
            "memory_usage" => ("MEMORY USAGE, summed", "memory-usage"),
            "used_memory_delta" => ("used_memory after load − startup", "used-memory-delta"),
            "dataset" => ("used_memory_dataset (client buffers aside)", "dataset"),
            "exact_keys" => ("exact keys", "exact-keys"),
            "expired_skipped" => ("expired keys left out", "expired-skipped"),
            other => (other, other),
        };
        let _ = write!(h, "<tr><th class=\"k\">{label}</th><td id=\"total-{id}\">{value}</td></tr>");
    }
    h.push_str("</table>\n");
    h.push_str(
        "<table><tr><th class=\"k\">file</th><th class=\"k\">modelled as</th><th>keys</th><th>MEMORY USAGE</th></tr>\n",
    );
    for (i, f) in s.files.iter().enumerate() {
        let label = f.profile.as_ref().map_or("(no keys)".to_string(), |p| p.label());
        let _ = writeln!(
            h,
            "<tr><td class=\"k\">{}</td><td class=\"k\">{}</td><td id=\"file-{i}-keys\">{}</td><td id=\"file-{i}-memory-usage\">{}</td></tr>",
            esc(&f.path),
            esc(&label),
            f.tally.keys,
            f.tally.memory_usage
        );
        for n in &f.notes {
            let _ = writeln!(h, "<tr><td class=\"k\" colspan=\"4\">note: {}</td></tr>", esc(n));
        }
        if let Some(e) = &f.error {
            let _ = writeln!(
                h,
                "<tr><td class=\"k\" colspan=\"4\" id=\"file-{i}-error\">{}: {} (the figures hold the keys read before it)</td></tr>",
                e.kind.verdict().name(),
                esc(&crate::output::json::error_text(e))
            );
        }
    }
    h.push_str(
        "</table>\n<p class=\"note\">Figures are what each key costs right after a server loads the file: a \
         long-running server differs (hash tables mid-rehash, preallocated stream nodes, other skiplist levels).</p>\n",
    );

    h.push_str("<h2>Memory by key prefix</h2>\n");
    h.push_str(&flame_graph(s)?);

    h.push_str("<h2>By type and encoding</h2>\n");
    let per_encoding = s.per_encoding();
    let bars: Vec<(String, u64)> =
        per_encoding.iter().map(|((kind, enc), st)| (format!("{kind} {enc}"), st.tally.memory_usage)).collect();
    h.push_str(&bar_chart("bytes by type and encoding", &bars, true)?);
    h.push_str("<table><tr><th class=\"k\">type</th><th class=\"k\">encoding</th><th>keys</th><th>bytes</th><th>p50</th><th>p90</th><th>p99</th><th>max</th></tr>\n");
    for ((kind, enc), st) in &per_encoding {
        let id = format!("{kind}-{enc}");
        let _ = writeln!(
            h,
            "<tr><td class=\"k\">{kind}</td><td class=\"k\">{enc}</td><td id=\"enc-{id}-keys\">{}</td><td id=\"enc-{id}-bytes\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            st.tally.keys,
            st.tally.memory_usage,
            st.sizes.p(0.5),
            st.sizes.p(0.9),
            st.sizes.p(0.99),
            st.sizes.max()
        );
    }
    h.push_str("</table>\n");

    h.push_str("<h2>Time to live</h2>\n");
    let ttl: Vec<(String, u64)> = TTL_BUCKETS.iter().zip(&s.ttl).map(|(n, t)| (n.to_string(), t.keys)).collect();
    h.push_str(&bar_chart("keys by time to live", &ttl, false)?);
    h.push_str("<table><tr>");
    for name in TTL_BUCKETS {
        let _ = write!(h, "<th>{}</th>", esc(name));
    }
    h.push_str("</tr><tr>");
    for (i, t) in s.ttl.iter().enumerate() {
        let _ = write!(h, "<td id=\"ttl-{i}-keys\">{}</td>", t.keys);
    }
    h.push_str("</tr></table>\n");

    h.push_str("<h2>Key sizes</h2>\n");
    let sizes: Vec<(String, u64)> =
        s.memory_histogram().into_iter().map(|(low, n)| (format!("≥{}", human(low)), n)).collect();
    h.push_str(&bar_chart("keys by MEMORY USAGE (powers of two)", &sizes, false)?);

    h.push_str("<h2>Largest keys</h2>\n<table><tr><th>#</th><th>bytes</th><th>db</th><th class=\"k\">key</th><th class=\"k\">type</th><th class=\"k\">encoding</th><th>elements</th></tr>\n");
    for (i, k) in s.top_by_memory().iter().enumerate() {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td id=\"top-{i}-bytes\">{}</td><td>{}</td><td class=\"k\">{}</td><td class=\"k\">{}</td><td class=\"k\">{}</td><td>{}</td></tr>",
            i + 1,
            k.memory_usage,
            k.db,
            esc(&escape_bytes(&k.key)),
            k.kind,
            k.encoding,
            k.elements
        );
    }
    h.push_str("</table>\n<p class=\"note\">Made by rdb-tool memory.</p>\n</body></html>\n");
    Ok(h)
}

/// The prefixes as collapsed stacks (`a:;b:;c: bytes`), each level's own
/// bytes (its keys not under a deeper prefix counted), for inferno.
fn flame_graph(s: &Summary) -> Result<String, String> {
    let (prefixes, other, pruned) = s.prefixes();
    // Each prefix's bytes minus its children's: what stops at that level.
    let mut own: Vec<(Vec<u8>, i128)> = prefixes.iter().map(|(p, t)| (p.clone(), t.memory_usage as i128)).collect();
    let index: std::collections::HashMap<Vec<u8>, usize> =
        own.iter().enumerate().map(|(i, (p, _))| (p.clone(), i)).collect();
    let separators = &s.options.separators;
    let mut under_prefix: i128 = 0;
    for (p, t) in &prefixes {
        // The parent is the longest proper prefix ending in a separator.
        let parent = p[..p.len() - 1].iter().rposition(|b| separators.contains(b)).map(|at| &p[..=at]);
        match parent.and_then(|q| index.get(q)) {
            Some(&i) => own[i].1 -= t.memory_usage as i128,
            None => under_prefix += t.memory_usage as i128,
        }
    }
    let frame = |p: &[u8]| -> String {
        let mut stack = String::new();
        let mut start = 0;
        for (i, b) in p.iter().enumerate() {
            if separators.contains(b) {
                if !stack.is_empty() {
                    stack.push(';');
                }
                stack.push_str(&escape_bytes(&p[start..=i]).replace(';', "\\x3b"));
                start = i + 1;
            }
        }
        stack
    };
    own.retain(|(_, b)| *b > 0);
    own.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut lines: Vec<String> = Vec::new();
    let mut rest: i128 = 0;
    for (i, (p, bytes)) in own.iter().enumerate() {
        if i < MAX_FRAMES {
            lines.push(format!("{} {bytes}", frame(p)));
        } else {
            rest += bytes;
        }
    }
    if rest > 0 {
        lines.push(format!("(smaller prefixes) {rest}"));
    }
    let unprefixed = s.total.memory_usage as i128 - under_prefix - if pruned { other.memory_usage as i128 } else { 0 };
    if unprefixed > 0 {
        lines.push(format!("(keys without a prefix) {unprefixed}"));
    }
    if pruned && other.memory_usage > 0 {
        lines.push(format!("(prefixes past the cap) {}", other.memory_usage));
    }
    if lines.is_empty() {
        return Ok("<p>No keys.</p>\n".into());
    }
    lines.sort();
    let mut opts = inferno::flamegraph::Options::default();
    opts.title = "MEMORY USAGE by key prefix".into();
    opts.count_name = "bytes".into();
    opts.name_type = "Prefix:".into();
    opts.min_width = 0.0;
    let mut svg = Vec::new();
    inferno::flamegraph::from_lines(&mut opts, lines.iter().map(String::as_str), &mut svg)
        .map_err(|e| e.to_string())?;
    let svg = String::from_utf8(svg).map_err(|e| e.to_string())?;
    // The SVG's own XML prologue and doctype do not belong inside HTML.
    let start = svg.find("<svg").unwrap_or(0);
    Ok(format!("<div id=\"flamegraph\">{}</div>\n", &svg[start..]))
}

/// A bar chart, as an inline SVG; `bytes`: the values are bytes (else counts).
fn bar_chart(title: &str, bars: &[(String, u64)], bytes: bool) -> Result<String, String> {
    if bars.is_empty() {
        return Ok(String::new());
    }
    let mut svg = String::new();
    {
        let height = 60 + 28 * bars.len() as u32;
        let root = SVGBackend::with_string(&mut svg, (900, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let max = bars.iter().map(|(_, v)| *v).max().unwrap_or(1).max(1);
        let labels: Vec<String> = bars.iter().map(|(l, _)| l.clone()).collect();
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(180)
            .build_cartesian_2d(0u64..max + max / 20, (0..bars.len()).into_segmented())
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(bars.len())
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .x_label_formatter(&|v| if bytes { human(*v) } else { v.to_string() })
            .draw()
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(bars.iter().enumerate().map(|(i, (_, v))| {
                let mut bar = Rectangle::new(
                    [(0, SegmentValue::Exact(i)), (*v, SegmentValue::Exact(i + 1))],
                    RGBColor(70, 130, 180).filled(),
                );
                bar.set_margin(3, 3, 0, 0);
                bar
            }))
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(format!("<div class=\"chart\">{svg}</div>\n"))
}

/// Text for HTML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
