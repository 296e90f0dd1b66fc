//! The vector half of the canvas: while a canvas records (`Canvas::recording`), every
//! drawing call also becomes an SVG element (lines, shapes, markers, text in a real font
//! with any Unicode), so a figure renders once and comes out both as PNG pixels and as a
//! resolution-free SVG for papers. Pixels set one by one (map and saliency panels) are
//! gathered into embedded PNG images, in drawing order with the vector elements.

use super::color::Color;
use super::font::Font;
use super::geom::Rect;
use super::html::{base64, escape};
use std::fmt::Write;

/// Font stack of SVG text: a common sans-serif with wide Unicode coverage first.
const FONTS: &str = "DejaVu Sans, Helvetica, Arial, sans-serif";

/// The element list of one recording canvas.
#[derive(Clone, Debug)]
pub(super) struct Recorder {
    width: u32,
    height: u32,
    body: String,
    clips: usize,
    clip_open: bool,
    layer: Option<PixelLayer>,
}

/// Pixels set individually since the last vector element: RGBA over the whole canvas and
/// the bounding box of what was set.
#[derive(Clone, Debug)]
struct PixelLayer {
    rgba: Vec<u8>,
    x0: i32,
    y0: i32,
    x1: i32,
    y1: i32,
}

/// An SVG colour.
pub(super) fn hex(c: Color) -> String {
    format!("#{:02x}{:02x}{:02x}", c.r, c.g, c.b)
}

/// A number in SVG coordinates (two decimals are far below a pixel).
fn n(v: f64) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

/// ` fill-opacity`/`stroke-opacity` when not opaque.
fn opacity(attr: &str, alpha: f64) -> String {
    if alpha >= 1.0 {
        String::new()
    } else {
        format!(" {attr}=\"{}\"", n(alpha.max(0.0)))
    }
}

/// Points of a polyline or polygon, pixel centres moved to SVG's (i + ½) convention.
fn points(pts: &[(f64, f64)]) -> String {
    let mut s = String::new();
    for (i, (x, y)) in pts.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        let _ = write!(s, "{},{}", n(x + 0.5), n(y + 0.5));
    }
    s
}

impl Recorder {
    /// An empty recording of a `width`×`height` canvas.
    pub fn new(width: u32, height: u32) -> Recorder {
        Recorder {
            width,
            height,
            body: String::new(),
            clips: 0,
            clip_open: false,
            layer: None,
        }
    }

    /// Appends one vector element after whatever pixels came before it.
    pub fn element(&mut self, el: &str) {
        self.flush_pixels();
        self.body.push_str(el);
        self.body.push('\n');
    }

    /// Records one pixel set directly (`alpha` = 1) or blended over what is there.
    pub fn pixel(&mut self, x: i32, y: i32, c: Color, alpha: f64) {
        let (w, h) = (self.width as i32, self.height as i32);
        if x < 0 || y < 0 || x >= w || y >= h {
            return;
        }
        let layer = self.layer.get_or_insert_with(|| PixelLayer {
            rgba: vec![0; (w * h * 4) as usize],
            x0: x,
            y0: y,
            x1: x,
            y1: y,
        });
        let i = ((y * w + x) * 4) as usize;
        let a0 = layer.rgba[i + 3] as f64 / 255.0;
        let a = alpha.clamp(0.0, 1.0);
        let out = a + a0 * (1.0 - a);
        if out > 0.0 {
            let mix = |new: u8, old: u8| {
                ((new as f64 * a + old as f64 * a0 * (1.0 - a)) / out).round() as u8
            };
            layer.rgba[i] = mix(c.r, layer.rgba[i]);
            layer.rgba[i + 1] = mix(c.g, layer.rgba[i + 1]);
            layer.rgba[i + 2] = mix(c.b, layer.rgba[i + 2]);
            layer.rgba[i + 3] = (out * 255.0).round() as u8;
        }
        layer.x0 = layer.x0.min(x);
        layer.y0 = layer.y0.min(y);
        layer.x1 = layer.x1.max(x);
        layer.y1 = layer.y1.max(y);
    }

    /// Later elements are clipped to `r` (None: the whole canvas).
    pub fn clip(&mut self, r: Option<Rect>) {
        self.flush_pixels();
        if self.clip_open {
            self.body.push_str("</g>\n");
            self.clip_open = false;
        }
        if let Some(r) = r {
            self.clips += 1;
            let _ = writeln!(
                self.body,
                "<clipPath id=\"c{}\"><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/></clipPath><g clip-path=\"url(#c{})\">",
                self.clips, r.x, r.y, r.w.max(0), r.h.max(0), self.clips
            );
            self.clip_open = true;
        }
    }

    /// The document.
    pub fn finish(&self) -> String {
        let mut me = self.clone();
        me.flush_pixels();
        if me.clip_open {
            me.body.push_str("</g>\n");
        }
        format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"{FONTS}\">\n{}</svg>\n",
            me.body,
            w = self.width,
            h = self.height
        )
    }

    /// Turns the pixels gathered so far into one embedded PNG cropped to their box.
    fn flush_pixels(&mut self) {
        let Some(l) = self.layer.take() else { return };
        let (w, h) = (l.x1 - l.x0 + 1, l.y1 - l.y0 + 1);
        let mut crop = Vec::with_capacity((w * h * 4) as usize);
        for y in l.y0..=l.y1 {
            let row = ((y * self.width as i32 + l.x0) * 4) as usize;
            crop.extend_from_slice(&l.rgba[row..row + (w * 4) as usize]);
        }
        let mut png_bytes = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut png_bytes, w as u32, h as u32);
            enc.set_color(png::ColorType::Rgba);
            enc.set_depth(png::BitDepth::Eight);
            let written = enc
                .write_header()
                .and_then(|mut wr| wr.write_image_data(&crop));
            if written.is_err() {
                return; // an in-memory PNG of a valid size cannot fail; skip rather than panic
            }
        }
        let _ = writeln!(
            self.body,
            "<image x=\"{}\" y=\"{}\" width=\"{w}\" height=\"{h}\" style=\"image-rendering:pixelated\" href=\"data:image/png;base64,{}\"/>",
            l.x0,
            l.y0,
            base64(&png_bytes)
        );
    }
}

/// A one-pixel line between pixel centres.
pub(super) fn pixel_line(x0: i32, y0: i32, x1: i32, y1: i32, c: Color) -> String {
    format!(
        "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"1\" stroke-linecap=\"square\"/>",
        x0 as f64 + 0.5,
        y0 as f64 + 0.5,
        x1 as f64 + 0.5,
        y1 as f64 + 0.5,
        hex(c)
    )
}

/// A stroked path through `pts` (pixel-centre coordinates), optionally dashed.
pub(super) fn polyline(
    pts: &[(f64, f64)],
    width: f64,
    c: Color,
    alpha: f64,
    dash: Option<(f64, f64)>,
) -> String {
    let dash = dash.map_or(String::new(), |(d, g)| {
        format!(" stroke-dasharray=\"{} {}\"", n(d), n(g))
    });
    format!(
        "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"{}\" stroke-linecap=\"round\" stroke-linejoin=\"round\"{}{dash}/>",
        points(pts),
        hex(c),
        n(width.max(1.0)),
        opacity("stroke-opacity", alpha)
    )
}

/// A filled integer rectangle.
pub(super) fn rect(r: Rect, c: Color, alpha: f64) -> String {
    format!(
        "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"{}/>",
        r.x,
        r.y,
        r.w.max(0),
        r.h.max(0),
        hex(c),
        opacity("fill-opacity", alpha)
    )
}

/// A one-pixel outline just inside `r`.
pub(super) fn stroke_rect(r: Rect, c: Color) -> String {
    format!(
        "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1\"/>",
        r.x as f64 + 0.5,
        r.y as f64 + 0.5,
        (r.w - 1).max(0),
        (r.h - 1).max(0),
        hex(c)
    )
}

/// A filled disc (pixel-centre coordinates).
pub(super) fn circle(cx: f64, cy: f64, radius: f64, c: Color, alpha: f64) -> String {
    format!(
        "<circle cx=\"{}\" cy=\"{}\" r=\"{}\" fill=\"{}\"{}/>",
        n(cx + 0.5),
        n(cy + 0.5),
        n(radius.max(0.0)),
        hex(c),
        opacity("fill-opacity", alpha)
    )
}

/// A filled polygon (pixel-centre coordinates).
pub(super) fn polygon(pts: &[(f64, f64)], c: Color, alpha: f64) -> String {
    format!(
        "<polygon points=\"{}\" fill=\"{}\"{}/>",
        points(pts),
        hex(c),
        opacity("fill-opacity", alpha)
    )
}

/// Text whose box (as the bitmap font measures it) has its top-left corner at (x, y),
/// spaced out or in to that box's width so layouts made with the bitmap metrics still fit
/// (letter spacing only: scaling the glyphs too made narrow-lettered names look larger
/// than wide-lettered ones); `vertical` reads bottom to top.
pub(super) fn text(x: i32, y: i32, s: &str, font: Font, c: Color, vertical: bool) -> String {
    let (w, _) = font.measure(s);
    let scale = font.scale as f64;
    // A little above the cell height: a proportional font at 9 font pixels runs ~15 %
    // narrower than the monospaced bitmap advance, which the letter spacing would widen.
    let size = 10.0 * scale;
    let weight = if font.bold {
        " font-weight=\"bold\""
    } else {
        ""
    };
    // The bitmap cell is 9 font pixels with the baseline under row 7.
    let (tx, ty, transform) = if vertical {
        let (bx, by) = (x as f64 + 7.0 * scale, y as f64 + w as f64);
        (
            bx,
            by,
            format!(" transform=\"rotate(-90 {} {})\"", n(bx), n(by)),
        )
    } else {
        (x as f64, y as f64 + 7.0 * scale, String::new())
    };
    format!(
        "<text x=\"{}\" y=\"{}\" font-size=\"{}\" fill=\"{}\"{weight}{transform} textLength=\"{w}\" lengthAdjust=\"spacing\">{}</text>",
        n(tx),
        n(ty),
        n(size),
        hex(c),
        escape(s)
    )
}
