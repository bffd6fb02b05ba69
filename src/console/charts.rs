//! Bar charts as inline SVG, rendered on the server (no script, no external assets,
//! no `style` attributes, so the console's strict CSP holds). Labels are escaped.

use super::pages::esc;

const W: f64 = 640.0;
const BAR_H: f64 = 22.0;
const LABEL_W: f64 = 170.0;
const COLOR: &str = "#2a6fb0";
const ALT_COLOR: &str = "#c0392b";

fn fmt_num(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        format!("{v:.1}")
    }
}

/// Horizontal bars, one per (label, value): categories such as intents.
pub fn hbar(title: &str, data: &[(String, f64)], unit: &str, urgent_label: Option<&str>) -> String {
    let max = data.iter().map(|d| d.1).fold(0.0_f64, f64::max).max(1.0);
    let h = 34.0 + BAR_H * data.len().max(1) as f64;
    let mut s = format!(
        r##"<figure class="chart"><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {h}" role="img" aria-label="{t}"><title>{t}</title><text x="0" y="16" font-size="14" font-weight="bold" fill="#222">{t}</text>"##,
        t = esc(title)
    );
    if data.is_empty() {
        s.push_str(
            r##"<text x="0" y="44" font-size="13" fill="#666">データがまだありません</text>"##,
        );
    }
    let bar_space = W - LABEL_W - 70.0;
    for (i, (label, v)) in data.iter().enumerate() {
        let y = 26.0 + BAR_H * i as f64;
        let w = (v / max * bar_space).max(if *v > 0.0 { 2.0 } else { 0.0 });
        let color = if urgent_label == Some(label.as_str()) {
            ALT_COLOR
        } else {
            COLOR
        };
        s.push_str(&format!(
            r##"<text x="{lx}" y="{ty}" font-size="12" text-anchor="end" fill="#222">{l}</text><rect x="{LABEL_W}" y="{y}" width="{w:.1}" height="{bh}" fill="{color}"><title>{l}: {n}{u}</title></rect><text x="{vx:.1}" y="{ty}" font-size="12" fill="#222">{n}{u}</text>"##,
            lx = LABEL_W - 6.0,
            ty = y + 14.0,
            l = esc(label),
            bh = BAR_H - 6.0,
            vx = LABEL_W + w + 4.0,
            n = fmt_num(*v),
            u = esc(unit),
        ));
    }
    s.push_str("</svg></figure>");
    s
}

/// Vertical columns over time (one per day), with the first and last day labelled.
pub fn columns(title: &str, data: &[(String, f64)], unit: &str) -> String {
    let max = data.iter().map(|d| d.1).fold(0.0_f64, f64::max).max(1.0);
    let (h, top, bottom) = (200.0, 28.0, 170.0);
    let mut s = format!(
        r##"<figure class="chart"><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {h}" role="img" aria-label="{t}"><title>{t}</title><text x="0" y="16" font-size="14" font-weight="bold" fill="#222">{t}</text><line x1="0" y1="{bottom}" x2="{W}" y2="{bottom}" stroke="#999"/>"##,
        t = esc(title)
    );
    if data.is_empty() {
        s.push_str(
            r##"<text x="0" y="60" font-size="13" fill="#666">データがまだありません</text>"##,
        );
    }
    let n = data.len().max(1) as f64;
    let slot = W / n;
    let bw = (slot * 0.7).min(40.0);
    for (i, (label, v)) in data.iter().enumerate() {
        let bh = v / max * (bottom - top - 16.0);
        let x = slot * i as f64 + (slot - bw) / 2.0;
        s.push_str(&format!(
            r##"<rect x="{x:.1}" y="{y:.1}" width="{bw:.1}" height="{bh:.1}" fill="{COLOR}"><title>{l}: {n}{u}</title></rect><text x="{cx:.1}" y="{ty:.1}" font-size="11" text-anchor="middle" fill="#222">{n}</text>"##,
            y = bottom - bh,
            l = esc(label),
            n = fmt_num(*v),
            u = esc(unit),
            cx = x + bw / 2.0,
            ty = bottom - bh - 3.0,
        ));
    }
    if let (Some(first), Some(last)) = (data.first(), data.last()) {
        s.push_str(&format!(
            r##"<text x="0" y="188" font-size="11" fill="#444">{}</text>"##,
            esc(&first.0)
        ));
        if data.len() > 1 {
            s.push_str(&format!(
                r##"<text x="{W}" y="188" font-size="11" text-anchor="end" fill="#444">{}</text>"##,
                esc(&last.0)
            ));
        }
    }
    s.push_str("</svg></figure>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_escape_labels_and_have_one_bar_per_value() {
        let svg = hbar(
            "意図",
            &[("<b>".into(), 3.0), ("x".into(), 1.0)],
            "件",
            None,
        );
        assert!(svg.contains("&lt;b&gt;") && !svg.contains("<b>"));
        assert_eq!(svg.matches("<rect").count(), 2);
        let svg = columns("日別", &[("2026-01-05".into(), 2.0)], "件");
        assert_eq!(svg.matches("<rect").count(), 1);
        assert!(!svg.contains("style="));
        assert!(hbar("空", &[], "", None).contains("データがまだありません"));
    }
}
