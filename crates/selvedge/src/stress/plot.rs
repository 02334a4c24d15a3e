//! `Outcome::to_svg`: latency percentiles per operation (and recovery per fault) as an SVG
//! line chart, for a person who would rather look than read. Drawn with plotters' SVG backend.
//!
//! Invariant: one line per operation or fault with percentiles, in the order they were added;
//! the chart is drawn from the outcome's plain data and decides nothing.

use plotters::prelude::*;

use super::outcome::{Outcome, Percentiles};

const WIDTH: u32 = 800;
const HEIGHT: u32 = 480;
const LABELS: [&str; 4] = ["p50", "p95", "p99", "max"];
/// Colours that stay apart from each other and readable on white (no yellow), in turn.
const COLOURS: [RGBColor; 8] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0xe3, 0x77, 0xc2),
    RGBColor(0x17, 0xbe, 0xcf),
];

impl Outcome {
    /// An SVG line chart of each operation's latency percentiles (p50, p95, p99, max) on a
    /// logarithmic axis in microseconds, and of each fault's recovery time, one coloured line
    /// per series with a legend. Without any percentiles (histograms off), the chart says so.
    ///
    /// ```
    /// let outcome = selvedge::stress::Stress::new("plot").threads(2).iterations(20)
    ///     .op("read", 3, |_| {}).op("write", 1, |_| {}).run();
    /// let svg = outcome.to_svg();
    /// assert!(svg.starts_with("<svg"));
    /// assert!(svg.contains("read") && svg.contains("write"));
    /// // std::fs::write("latency.svg", svg) to look at it.
    /// ```
    pub fn to_svg(&self) -> String {
        let mut series: Vec<(String, Percentiles)> = Vec::new();
        for op in &self.operations {
            if let Some(p) = op.latency {
                series.push((op.name.clone(), p));
            }
        }
        for fault in &self.faults {
            if let Some(p) = fault.recovery {
                series.push((format!("recovery after {}", fault.name), p));
            }
        }
        let mut svg = String::new();
        // Drawing into a String only fails on a layout error, which fixed sizes rule out.
        draw(&self.name, &series, &mut svg).expect("an SVG chart drawn into memory");
        svg
    }
}

fn micros(d: std::time::Duration) -> f64 {
    (d.as_nanos() as f64 / 1_000.0).max(0.001)
}

fn draw(
    name: &str,
    series: &[(String, Percentiles)],
    svg: &mut String,
) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::with_string(svg, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let title = format!("stress `{name}`: latency percentiles");
    if series.is_empty() {
        root.draw(&Text::new(
            format!("{title}: none recorded (histograms were off)"),
            (20, 20),
            ("sans-serif", 18),
        ))?;
        root.present()?;
        return Ok(());
    }
    let values = series
        .iter()
        .flat_map(|(_, p)| [p.p50, p.p95, p.p99, p.max]);
    let low = values.clone().map(micros).fold(f64::INFINITY, f64::min);
    let high = values.map(micros).fold(0.0f64, f64::max);
    let (low, high) = (low / 2.0, high * 2.0);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(16)
        .x_label_area_size(36)
        .y_label_area_size(72)
        .build_cartesian_2d(-0.25f64..3.25f64, (low..high).log_scale())?;
    chart
        .configure_mesh()
        .x_labels(4)
        .x_label_formatter(&|x| {
            let i = x.round();
            if (x - i).abs() < 1e-9 && (0.0..4.0).contains(&i) {
                LABELS[i as usize].to_string()
            } else {
                String::new()
            }
        })
        .y_desc("latency (µs, log scale)")
        .y_label_formatter(&|y| {
            if *y >= 1.0 {
                format!("{y:.0}")
            } else {
                format!("{y:.3}")
            }
        })
        .draw()?;
    for (i, (label, p)) in series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()].to_rgba();
        let points: Vec<(f64, f64)> = [p.p50, p.p95, p.p99, p.max]
            .iter()
            .enumerate()
            .map(|(x, d)| (x as f64, micros(*d)))
            .collect();
        chart
            .draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))?
            .label(label.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
            });
        chart.draw_series(
            points
                .into_iter()
                .map(|(x, y)| Circle::new((x, y), 3, colour.filled())),
        )?;
    }
    chart
        .configure_series_labels()
        // Percentile lines rise to the right: the lower right is where they leave room.
        .position(SeriesLabelPosition::LowerRight)
        .label_font(("sans-serif", 14))
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
