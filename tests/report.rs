//! `phonehome report` over the office capture: the HTML page is pinned by a
//! golden file and rendered in headless Chromium, and the screenshot must
//! show the timeline (its plot area and the channel colours of the marks
//! inside it). Markdown and CSV are pinned too. Re-bless the golden files
//! after a reviewed change with `PHONEHOME_BLESS=1 cargo test --test report`.
//!
//! The screenshot test needs Debian's `chromium` (CI installs it in
//! .ci/run); without it the test fails with an install hint.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use phonehome::attribution::AttributionConfig;
use phonehome::inventory::Inventory;
use phonehome::output::inventory_file::{InventoryDoc, inventory_doc, write_doc_json};
use phonehome::report::{self, CHANNEL_COLOURS, Format, Input, PLOT_BACKGROUND};
use phonehome::runtime::{self, RuntimeConfig, WorkerConfig};
use phonehome::signatures::SignatureSet;

use common::root;

fn tmp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("phonehome-report-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// The office capture through the pipeline and the attribution engine.
fn office_inventory() -> &'static Inventory {
    static INV: OnceLock<Inventory> = OnceLock::new();
    INV.get_or_init(|| {
        let dir = tmp_dir("office");
        let path = dir.join("office.pcap");
        let f = std::fs::File::create(&path).expect("create");
        phonehome::traffic::office::generate(std::io::BufWriter::new(f)).expect("generate");
        let sigs = Arc::new(SignatureSet::builtin().expect("builtin"));
        // The runtime's own attribution, as `phonehome read` runs it.
        let cfg = RuntimeConfig {
            workers: 2,
            worker: WorkerConfig {
                emit_flow_starts: true,
                ..WorkerConfig::default()
            },
            progress: false,
            attribution: Some(AttributionConfig::default()),
        };
        let report = runtime::run_offline(std::slice::from_ref(&path), sigs, &cfg, Vec::new());
        assert!(!report.input_failed());
        let inv = report.inventory;
        let _ = std::fs::remove_dir_all(&dir);
        inv
    })
}

fn rendered(format: Format) -> Vec<u8> {
    let mut out = Vec::new();
    report::render_inventory(office_inventory(), format, &mut out).expect("render");
    out
}

fn golden(name: &str, got: &[u8]) {
    let path = root().join("tests/golden").join(name);
    if std::env::var_os("PHONEHOME_BLESS").is_some() {
        std::fs::write(&path, got).expect("bless golden");
        return;
    }
    let want = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (PHONEHOME_BLESS=1 creates it)", path.display()));
    if want != got {
        let w = String::from_utf8_lossy(&want);
        let g = String::from_utf8_lossy(got);
        let first = w
            .lines()
            .zip(g.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(w.lines().count().min(g.lines().count()));
        panic!(
            "{name} differs from the golden file at line {}:\n  golden: {:?}\n  got:    {:?}\n(re-bless after review: PHONEHOME_BLESS=1 cargo test --test report)",
            first + 1,
            w.lines().nth(first),
            g.lines().nth(first)
        );
    }
}

#[test]
fn html_report_golden() {
    golden("office.report.html", &rendered(Format::Html));
}

#[test]
fn markdown_and_csv_reports_golden() {
    golden("office.report.md", &rendered(Format::Markdown));
    golden("office.report.csv", &rendered(Format::Csv));
}

#[test]
fn html_report_is_self_contained() {
    let html = String::from_utf8(rendered(Format::Html)).expect("UTF-8");
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("default-src 'none'"), "CSP forbids fetches");
    for needle in [
        "<script", "src=", "href=", "url(", "@import", "http://", "https://",
    ] {
        let hits: Vec<_> = html.match_indices(needle).collect();
        // The SVG namespace is the one URL on the page; it is an
        // identifier, never fetched.
        let real = hits
            .iter()
            .filter(|(i, _)| !html[*i..].starts_with("http://www.w3.org/2000/svg"))
            .count();
        assert_eq!(real, 0, "{needle} in a self-contained page");
    }
    // Every expected host is in the table, with its role and reason.
    for (ip, role) in [
        ("10.1.0.2", "resolver"),
        ("10.1.0.5", "ksc-server"),
        ("10.1.0.24", "endpoint"),
        ("10.1.0.31", "managed-endpoint"),
        ("10.1.0.40", "endpoint"),
    ] {
        assert!(html.contains(&format!("<tr><td>{ip}<br>")), "{ip}");
        assert!(html.contains(&format!("<td>{role}</td>")), "{role}");
    }
    assert!(html.contains("<svg id=\"timeline\""));
}

#[test]
fn report_reads_state_and_inventory_files_alike() {
    let dir = tmp_dir("inputs");
    let state = dir.join("state.json");
    phonehome::inventory::state::save_file(&state, office_inventory()).expect("state");
    let inv_json = dir.join("inventory.json");
    let doc = inventory_doc(office_inventory());
    let mut f = std::fs::File::create(&inv_json).expect("create");
    write_doc_json(&mut f, &doc).expect("write");
    let from_state: InventoryDoc = report::load(&Input::State(state.clone())).expect("state input");
    let from_inv: InventoryDoc =
        report::load(&Input::Inventory(inv_json)).expect("inventory input");
    assert_eq!(from_state, doc);
    assert_eq!(from_inv, doc);
    let missing = report::load(&Input::State(dir.join("nope.json"))).expect_err("missing");
    assert!(missing.to_string().contains("nope.json"), "{missing}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn chromium() -> PathBuf {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        let ok = Command::new(name)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return PathBuf::from(name);
        }
    }
    panic!(
        "headless Chromium is needed for the report screenshot test: install it (Debian: `apt-get install chromium`; .ci/run does)"
    );
}

/// Renders `html` in headless Chromium at 1280×2000 and returns the
/// screenshot as (width, height, RGB rows).
fn screenshot(html: &[u8], tag: &str) -> (usize, usize, Vec<u8>) {
    let dir = tmp_dir(tag);
    let page = dir.join("report.html");
    std::fs::write(&page, html).expect("write page");
    let png = dir.join("shot.png");
    let profile = dir.join("profile");
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg("--window-size=1280,2000")
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        match child.try_wait().expect("wait for chromium") {
            Some(_) => break,
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("chromium did not finish within 120 s");
            }
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    let file = std::fs::File::open(&png).expect("chromium wrote a screenshot");
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("a frame");
    let channels = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => panic!("unexpected PNG colour type {other:?}"),
    };
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    let (w, h) = (info.width as usize, info.height as usize);
    let mut rgb = Vec::with_capacity(w * h * 3);
    for px in buf.chunks_exact(channels).take(w * h) {
        rgb.extend_from_slice(&px[..3]);
    }
    let _ = std::fs::remove_dir_all(&dir);
    (w, h, rgb)
}

fn hex(c: &str) -> [u8; 3] {
    let v = u32::from_str_radix(c.trim_start_matches('#'), 16).expect("hex colour");
    [(v >> 16) as u8, (v >> 8) as u8, v as u8]
}

/// What the screenshot shows of the timeline: the plot area's bounding box
/// and, per channel, the pixels and distinct columns of its colour inside.
struct Seen {
    plot: Option<(usize, usize, usize, usize)>,
    pixels: Vec<(&'static str, usize, usize)>,
}

fn inspect(w: usize, h: usize, rgb: &[u8]) -> Seen {
    let px = |x: usize, y: usize| -> [u8; 3] {
        let i = (y * w + x) * 3;
        [rgb[i], rgb[i + 1], rgb[i + 2]]
    };
    let bg = hex(PLOT_BACKGROUND);
    let mut bbox: Option<(usize, usize, usize, usize)> = None;
    for y in 0..h {
        for x in 0..w {
            if px(x, y) == bg {
                bbox = Some(match bbox {
                    None => (x, y, x, y),
                    Some((x0, y0, x1, y1)) => (x0.min(x), y0.min(y), x1.max(x), y1.max(y)),
                });
            }
        }
    }
    let mut pixels = Vec::new();
    if let Some((x0, y0, x1, y1)) = bbox {
        for (name, col) in CHANNEL_COLOURS {
            let c = hex(col);
            let mut n = 0;
            let mut cols = BTreeSet::new();
            for y in y0..=y1 {
                for x in x0..=x1 {
                    if px(x, y) == c {
                        n += 1;
                        cols.insert(x);
                    }
                }
            }
            pixels.push((name, n, cols.len()));
        }
    }
    Seen { plot: bbox, pixels }
}

#[test]
fn html_report_timeline_is_visible_in_headless_chromium() {
    let html = rendered(Format::Html);
    let (w, h, rgb) = screenshot(&html, "shot");
    assert_eq!((w, h), (1280, 2000));
    let seen = inspect(w, h, &rgb);
    let (x0, y0, x1, y1) = seen.plot.expect("the timeline's plot area is on screen");
    assert!(
        (895..=905).contains(&(x1 - x0 + 1)),
        "plot width {}",
        x1 - x0 + 1
    );
    assert!(y1 - y0 > 200, "plot height {}", y1 - y0);
    let get = |c: &str| {
        seen.pixels
            .iter()
            .find(|(n, _, _)| *n == c)
            .map(|(_, p, cols)| (*p, *cols))
            .unwrap_or((0, 0))
    };
    // Every channel the office shows has marks inside the plot, and the
    // periodic ones are many separate marks, not one blob.
    for ch in ["dns", "tls", "http", "dns-correlated", "ksc-port"] {
        let (p, cols) = get(ch);
        assert!(p >= 40, "{ch}: {p} pixels in the plot");
        assert!(cols >= 8, "{ch}: marks in only {cols} columns");
    }
    assert_eq!(get("quic").0, 0, "no QUIC in the office");
}

/// The check above must fail when the timeline is not drawn: the same
/// page without its SVG shows no plot area.
#[test]
fn screenshot_check_fails_without_the_timeline() {
    let html = String::from_utf8(rendered(Format::Html)).expect("UTF-8");
    let start = html.find("<svg").expect("svg");
    let end = html.find("</svg>").expect("end of svg") + "</svg>".len();
    let stripped = format!("{}{}", &html[..start], &html[end..]);
    let (w, h, rgb) = screenshot(stripped.as_bytes(), "noshot");
    let seen = inspect(w, h, &rgb);
    assert!(seen.plot.is_none(), "no plot area without the SVG");
}
