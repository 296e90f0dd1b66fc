//! Renders one figure of each kind (the gallery) into a temporary directory, or into
//! `$DCC_REPORT_GALLERY` when set so a person can look at them, and checks each PNG
//! decodes with the requested size and is not blank.

use super::canvas::Marker;
use super::color::{palette, Color, Colormap};
use super::figure::Figure;
use super::panels::{Heatmap, ImagePanel};
use super::series::{LegendPos, Scale, Style};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use std::path::{Path, PathBuf};

fn out_dir() -> (PathBuf, bool) {
    match std::env::var_os("DCC_REPORT_GALLERY") {
        Some(d) => (PathBuf::from(d), true),
        None => (
            std::env::temp_dir().join(format!("dcc-gallery-{}", std::process::id())),
            false,
        ),
    }
}

fn check_png(path: &Path, w: u32, h: u32) {
    let dec = png::Decoder::new(std::fs::File::open(path).unwrap());
    let mut reader = dec.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (w, h), "{}", path.display());
    let non_white = buf
        .chunks_exact(3)
        .filter(|p| p != &[255, 255, 255])
        .count();
    assert!(
        non_white > (w * h / 100) as usize,
        "{} is nearly blank",
        path.display()
    );
}

pub(crate) const SETS: [&str; 6] = [
    "CDM",
    "SIDM 0.01",
    "SIDM 0.1",
    "SIDM 0.3",
    "SIDM 1",
    "SIDM 3",
];

fn latent_scatter(rng: &mut ChaCha8Rng) -> Figure {
    let n = Normal::new(0.0, 0.45).unwrap();
    let (mut xs, mut ys, mut cats) = (vec![], vec![], vec![]);
    for (c, _) in SETS.iter().enumerate() {
        let a = c as f64 * 0.9;
        for _ in 0..150 {
            xs.push(2.5 * a.cos() + n.sample(rng));
            ys.push(2.5 * a.sin() + n.sample(rng));
            cats.push(c);
        }
    }
    let mut f = Figure::new(800, 600);
    f.axes(0)
        .scatter(&xs, &ys, &cats, &SETS)
        .set_title("Latent space (test split)")
        .set_xlabel("z₁")
        .set_ylabel("z₂");
    f
}

fn training_curves(rng: &mut ChaCha8Rng) -> Figure {
    let epochs: Vec<f64> = (1..=200).map(|e| e as f64).collect();
    let mut f = Figure::new(800, 500);
    let ax = f.axes(0);
    for (k, name) in ["train CE", "val CE", "CCLP", "distance"]
        .iter()
        .enumerate()
    {
        let y: Vec<f64> = epochs
            .iter()
            .map(|e| {
                (2.0 + k as f64) * (-e / (30.0 + 15.0 * k as f64)).exp()
                    + 0.02
                    + 0.01 * rng.gen::<f64>()
            })
            .collect();
        let style = if k == 1 {
            Style::default().dashed()
        } else {
            Style::default()
        };
        ax.line_styled(&epochs, &y, name, style);
    }
    ax.set_yscale(Scale::Log10)
        .set_xlabel("epoch")
        .set_ylabel("loss")
        .set_title("Training curves (log y)");
    f
}

fn posterior() -> Figure {
    let xs: Vec<f64> = (0..300).map(|i| -0.5 + i as f64 * 0.008).collect();
    let dens = |m: f64, s: f64| -> Vec<f64> {
        xs.iter()
            .map(|x| (-(x - m) * (x - m) / (2.0 * s * s)).exp() / (s * 2.5066))
            .collect()
    };
    let mut f = Figure::new(800, 500);
    let ax = f.axes(0);
    ax.vband(0.42, 0.71, "68 % interval", palette(0))
        .line(&xs, &dens(0.56, 0.14), "posterior σ/m")
        .line(&xs, &dens(0.5, 0.3), "prior-like member")
        .vline(0.5, "true σ/m = 0.5")
        .hline(0.0, "")
        .set_xlabel("σ/m [cm²/g]")
        .set_ylabel("p(σ/m)")
        .set_title("Posterior of an unknown set");
    f
}

fn recovery() -> Figure {
    let truth = [0.01, 0.03, 0.1, 0.3, 1.0, 3.0];
    let pred = [0.013, 0.027, 0.12, 0.26, 1.1, 2.4];
    let err: Vec<f64> = pred.iter().map(|p| 0.25 * p).collect();
    let mut f = Figure::new(700, 600);
    let ax = f.axes(0);
    ax.line_styled(
        &[0.005, 5.0],
        &[0.005, 5.0],
        "y = x",
        Style::color(Color::GREY).width(1.5).dashed(),
    )
    .errorbars(&truth, &pred, &err, "ensemble mean ± σ")
    .set_xscale(Scale::Log10)
    .set_yscale(Scale::Log10)
    .set_xlim(0.005, 5.0)
    .set_ylim(0.005, 5.0)
    .set_legend(LegendPos::TopLeft)
    .set_xlabel("true σ/m [cm² g⁻¹]")
    .set_ylabel("inferred σ/m [cm² g⁻¹]")
    .set_title("Recovery (log–log)");
    f
}

fn overlap_heatmap() -> Figure {
    let n = SETS.len();
    let mut v = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            v[i * n + j] = (-((i as f64 - j as f64).abs()) * 0.9).exp();
        }
    }
    let mut f = Figure::new(760, 620);
    f.axes(0)
        .heatmap(
            Heatmap::new(&v, n, n)
                .labels(&SETS, &SETS)
                .range(0.0, 1.0)
                .colorbar_label("overlap"),
        )
        .set_title("Latent overlap between sets");
    f
}

fn map(rng: &mut ChaCha8Rng, n: usize, core: f64, signed: bool) -> Vec<f64> {
    let mut v = Vec::with_capacity(n * n);
    for i in 0..n {
        for j in 0..n {
            let (x, y) = (i as f64 - n as f64 / 2.0, j as f64 - n as f64 / 2.0);
            let r2 = (x * x + y * y) / (core * core);
            let base = if signed {
                x * y / (n * n) as f64 * 8.0 * (-r2 / 4.0).exp()
            } else {
                1.0 / (1.0 + r2)
            };
            v.push(base + 0.03 * rng.gen::<f64>());
        }
    }
    v
}

fn image_grid(rng: &mut ChaCha8Rng) -> Figure {
    let mut images = Vec::new();
    for (k, core) in [3.0, 6.0, 10.0].iter().enumerate() {
        let cmap = if k == 0 {
            Colormap::Greys
        } else {
            Colormap::Viridis
        };
        let im = ImagePanel::new(&map(rng, 64, *core, false), 64, 64)
            .colormap(cmap)
            .colorbar(true);
        images.push((format!("{} map", SETS[k + 2]), im));
    }
    let sal = ImagePanel::new(&map(rng, 64, 12.0, true), 64, 64)
        .colormap(Colormap::BlueWhiteRed)
        .colorbar(true);
    images.push(("saliency".to_string(), sal));
    let mut f = Figure::image_grid(1000, 4, images);
    f.set_title("Example maps and saliency");
    f
}

fn subplots(rng: &mut ChaCha8Rng) -> Figure {
    let mut f = Figure::grid(1100, 800, 2, 2);
    f.set_title("Summary");
    let xs: Vec<f64> = (0..50).map(|i| i as f64 / 5.0).collect();
    let ys: Vec<f64> = xs
        .iter()
        .map(|x| (x * 0.8).sin() + 0.1 * rng.gen::<f64>())
        .collect();
    let lo: Vec<f64> = ys.iter().map(|y| y - 0.3).collect();
    let hi: Vec<f64> = ys.iter().map(|y| y + 0.3).collect();
    f.axes(0)
        .fill_between(&xs, &lo, &hi, "±0.3 band", palette(2))
        .line(&xs, &ys, "signal")
        .set_title("fill_between")
        .set_xlabel("t [Gyr]");
    let pts: Vec<f64> = (0..40).map(|_| rng.gen::<f64>() * 4.0).collect();
    let pys: Vec<f64> = pts.iter().map(|x| x * x + rng.gen::<f64>()).collect();
    f.axes(1)
        .points_styled(
            &pts,
            &pys,
            "triangles",
            Style::default().marker(Marker::Triangle, 9.0),
        )
        .points_styled(
            &pys,
            &pts,
            "diamonds",
            Style::default().marker(Marker::Diamond, 9.0),
        )
        .hband(2.0, 4.0, "hband", palette(4))
        .set_title("markers")
        .set_ylabel("λ [µm]");
    let v: Vec<f64> = (0..12).map(|i| (i as f64 - 5.5) / 5.5).collect();
    f.axes(2)
        .heatmap(
            Heatmap::new(&v, 3, 4)
                .colormap(Colormap::BlueWhiteRed)
                .annotate(Some(1))
                .labels(&["a", "b", "c"], &["w", "x", "y", "z"]),
        )
        .set_title("diverging heatmap");
    let big: Vec<f64> = (1..=30).map(|i| 1e-6 * 3f64.powi(i)).collect();
    let idx: Vec<f64> = (1..=30).map(|i| i as f64).collect();
    f.axes(3)
        .line(&idx, &big, "10⁻⁶ × 3^i")
        .set_yscale(Scale::Log10)
        .set_title("many decades")
        .set_xlabel("i");
    f
}

fn dense_heatmap() -> Figure {
    let names: Vec<String> = (0..12)
        .map(|i| format!("SIDM σ={:.2}", 0.05 * (i * i) as f64))
        .collect();
    let n = names.len();
    let v: Vec<f64> = (0..n * n)
        .map(|k| {
            let (i, j) = ((k / n) as f64, (k % n) as f64);
            (-(i - j).abs() * 0.6).exp() * if k % 7 == 0 { 0.9 } else { 1.0 }
        })
        .collect();
    let mut f = Figure::new(640, 640);
    f.axes(0)
        .heatmap(
            Heatmap::new(&v, n, n)
                .labels(&names, &names)
                .colormap(Colormap::Viridis)
                .colorbar_label("overlap"),
        )
        .set_title("12 sets, long labels")
        .set_xlabel("test set")
        .set_ylabel("training set");
    f
}

fn ensemble_grid(rng: &mut ChaCha8Rng) -> Figure {
    let mut f = Figure::grid(900, 600, 3, 3);
    f.set_title("Ensemble members: validation loss");
    let epochs: Vec<f64> = (1..=60).map(|e| e as f64).collect();
    for m in 0..9 {
        let y: Vec<f64> = epochs
            .iter()
            .map(|e| 1.5 * (-e / (10.0 + m as f64)).exp() + 0.05 * rng.gen::<f64>())
            .collect();
        f.axes(m)
            .line(&epochs, &y, "")
            .set_title(&format!("member {m}"))
            .set_xlabel("epoch")
            .set_ylabel("loss");
    }
    f
}

fn stress_layout(rng: &mut ChaCha8Rng) -> Figure {
    let mut f = Figure::grid(700, 500, 2, 2);
    let ax = f.axes(0);
    for k in 0..15 {
        let xs: Vec<f64> = (0..5).map(|i| i as f64).collect();
        let ys: Vec<f64> = xs.iter().map(|x| x * k as f64 + rng.gen::<f64>()).collect();
        ax.line(&xs, &ys, &format!("series {k}"));
    }
    ax.set_title("15 legend entries");
    f.axes(1)
        .points(&[1.0, 2.0, 3.0], &[1e5, 2e5, 3e5], "big y")
        .set_title("A very long title that is much wider than this little panel")
        .set_xlabel("a long x label with units [cm² g⁻¹ Mpc⁻¹ and more]")
        .set_ylabel("counts per bin");
    let xs: Vec<f64> = (-5..60).map(|i| i as f64 * 0.05).collect();
    let ys: Vec<f64> = xs
        .iter()
        .map(|x| (-(x.max(1e-3).ln() + 1.0).powi(2)).exp())
        .collect();
    f.axes(2)
        .line(&xs, &ys, "p")
        .vband(0.2, 0.6, "68 %", palette(3))
        .set_xscale(Scale::Log10)
        .set_xlabel("σ/m [cm²/g]");
    f.axes(3)
        .heatmap(Heatmap::new(&[0.42], 1, 1).labels(&["only"], &["one"]))
        .set_title("1×1");
    f
}

fn knn_histogram(rng: &mut ChaCha8Rng) -> Figure {
    let train = Normal::new(1.0, 0.25).unwrap();
    let test = Normal::new(1.9, 0.3).unwrap();
    let a: Vec<f64> = (0..2000).map(|_| train.sample(rng)).collect();
    let b: Vec<f64> = (0..300).map(|_| test.sample(rng)).collect();
    let mut f = Figure::new(800, 450);
    f.axes(0)
        .histogram(&a, 40, true, "training (k-th NN distance)")
        .histogram(&b, 25, true, "unknown set")
        .vline(1.41, "95th percentile")
        .set_legend(LegendPos::Outside)
        .set_xlabel("distance to k-th nearest training latent")
        .set_ylabel("density")
        .set_title("Extrapolation check");
    f
}

fn font_specimen() -> super::canvas::Canvas {
    use super::font::Font;
    let lines = [
        " !\"#$%&'()*+,-./0123456789:;<=>?@",
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`",
        "abcdefghijklmnopqrstuvwxyz{|}~",
        "σ λ µ α β Δ θ π ± ∞ ° × · − ≈ ≤ ≥ …",
        "z₁ z₂ cm² g⁻¹ 10⁻³ 10⁹ x₀₁₂₃₄₅₆₇₈₉ ⁰¹²³⁴⁵⁶⁷⁸⁹",
    ];
    let mut c = super::canvas::Canvas::new(900, 430, Color::WHITE);
    let mut y = 6;
    for scale in 1..=3 {
        for l in lines {
            if scale < 3 || l.len() < 40 {
                c.text(6, y, l, Font::regular(scale), Color::INK);
                y += Font::regular(scale).height() as i32 + 3 * scale as i32;
            }
        }
    }
    c.text(6, y, "Bold: Latent space σ/m", Font::bold(2), Color::INK);
    c
}

#[test]
fn gallery_renders_every_figure_kind_to_readable_pngs() {
    let (dir, keep) = out_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let figures = [
        ("latent_scatter", latent_scatter(&mut rng), 800, 600),
        ("training_curves", training_curves(&mut rng), 800, 500),
        ("posterior", posterior(), 800, 500),
        ("recovery", recovery(), 700, 600),
        ("overlap_heatmap", overlap_heatmap(), 760, 620),
        ("subplots", subplots(&mut rng), 1100, 800),
        ("dense_heatmap", dense_heatmap(), 640, 640),
        ("ensemble_grid", ensemble_grid(&mut rng), 900, 600),
        ("stress_layout", stress_layout(&mut rng), 700, 500),
        ("knn_histogram", knn_histogram(&mut rng), 800, 450),
    ];
    for (name, fig, w, h) in figures {
        let path = dir.join(format!("{name}.png"));
        fig.save(&path).unwrap();
        check_png(&path, w, h);
    }
    let grid = image_grid(&mut rng);
    let path = dir.join("image_grid.png");
    grid.save(&path).unwrap();
    let c = grid.render().unwrap();
    check_png(&path, c.width(), c.height());
    let path = dir.join("font.png");
    font_specimen().save_png(&path).unwrap();
    check_png(&path, 900, 430);
    let mut page = super::html::HtmlPage::new("dcc report gallery");
    page.section("Figures")
        .paragraph("Every figure kind the report layer draws.");
    for name in [
        "latent_scatter",
        "training_curves",
        "posterior",
        "recovery",
        "overlap_heatmap",
        "dense_heatmap",
        "image_grid",
        "subplots",
        "font",
    ] {
        page.image(&format!("{name}.png"), name);
    }
    page.section("Numbers").table(
        &["set", "σ/m [cm²/g]", "confidence", "n"],
        SETS.iter()
            .enumerate()
            .map(|(i, s)| {
                vec![
                    (*s).into(),
                    (0.1 * i as f64).into(),
                    super::html::Cell::fixed(1.0 / (1.0 + i as f64), 3),
                    (100 * i).into(),
                ]
            })
            .collect(),
    );
    page.section("Log")
        .pre("epoch 1  loss 2.31 <ok>\nepoch 2  loss 1.87 & falling");
    page.save(dir.join("index.html")).unwrap();
    if !keep {
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
