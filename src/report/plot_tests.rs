//! Tests of the figure layer: data-to-pixel mapping (linear and log), heatmap colours,
//! input errors reported by `render`, and no panics on hostile numbers.

use super::color::Color;
use super::figure::Figure;
use super::panels::{heatmap_color, Heatmap, ImagePanel};
use super::series::{LegendPos, Scale, Style};
use proptest::prelude::*;

const RED: Color = Color::rgb(255, 0, 0);

/// Centroids of the groups of exactly-`c` pixels, groups split by gaps along x.
fn blobs(fig: &Figure, c: Color) -> Vec<(f64, f64)> {
    let canvas = fig.render().unwrap();
    let mut px: Vec<(i32, i32)> = Vec::new();
    for y in 0..canvas.height() as i32 {
        for x in 0..canvas.width() as i32 {
            if canvas.pixel(x, y) == Some(c) {
                px.push((x, y));
            }
        }
    }
    px.sort();
    let mut groups: Vec<Vec<(i32, i32)>> = Vec::new();
    for p in px {
        match groups.last_mut() {
            Some(g) if p.0 - g.last().unwrap().0 <= 2 => g.push(p),
            _ => groups.push(vec![p]),
        }
    }
    groups
        .iter()
        .map(|g| {
            let n = g.len() as f64;
            (
                g.iter().map(|p| p.0 as f64).sum::<f64>() / n,
                g.iter().map(|p| p.1 as f64).sum::<f64>() / n,
            )
        })
        .collect()
}

fn three_points(xs: [f64; 3], scale: Scale, lim: (f64, f64)) -> Figure {
    let mut f = Figure::new(400, 300);
    f.axes(0)
        .points_styled(&xs, &[5.0; 3], "", Style::color(RED))
        .set_xscale(scale)
        .set_xlim(lim.0, lim.1)
        .set_ylim(0.0, 10.0)
        .set_grid(false);
    f
}

#[test]
fn equal_data_steps_give_equal_pixel_steps_on_linear_and_log_axes() {
    for (xs, scale, lim) in [
        ([2.0, 5.0, 8.0], Scale::Linear, (0.0, 10.0)),
        ([0.1, 1.0, 10.0], Scale::Log10, (0.01, 100.0)),
    ] {
        let b = blobs(&three_points(xs, scale, lim), RED);
        assert_eq!(b.len(), 3, "{scale:?}: {b:?}");
        let (d1, d2) = (b[1].0 - b[0].0, b[2].0 - b[1].0);
        assert!(
            d1 > 50.0 && (d1 - d2).abs() <= 1.0,
            "{scale:?}: steps {d1} and {d2}"
        );
        assert!(
            b.iter().all(|p| (p.1 - b[0].1).abs() < 0.5),
            "{scale:?}: {b:?}"
        );
    }
    // Higher y values are drawn higher up.
    let mut f = Figure::new(300, 300);
    f.axes(0)
        .points_styled(&[1.0, 2.0], &[1.0, 9.0], "", Style::color(RED));
    let b = blobs(&f, RED);
    assert!(b.len() == 2 && b[1].1 < b[0].1 - 100.0, "{b:?}");
}

#[test]
fn heatmap_cell_colours_are_monotone_in_the_value_and_placed_in_order() {
    let values = [0.0, 0.1, 0.35, 0.6, 0.95];
    let h = Heatmap::new(&values, 1, 5).annotate(None).range(0.0, 1.0);
    let colors: Vec<Color> = values.iter().map(|&v| heatmap_color(&h, v)).collect();
    let lum: Vec<f64> = colors.iter().map(|c| c.luminance()).collect();
    assert!(
        lum.windows(2).all(|w| w[1] < w[0]),
        "Blues should darken: {lum:?}"
    );
    let mut f = Figure::new(600, 220);
    f.axes(0).heatmap(h);
    let mut last_x = f64::NEG_INFINITY;
    for c in colors {
        let b = blobs(&f, c);
        // The leftmost group of this colour is the cell; the colour bar lies to the right.
        let cell = b
            .first()
            .copied()
            .unwrap_or_else(|| panic!("no pixels of {c:?}"));
        assert!(cell.0 > last_x, "cells out of order");
        last_x = cell.0;
    }
}

#[test]
fn mismatched_inputs_are_reported_by_render_not_panics() {
    type Build = Box<dyn Fn(&mut Figure)>;
    let cases: Vec<(Build, &str)> = vec![
        (
            Box::new(|f| {
                f.axes(0).line(&[1.0, 2.0], &[1.0], "loss");
            }),
            "line 'loss': xs has 2 values but ys has 1",
        ),
        (
            Box::new(|f| {
                f.axes(0).scatter(&[1.0], &[1.0], &[3], &["a", "b"]);
            }),
            "category 3 has no name",
        ),
        (
            Box::new(|f| {
                f.axes(0).bars(&[0.0, 1.0], &[1.0, 2.0], "b", None);
            }),
            "bars 'b': expected 3 edges for 2 heights, found 2",
        ),
        (
            Box::new(|f| {
                f.axes(0).histogram(&[f64::NAN], 10, false, "h");
            }),
            "histogram 'h': expected at least one bin and one finite value",
        ),
        (
            Box::new(|f| {
                f.axes(0).errorbars(&[1.0], &[1.0], &[], "e");
            }),
            "yerr has 0",
        ),
        (
            Box::new(|f| {
                f.axes(0).heatmap(Heatmap::new(&[1.0; 5], 2, 3));
            }),
            "expected 2×3 = 6 values, found 5",
        ),
        (
            Box::new(|f| {
                f.axes(0).image(ImagePanel::new(&[], 0, 4));
            }),
            "image: expected 0×4",
        ),
        (
            Box::new(|f| {
                f.axes(1)
                    .heatmap(Heatmap::new(&[1.0; 4], 2, 2).labels(&["a"], &["x", "y"]));
            }),
            "figure axes 1: heatmap: expected 2 row and 2 column labels, found 1 and 2",
        ),
    ];
    for (build, want) in cases {
        let mut f = Figure::grid(300, 200, 1, 2);
        build(&mut f);
        let e = format!("{:#}", f.render().unwrap_err());
        assert!(e.contains(want), "{e}");
        let e = format!("{:#}", f.save("/tmp/never-written.png").unwrap_err());
        assert!(e.contains("/tmp/never-written.png"), "{e}");
    }
}

#[test]
fn empty_axes_and_unplottable_values_still_render() {
    let mut f = Figure::grid(500, 300, 1, 3);
    f.axes(0).set_title("empty").set_xlabel("x");
    f.axes(1)
        .line(
            &[0.0, 1.0, 2.0, 3.0],
            &[0.0, -1.0, f64::NAN, 10.0],
            "log skips ≤ 0",
        )
        .set_yscale(Scale::Log10);
    f.axes(2)
        .points(&[f64::INFINITY], &[1.0], "inf")
        .set_legend(LegendPos::BottomLeft);
    let c = f.render().unwrap();
    assert_eq!((c.width(), c.height()), (500, 300));
}

fn hostile() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(0.0),
        Just(1e308),
        Just(-1e-308),
        -1e6..1e6f64,
        1e-12..1e12f64,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn rendering_never_panics_on_hostile_numbers(
        v in prop::collection::vec(hostile(), 1..12),
        lim in (hostile(), hostile()),
        log in any::<bool>(),
        w in 1u32..260,
        h in 1u32..200,
    ) {
        let n = v.len();
        let mut f = Figure::grid(w, h, 2, 2);
        let scale = if log { Scale::Log10 } else { Scale::Linear };
        let cats: Vec<usize> = (0..n).map(|i| i % 3).collect();
        f.axes(0)
            .scatter(&v, &v, &cats, &["a", "b", "c"])
            .line(&v, &v, "l")
            .errorbars(&v, &v, &v, "e")
            .fill_between(&v, &v, &v, "f", Color::BLACK)
            .vline(v[0], "v")
            .vband(v[0], v[n - 1], "b", Color::BLACK)
            .hband(v[n - 1], v[0], "", Color::BLACK)
            .set_xscale(scale)
            .set_yscale(scale)
            .set_xlim(lim.0, lim.1);
        f.axes(1).heatmap(Heatmap::new(&v, 1, n).range(lim.0, lim.1));
        f.axes(2).image(ImagePanel::new(&v, n, 1).colorbar(true));
        f.axes(3).line(&v, &v, "l").set_ylim(lim.0, lim.1).set_yscale(scale);
        let c = f.render().unwrap();
        prop_assert_eq!((c.width(), c.height()), (w, h));
    }
}
