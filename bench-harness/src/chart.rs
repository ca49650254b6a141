//! `gemm.svg`: grouped bars (GFLOP/s per shape, one bar per implementation, min–max whiskers),
//! one panel per thread count. Drawn with plotters' SVG backend (no fonts needed).

use crate::record::Record;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

/// A stable colour per implementation: lanes in blues, peers in distinct hues.
pub fn color_of(name: &str) -> RGBColor {
    match name {
        "lanes" => RGBColor(0x1f, 0x5f, 0xb4),
        "lanes-avx512" => RGBColor(0x31, 0x82, 0xbd),
        "lanes-avx2" => RGBColor(0x6b, 0xae, 0xd6),
        "lanes-portable" => RGBColor(0x9e, 0xca, 0xe1),
        "lanes-scalar" => RGBColor(0xc6, 0xdb, 0xef),
        "matrixmultiply" => RGBColor(0xff, 0x7f, 0x0e),
        "gemm" => RGBColor(0x2c, 0xa0, 0x2c),
        "openblas" => RGBColor(0xd6, 0x27, 0x28),
        "naive" => RGBColor(0x7f, 0x7f, 0x7f),
        _ => RGBColor(0x94, 0x67, 0xbd),
    }
}

/// Draws the chart into `path`. `cases` gives the x order.
pub fn draw(
    path: &Path,
    records: &[Record],
    cases: &[String],
    threads: &[usize],
) -> Result<(), Box<dyn std::error::Error>> {
    let threads: Vec<usize> = threads.iter().copied().filter(|&t| records.iter().any(|r| r.threads == t)).collect();
    if threads.is_empty() || cases.is_empty() {
        return Err("no measurements to chart".into());
    }
    const LEGEND_W: u32 = 170;
    let width = (LEGEND_W as usize + 70 + 115 * cases.len()) as u32;
    let root = SVGBackend::new(path, (width.max(800), 420 * threads.len() as u32)).into_drawing_area();
    root.fill(&WHITE)?;
    let panels = root.split_evenly((threads.len(), 1));
    for (panel, &t) in panels.iter().zip(&threads) {
        let (area, legend) = panel.split_horizontally(panel.dim_in_pixel().0 - LEGEND_W);
        let mut impls: Vec<&str> = Vec::new();
        for r in records.iter().filter(|r| r.threads == t) {
            if !impls.contains(&r.impl_name.as_str()) {
                impls.push(&r.impl_name);
            }
        }
        let top = records.iter().filter(|r| r.threads == t).map(|r| r.gflops_max).fold(1.0, f64::max) * 1.08;
        let mut chart = ChartBuilder::on(&area)
            .caption(
                format!("f32 GEMM, {t} thread{}: GFLOP/s (median; whiskers: min-max)", if t == 1 { "" } else { "s" }),
                ("sans-serif", 20),
            )
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..cases.len() as f64, 0f64..top)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .max_light_lines(1)
            .y_label_formatter(&|y| format!("{y:.0}"))
            .y_desc("GFLOP/s")
            .draw()?;
        let slot = 0.84 / impls.len() as f64;
        for (j, &name) in impls.iter().enumerate() {
            let color = color_of(name);
            let bars: Vec<(f64, &Record)> = cases
                .iter()
                .enumerate()
                .filter_map(|(i, case)| {
                    records
                        .iter()
                        .find(|r| r.threads == t && &r.case == case && r.impl_name == name)
                        .map(|r| (i as f64 + 0.08 + j as f64 * slot, r))
                })
                .collect();
            chart.draw_series(
                bars.iter().map(|&(x0, r)| Rectangle::new([(x0, 0.0), (x0 + slot * 0.9, r.gflops)], color.filled())),
            )?;
            // Legend entry, in the strip right of the plot.
            let y = 60 + 22 * j as i32;
            legend.draw(&Rectangle::new([(8, y - 6), (22, y + 6)], color.filled()))?;
            legend.draw(&Text::new(name, (30, y - 7), ("sans-serif", 14).into_font()))?;
            chart.draw_series(bars.iter().map(|&(x0, r)| {
                let xc = x0 + slot * 0.45;
                PathElement::new(vec![(xc, r.gflops_min), (xc, r.gflops_max)], BLACK.stroke_width(1))
            }))?;
        }
        // Shape names under each group (plotters' own x labels cannot be placed at group centres).
        let style = TextStyle::from(("sans-serif", 13).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
        for (i, case) in cases.iter().enumerate() {
            let (px, py) = chart.backend_coord(&(i as f64 + 0.5, 0.0));
            root.draw(&Text::new(case.as_str(), (px, py + 8), style.clone()))?;
        }
    }
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::build_records;
    use crate::record::tests::{fake, fake_peaks};

    #[test]
    fn draws_an_svg_with_every_case_and_impl() {
        let ms = vec![
            fake("64x64x64", "lanes", "avx512", 1, 100.0),
            fake("64x64x64", "openblas", "avx512", 1, 90.0),
            fake("1x3072x768", "lanes", "avx512", 1, 20.0),
            fake("64x64x64", "lanes", "avx512", 2, 150.0),
        ];
        let records = build_records(&ms, &fake_peaks());
        let dir = std::env::temp_dir().join(format!("lanes-bench-chart-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("gemm.svg");
        draw(&path, &records, &["64x64x64".into(), "1x3072x768".into()], &[1, 2]).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_dir_all(&dir).ok();
        assert!(svg.starts_with("<svg"));
        for text in ["64x64x64", "1x3072x768", "openblas", "lanes", "2 threads"] {
            assert!(svg.contains(text), "missing {text}");
        }
    }
}
