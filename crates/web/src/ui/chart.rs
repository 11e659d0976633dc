//! The run-history chart: server-rendered SVG, no script. Two bars per run — records synced and
//! API requests — on one shared axis, oldest run on the left.
//!
//! Only presentation attributes are used (no `style`), so the page's Content-Security-Policy
//! needs no `unsafe-inline`.

use std::fmt::Write as _;

/// One run's bars.
pub(crate) struct Point {
    pub label: String,
    pub records: u64,
    pub api_requests: u64,
}

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 240.0;
const LEFT: f64 = 48.0;
const BOTTOM: f64 = 28.0;
const TOP: f64 = 24.0;
const RECORDS_COLOUR: &str = "#0b66c3";
const REQUESTS_COLOUR: &str = "#e39b1b";

/// The chart as an `<svg>` element; `titles` are the legend's two words and the accessible title.
pub(crate) fn runs_chart(
    points: &[Point],
    records_label: &str,
    requests_label: &str,
    title: &str,
) -> String {
    let max = points
        .iter()
        .flat_map(|p| [p.records, p.api_requests])
        .max()
        .unwrap_or(0)
        .max(1);
    // Four grid steps of a round size.
    let top = nice_ceiling(max.div_ceil(4)) * 4;
    let plot_w = WIDTH - LEFT - 8.0;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" aria-label="{}" id="runs-chart"><title>{}</title>"#,
        escape(title),
        escape(title)
    );
    // Grid and axis labels: 4 steps.
    for i in 0..=4 {
        let value = top * i / 4;
        let y = TOP + plot_h - plot_h * (value as f64) / (top as f64);
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#d9dee6" stroke-width="1"/><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end" fill="#5b6575">{value}</text>"##,
            LEFT + plot_w,
            LEFT - 6.0,
            y + 4.0
        );
    }
    let n = points.len().max(1) as f64;
    let slot = plot_w / n;
    let bar = (slot * 0.35).min(28.0);
    for (i, p) in points.iter().enumerate() {
        let x0 = LEFT + slot * i as f64 + (slot - 2.0 * bar) / 2.0;
        for (j, (value, colour, what)) in [
            (p.records, RECORDS_COLOUR, records_label),
            (p.api_requests, REQUESTS_COLOUR, requests_label),
        ]
        .into_iter()
        .enumerate()
        {
            let h = plot_h * (value as f64) / (top as f64);
            let x = x0 + bar * j as f64;
            let y = TOP + plot_h - h;
            let _ = write!(
                svg,
                r#"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{h:.1}" fill="{colour}"><title>{}: {value} {}</title></rect>"#,
                bar - 1.0,
                escape(&p.label),
                escape(what)
            );
        }
        let _ = write!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" font-size="11" text-anchor="middle" fill="#5b6575">{}</text>"##,
            x0 + bar,
            HEIGHT - 10.0,
            escape(&p.label)
        );
    }
    // Legend.
    let _ = write!(
        svg,
        r##"<rect x="{LEFT}" y="6" width="10" height="10" fill="{RECORDS_COLOUR}"/><text x="{:.1}" y="15" font-size="12" fill="#1d2430">{}</text><rect x="{:.1}" y="6" width="10" height="10" fill="{REQUESTS_COLOUR}"/><text x="{:.1}" y="15" font-size="12" fill="#1d2430">{}</text>"##,
        LEFT + 14.0,
        escape(records_label),
        LEFT + 180.0,
        LEFT + 194.0,
        escape(requests_label)
    );
    svg.push_str("</svg>");
    svg
}

/// The smallest of 1, 2, 5 × 10ⁿ at or above `n`, so the axis reads in round numbers.
fn nice_ceiling(n: u64) -> u64 {
    let mut step = 1u64;
    loop {
        for m in [1, 2, 5] {
            if step.saturating_mul(m) >= n {
                return step.saturating_mul(m);
            }
        }
        step = step.saturating_mul(10);
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_rounds_up_to_one_two_or_five() {
        assert_eq!(
            [1, 3, 7, 10, 11, 180, 2001].map(nice_ceiling),
            [1, 5, 10, 10, 20, 200, 5000]
        );
    }

    #[test]
    fn every_run_gets_two_bars_sized_on_one_axis() {
        let points = vec![
            Point {
                label: "#1".into(),
                records: 100,
                api_requests: 4,
            },
            Point {
                label: "#2 <x>".into(),
                records: 0,
                api_requests: 2,
            },
        ];
        let svg = runs_chart(&points, "records", "API requests", "Runs");
        assert_eq!(svg.matches("<rect x=").count(), 4 + 2, "{svg}"); // 4 bars + 2 legend keys
        // Axis 0..200 in steps of 50; 100 records: half the plot height (240 - 24 - 28 = 188).
        assert!(
            svg.contains(r##"height="94.0" fill="#0b66c3"><title>#1: 100 records</title>"##),
            "{svg}"
        );
        assert!(
            svg.contains(">200</text>") && svg.contains(">50</text>"),
            "{svg}"
        );
        assert!(svg.contains("#2 &lt;x&gt;"), "labels are escaped: {svg}");
        assert!(!svg.contains("style="));
    }
}
