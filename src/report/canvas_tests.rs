//! Pixel-level tests of the canvas primitives and PNG output.

use super::canvas::{Canvas, Marker, Rect};
use super::color::Color;
use super::font::Font;

fn ink_pixels(c: &Canvas, bg: Color) -> Vec<(i32, i32)> {
    let mut out = Vec::new();
    for y in 0..c.height() as i32 {
        for x in 0..c.width() as i32 {
            if c.pixel(x, y) != Some(bg) {
                out.push((x, y));
            }
        }
    }
    out
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("dcc-report-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn bresenham_diagonal_sets_exactly_the_diagonal() {
    let mut c = Canvas::new(12, 12, Color::WHITE);
    c.line(0, 0, 9, 9, Color::BLACK);
    let ink = ink_pixels(&c, Color::WHITE);
    assert_eq!(ink, (0..10).map(|i| (i, i)).collect::<Vec<_>>());
    // Steep and reversed lines include both end points and are 8-connected.
    let mut c = Canvas::new(12, 12, Color::WHITE);
    c.line(7, 11, 2, 0, Color::BLACK);
    let ink = ink_pixels(&c, Color::WHITE);
    assert_eq!(ink.len(), 12);
    assert!(ink.contains(&(7, 11)) && ink.contains(&(2, 0)));
    assert!(ink
        .windows(2)
        .all(|w| (w[1].1 - w[0].1) == 1 && (w[1].0 - w[0].0).abs() <= 1));
}

#[test]
fn anti_aliased_line_is_solid_on_its_axis_and_fades_at_its_edge() {
    let mut c = Canvas::new(20, 9, Color::WHITE);
    c.line_aa(2.0, 4.0, 17.0, 4.0, 2.0, Color::BLACK);
    for x in 2..=17 {
        assert_eq!(c.pixel(x, 4), Some(Color::BLACK));
    }
    // Width 2 centred on row 4 covers half of rows 3 and 5 and nothing beyond.
    assert_eq!(c.pixel(10, 3), Some(Color::rgb(128, 128, 128)));
    assert_eq!(c.pixel(10, 5), Some(Color::rgb(128, 128, 128)));
    assert_eq!(c.pixel(10, 2), Some(Color::WHITE));
    assert_eq!(c.pixel(10, 6), Some(Color::WHITE));
}

#[test]
fn clip_rectangle_stops_all_drawing_outside_it() {
    let mut c = Canvas::new(20, 20, Color::WHITE);
    let clip = Rect::new(5, 5, 10, 10);
    c.set_clip(Some(clip));
    c.line(0, 0, 19, 19, Color::BLACK);
    c.fill_circle(5.0, 5.0, 6.0, Color::BLACK, 1.0);
    c.marker(14.0, 14.0, Marker::Diamond, 12.0, Color::BLACK, 1.0);
    c.text(0, 8, "HELLO", Font::regular(2), Color::BLACK);
    let ink = ink_pixels(&c, Color::WHITE);
    assert!(!ink.is_empty());
    assert!(ink.iter().all(|&(x, y)| clip.contains(x, y)));
    c.set_clip(None);
    c.put(0, 0, Color::BLACK);
    assert_eq!(c.pixel(0, 0), Some(Color::BLACK));
}

#[test]
fn text_inks_only_inside_its_measured_box() {
    for (text, font) in [
        ("Ag|σ²", Font::regular(1)),
        ("z₁ = 0.5 ± 1%", Font::regular(2)),
        ("log10 σ/m [cm²/g]", Font::bold(3)),
    ] {
        let (w, h) = font.measure(text);
        let (x0, y0) = (7, 5);
        let mut c = Canvas::new(w + 20, h + 12, Color::WHITE);
        let drawn = c.text(x0, y0, text, font, Color::BLACK);
        assert_eq!(drawn, w);
        let ink = ink_pixels(&c, Color::WHITE);
        assert!(ink.len() > 20, "{text}: too little ink");
        let b = Rect::new(x0, y0, w as i32, h as i32);
        assert!(
            ink.iter().all(|&(x, y)| b.contains(x, y)),
            "{text}: ink outside box"
        );
        // The ink spans the box: the measured width is not padded.
        let x_max = ink.iter().map(|p| p.0).max().unwrap();
        let x_min = ink.iter().map(|p| p.0).min().unwrap();
        assert!(
            x_max - x_min + 1 >= w as i32 - 2 * font.scale as i32,
            "{text}"
        );
    }
}

#[test]
fn vertical_text_is_the_horizontal_text_rotated_counter_clockwise() {
    let font = Font::regular(2);
    let text = "y axis";
    let (w, h) = font.measure(text);
    let mut flat = Canvas::new(w, h, Color::WHITE);
    flat.text(0, 0, text, font, Color::BLACK);
    let mut up = Canvas::new(h, w, Color::WHITE);
    up.text_vertical(0, 0, text, font, Color::BLACK);
    for y in 0..h as i32 {
        for x in 0..w as i32 {
            assert_eq!(flat.pixel(x, y), up.pixel(y, w as i32 - 1 - x));
        }
    }
}

#[test]
fn circles_and_rectangles_cover_their_area() {
    let mut c = Canvas::new(30, 30, Color::WHITE);
    c.fill_circle(15.0, 15.0, 5.0, Color::BLACK, 1.0);
    assert_eq!(c.pixel(15, 15), Some(Color::BLACK));
    assert_eq!(c.pixel(19, 15), Some(Color::BLACK));
    assert_eq!(c.pixel(22, 15), Some(Color::WHITE));
    let n = ink_pixels(&c, Color::WHITE).len() as f64;
    assert!((n - std::f64::consts::PI * 25.0).abs() < 20.0, "{n}");
    let mut c = Canvas::new(10, 10, Color::WHITE);
    c.fill_rect(Rect::new(2, 3, 4, 5), Color::BLACK);
    assert_eq!(ink_pixels(&c, Color::WHITE).len(), 20);
    c.fill_rect_alpha(Rect::new(0, 0, 1, 1), Color::BLACK, 0.25);
    assert_eq!(c.pixel(0, 0), Some(Color::rgb(191, 191, 191)));
}

#[test]
fn saved_png_decodes_to_the_same_size_and_pixels() {
    let dir = temp_dir("png");
    let path = dir.join("small.png");
    let mut c = Canvas::new(37, 21, Color::WHITE);
    c.put(3, 4, Color::rgb(10, 200, 30));
    c.save_png(&path).unwrap();
    let dec = png::Decoder::new(std::fs::File::open(&path).unwrap());
    let mut reader = dec.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (37, 21));
    assert_eq!(info.color_type, png::ColorType::Rgb);
    let i = (4 * 37 + 3) * 3;
    assert_eq!(&buf[i..i + 3], &[10, 200, 30]);
    assert_eq!(&buf[..info.buffer_size()], c.pixels());
    // No temporary file is left behind.
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn saving_into_a_missing_directory_names_the_path() {
    let c = Canvas::new(2, 2, Color::WHITE);
    let err = c.save_png("/nonexistent-dcc-dir/x/plot.png").unwrap_err();
    assert!(
        format!("{err:#}").contains("/nonexistent-dcc-dir/x/plot.png"),
        "{err:#}"
    );
}
