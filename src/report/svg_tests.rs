//! The SVG twin of the canvas: the same calls give the same pixels and one element each.

use super::canvas::{Canvas, Marker, Rect};
use super::color::Color;
use super::figure::Figure;
use super::font::Font;
use super::html::HtmlPage;

/// The same drawing on a plain and on a recording canvas.
fn draw(c: &mut Canvas) {
    c.fill_rect(Rect::new(2, 2, 10, 6), Color::rgb(200, 10, 10));
    c.line_aa(1.0, 1.0, 30.0, 20.0, 2.0, Color::BLACK);
    c.marker(
        20.0,
        10.0,
        Marker::Triangle,
        6.0,
        Color::rgb(0, 0, 255),
        0.5,
    );
    c.marker(25.0, 5.0, Marker::Cross, 5.0, Color::INK, 1.0);
    c.set_clip(Some(Rect::new(0, 0, 20, 20)));
    c.dashed_polyline_aa(&[(0.0, 15.0), (39.0, 15.0)], 1.0, 3.0, 2.0, Color::INK);
    c.set_clip(None);
    c.text(
        2,
        22,
        "σ/m ≥ 0 <cm²/g> & more",
        Font::regular(1),
        Color::INK,
    );
    c.text_vertical(34, 2, "z₀", Font::bold(1), Color::INK);
    for x in 0..4 {
        c.put(30 + x, 30, Color::rgb(0, 200, 0));
    }
    c.blend(35, 31, Color::rgb(0, 0, 200), 0.5);
}

#[test]
fn recording_changes_no_pixel() {
    let mut plain = Canvas::new(40, 40, Color::WHITE);
    let mut rec = Canvas::recording(40, 40, Color::WHITE);
    draw(&mut plain);
    draw(&mut rec);
    assert_eq!(plain.pixels(), rec.pixels());
    assert!(plain.to_svg().is_none());
}

#[test]
fn each_drawing_call_is_one_element_and_text_is_real_text() {
    let mut rec = Canvas::recording(40, 40, Color::WHITE);
    draw(&mut rec);
    let svg = rec.to_svg().unwrap();
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"40\" height=\"40\""));
    assert!(svg.trim_end().ends_with("</svg>"));
    // background + fill_rect; the thick line and the dashes are polylines; the triangle
    // a polygon at half opacity; the cross two strokes in a group.
    assert_eq!(svg.matches("<rect").count(), 3, "{svg}"); // + the clip's rectangle
    assert_eq!(svg.matches("<polyline").count(), 4, "{svg}");
    assert_eq!(svg.matches("<polygon").count(), 1, "{svg}");
    assert!(svg.contains("fill-opacity=\"0.5\""), "{svg}");
    assert!(svg.contains("stroke-dasharray=\"3 2\""), "{svg}");
    // Text is escaped Unicode, stretched to the bitmap font's width; vertical text rotated.
    assert!(
        svg.contains(">σ/m ≥ 0 &lt;cm²/g&gt; &amp; more</text>"),
        "{svg}"
    );
    let w = Font::regular(1).measure("σ/m ≥ 0 <cm²/g> & more").0;
    assert!(svg.contains(&format!("textLength=\"{w}\"")), "{svg}");
    assert!(svg.contains("transform=\"rotate(-90") && svg.contains("font-weight=\"bold\""));
    // The clip became a clipPath wrapping only the dashes.
    assert_eq!(svg.matches("<clipPath").count(), 1);
    assert_eq!(
        svg.matches("<g clip-path").count(),
        svg.matches("</g>").count() - 1
    );
    // Pixels set one by one are one embedded PNG, cropped to where they are.
    assert_eq!(svg.matches("<image").count(), 1, "{svg}");
    assert!(
        svg.contains("<image x=\"30\" y=\"30\" width=\"6\" height=\"2\""),
        "{svg}"
    );
}

#[test]
fn pixels_and_vectors_keep_their_drawing_order() {
    let mut rec = Canvas::recording(10, 10, Color::WHITE);
    rec.put(1, 1, Color::BLACK);
    rec.fill_rect(Rect::new(0, 0, 5, 5), Color::rgb(9, 9, 9));
    rec.put(2, 2, Color::BLACK);
    let svg = rec.to_svg().unwrap();
    let first = svg.find("<image").unwrap();
    let rect = svg.find("fill=\"#090909\"").unwrap();
    let second = svg.rfind("<image").unwrap();
    assert!(first < rect && rect < second, "{svg}");
}

#[test]
fn a_figure_renders_as_svg_and_inlines_in_a_page() {
    let mut f = Figure::new(400, 300);
    f.set_title("posterior of σ/m");
    f.axes(0)
        .line(&[0.0, 1.0, 2.0], &[0.0, 1.0, 0.5], "member 0")
        .set_xlabel("σ/m [cm²/g]");
    let svg = f.render_svg().unwrap();
    assert!(svg.contains(">posterior of σ/m</text>") && svg.contains(">σ/m [cm²/g]</text>"));
    assert_eq!(f.render().unwrap().width(), 400);
    let mut page = HtmlPage::new("t");
    page.section("s").svg(&svg, "a caption");
    let html = page.render().unwrap();
    assert!(html.contains("<figure class=\"svg\"><svg xmlns"), "{html}");
    assert!(html.contains("<figcaption>a caption</figcaption>"));
    let mut bad = HtmlPage::new("t");
    bad.svg("<div>", "x");
    assert!(bad.render().is_err());
}
