//! `memory --html` opened in a real browser (Debian's chromium, headless,
//! installed by `scripts/install-servers.sh`): the page renders, every
//! figure it shows equals the JSON summary of the same run, and it refers
//! to nothing outside itself (no script, style, image or font from a URL),
//! so it opens on a machine with no network.

use crate::common;

use serde_json::Value;
use std::process::Command;

/// Chromium as the machine's probe runs it: no sandbox (root), no GPU, and
/// none of its background connections.
fn chromium(args: &[&str]) -> std::process::Output {
    let profile = common::Scratch::new("chromium-profile");
    let mut cmd = Command::new("chromium");
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        // Any request the page made would go to a closed port.
        "--proxy-server=http://127.0.0.1:9",
    ]);
    cmd.arg(format!("--user-data-dir={}", profile.0.display()));
    cmd.args(args);
    // The browser runs on the real clock (CI's second run moves the clock
    // with libfaketime, which chromium does not survive).
    cmd.env_remove("LD_PRELOAD").env_remove("FAKETIME");
    cmd.output().unwrap_or_else(|e| {
        panic!("cannot run chromium ({e}): scripts/install-servers.sh installs it (Debian package chromium)")
    })
}

/// The text of the element with this id in the rendered DOM.
fn text_of(dom: &str, id: &str) -> Option<String> {
    let at = dom.find(&format!("id=\"{id}\""))?;
    let open = at + dom[at..].find('>')? + 1;
    let close = open + dom[open..].find('<')?;
    Some(dom[open..close].trim().to_string())
}

#[test]
fn the_html_report_shows_the_json_summarys_figures_and_loads_nothing() {
    let scratch = common::Scratch::new("memory-html");
    let rdb = common::corpus_dir().join("redis-7.0.15/dump-lru.rdb");
    let html = scratch.0.join("report.html");
    let json = scratch.0.join("summary.json");
    let out = Command::new(env!("CARGO_BIN_EXE_rdb-tool"))
        .args(["memory", "--target", "redis-7.0", "--now", "1765000000000", "--format", "json", "--top", "5"])
        .arg(&rdb)
        .arg("-o")
        .arg(&json)
        .arg("--html")
        .arg(&html)
        .output()
        .expect("run rdb-tool");
    assert!(out.status.success(), "memory failed: {}", String::from_utf8_lossy(&out.stderr));
    let page = std::fs::read_to_string(&html).expect("the page");

    // Nothing from outside: no resource attribute names a URL, no CSS import.
    for attr in ["src=", "href=", "xlink:href="] {
        for (at, _) in page.match_indices(attr) {
            let value = &page[at + attr.len()..];
            let value = value.trim_start_matches(['"', '\'']);
            assert!(
                value.starts_with('#') || value.starts_with("javascript:"),
                "the page refers to {:?}",
                &value[..value.len().min(60)]
            );
        }
    }
    assert!(!page.contains("@import"), "the page's style imports something");
    for (at, _) in page.match_indices("url(") {
        let value = page[at + 4..].trim_start_matches(['"', '\'']);
        assert!(value.starts_with('#'), "the page refers to url({:?}", &value[..value.len().min(60)]);
    }

    // Rendered by the browser (its scripts run), the figures equal the JSON's.
    let rendered = chromium(&["--virtual-time-budget=5000", "--dump-dom", &format!("file://{}", html.display())]);
    assert!(rendered.status.success(), "chromium failed: {}", String::from_utf8_lossy(&rendered.stderr));
    let dom = String::from_utf8_lossy(&rendered.stdout).into_owned();
    assert!(dom.contains("id=\"flamegraph\"") && dom.contains("MEMORY USAGE by key prefix"), "no flame graph");
    let summary: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let totals = &summary["totals"];
    let expect = [
        ("total-keys", totals["keys"].as_u64().unwrap()),
        ("total-memory-usage", totals["memory_usage"].as_u64().unwrap()),
        ("total-allocated", totals["allocated"].as_u64().unwrap()),
        ("total-used-memory-delta", totals["used_memory_delta"].as_u64().unwrap()),
        ("total-exact-keys", totals["exact_keys"].as_u64().unwrap()),
        ("total-expired-skipped", totals["expired_skipped"].as_u64().unwrap()),
    ];
    assert!(expect[0].1 > 0, "the fixture holds keys");
    let mut checked = 0;
    for (id, want) in expect {
        assert_eq!(text_of(&dom, id).as_deref(), Some(want.to_string().as_str()), "{id}");
        checked += 1;
    }
    for e in summary["per_encoding"].as_array().unwrap() {
        let id = format!("enc-{}-{}", e["type"].as_str().unwrap(), e["encoding"].as_str().unwrap());
        assert_eq!(text_of(&dom, &format!("{id}-keys")), Some(e["keys"].to_string()), "{id}");
        assert_eq!(text_of(&dom, &format!("{id}-bytes")), Some(e["memory_usage"].to_string()), "{id}");
        checked += 2;
    }
    let ttl = &summary["ttl"];
    for (i, name) in ["none", "expired", "<1m", "<1h", "<1d", "<7d", "<30d", "later"].iter().enumerate() {
        assert_eq!(text_of(&dom, &format!("ttl-{i}-keys")), Some(ttl[name]["keys"].to_string()), "ttl {name}");
        checked += 1;
    }
    let top = summary["top_by_memory"].as_array().unwrap();
    assert_eq!(top.len(), 5);
    for (i, k) in top.iter().enumerate() {
        assert_eq!(text_of(&dom, &format!("top-{i}-bytes")), Some(k["memory_usage"].to_string()), "top {i}");
        checked += 1;
    }
    assert!(checked > 20, "{checked} figures checked");
}
