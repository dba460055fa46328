//! Text bar charts of one-dimensional histograms (`hist_ascii`, and the CLI's table format).

use datafusion::common::{Result, exec_err};

use super::histogram::{AxisKind, Histogram};

/// A number as short text: integers without a fraction, others in their shortest form.
pub fn short_number(x: f64) -> String {
    if x.is_finite() && x == x.trunc() && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else if x.is_finite() && (x.abs() >= 1e6 || x.abs() < 1e-4) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

/// One line per bin: label, a bar of up to `width` blocks, the content. Underflow and overflow
/// lines appear when those bins are not empty. Errors (named after `function`) for histograms
/// with more than one axis.
pub fn render_ascii(hist: &Histogram, width: usize, function: &str) -> Result<String> {
    let [axis] = hist.axes.as_slice() else {
        return exec_err!(
            "{function}: only one-dimensional histograms can be drawn, this one has {} axes",
            hist.axes.len()
        );
    };
    let mut rows: Vec<(String, f64)> = Vec::new();
    let offset = usize::from(axis.underflow);
    let value = |i: usize| hist.values.get(i).copied().unwrap_or(0.0);
    match &axis.kind {
        AxisKind::StrCategory { categories } => {
            for (i, c) in categories.iter().enumerate() {
                rows.push((c.clone(), value(i)));
            }
        }
        AxisKind::IntCategory { categories } => {
            for (i, c) in categories.iter().enumerate() {
                rows.push((c.to_string(), value(i)));
            }
        }
        _ => {
            let edges = axis.edges().unwrap_or_default();
            if axis.underflow && value(0) != 0.0 {
                let first = edges.first().copied().unwrap_or(f64::NAN);
                rows.push((format!("(-inf, {})", short_number(first)), value(0)));
            }
            for (i, w) in edges.windows(2).enumerate() {
                rows.push((
                    format!("[{}, {})", short_number(w[0]), short_number(w[1])),
                    value(i + offset),
                ));
            }
        }
    }
    if axis.overflow {
        let over = value(offset + axis.bins());
        if over != 0.0 {
            let label = match axis.edges() {
                Some(edges) => format!(
                    "[{}, +inf]",
                    short_number(edges.last().copied().unwrap_or(f64::NAN))
                ),
                None => "other".to_string(),
            };
            rows.push((label, over));
        }
    }
    let label_width = rows
        .iter()
        .map(|(l, _)| l.chars().count())
        .max()
        .unwrap_or(0);
    let max = rows.iter().map(|(_, v)| *v).fold(0.0f64, f64::max);
    let mut out = String::new();
    for (i, (label, v)) in rows.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let blocks = if max > 0.0 && *v > 0.0 {
            ((v / max) * width as f64).round() as usize
        } else {
            0
        };
        let bar = "█".repeat(blocks.min(width));
        out.push_str(&format!(
            "{label:<label_width$} {bar}{pad} {value}",
            pad = " ".repeat(width - blocks.min(width)),
            value = short_number(*v)
        ));
    }
    Ok(out)
}

/// The bar chart of a UHI document when it is a one-dimensional histogram (`None` for any
/// other text), for front ends that draw histograms in text tables.
pub fn chart_of_document(text: &str, width: usize) -> Option<String> {
    let hist = Histogram::from_uhi_json(text, "hist_ascii").ok()?;
    render_ascii(&hist, width, "hist_ascii").ok()
}
