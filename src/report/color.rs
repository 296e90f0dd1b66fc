//! Colours for the report: an RGB colour type, the categorical palette used for sets and
//! series, and the continuous colour maps (sequential and diverging) used for heatmaps
//! and images. Maps are defined by a few control points with linear interpolation.

/// An opaque 8-bit RGB colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Color {
    /// Red channel.
    pub r: u8,
    /// Green channel.
    pub g: u8,
    /// Blue channel.
    pub b: u8,
}

impl Color {
    /// Pure white.
    pub const WHITE: Color = Color::rgb(255, 255, 255);
    /// Pure black.
    pub const BLACK: Color = Color::rgb(0, 0, 0);
    /// Dark grey used for text and axis frames (softer than black).
    pub const INK: Color = Color::rgb(34, 34, 34);
    /// Mid grey used for reference lines.
    pub const GREY: Color = Color::rgb(120, 120, 120);
    /// Light grey used for grid lines.
    pub const LIGHT_GREY: Color = Color::rgb(225, 225, 225);

    /// A colour from its three channels.
    pub const fn rgb(r: u8, g: u8, b: u8) -> Color {
        Color { r, g, b }
    }

    /// A colour from a 0xRRGGBB literal.
    pub const fn hex(v: u32) -> Color {
        Color::rgb((v >> 16) as u8, (v >> 8) as u8, v as u8)
    }

    /// Linear mix: `t = 0` gives `self`, `t = 1` gives `other`.
    pub fn mix(self, other: Color, t: f64) -> Color {
        let t = if t.is_finite() {
            t.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let f = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * t).round() as u8;
        Color::rgb(f(self.r, other.r), f(self.g, other.g), f(self.b, other.b))
    }

    /// Relative luminance in [0, 1] (Rec. 709 weights on the sRGB values), used to pick
    /// readable black or white text on top of a colour.
    pub fn luminance(self) -> f64 {
        (0.2126 * self.r as f64 + 0.7152 * self.g as f64 + 0.0722 * self.b as f64) / 255.0
    }

    /// Black or white, whichever reads better on this background.
    pub fn contrasting_text(self) -> Color {
        if self.luminance() > 0.5 {
            Color::INK
        } else {
            Color::WHITE
        }
    }

    /// `#rrggbb` for HTML.
    pub fn to_hex_string(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.r, self.g, self.b)
    }
}

/// The categorical palette: 12 hues chosen to stay apart from each other and from the
/// greys used for axes, ordered so the first few are the most distinct.
pub const PALETTE: [Color; 12] = [
    Color::hex(0x3567b0), // blue
    Color::hex(0xee8524), // orange
    Color::hex(0x3d9c48), // green
    Color::hex(0xd33a3a), // red
    Color::hex(0x8d5fc4), // purple
    Color::hex(0x8c5638), // brown
    Color::hex(0xe27ab9), // pink
    Color::hex(0x6f6f6f), // grey
    Color::hex(0xb3b52a), // olive
    Color::hex(0x25b5c6), // cyan
    Color::hex(0x1b2a6b), // navy
    Color::hex(0x0f6e5a), // teal
];

/// The `i`-th categorical colour (cycles after the palette's end).
pub fn palette(i: usize) -> Color {
    PALETTE[i % PALETTE.len()]
}

/// A continuous colour map from [0, 1] to colours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Colormap {
    /// Perceptually ordered dark purple → blue → green → yellow (viridis-like).
    Viridis,
    /// Black → white, for plain greyscale maps.
    Greys,
    /// White → dark blue, for matrices where 0 means "nothing" (overlaps).
    Blues,
    /// Blue → white → red, for signed quantities centred on zero (saliency).
    BlueWhiteRed,
}

const VIRIDIS: [(f64, Color); 6] = [
    (0.0, Color::hex(0x440154)),
    (0.2, Color::hex(0x414487)),
    (0.4, Color::hex(0x2a788e)),
    (0.6, Color::hex(0x22a884)),
    (0.8, Color::hex(0x7ad151)),
    (1.0, Color::hex(0xfde725)),
];
const GREYS: [(f64, Color); 2] = [(0.0, Color::BLACK), (1.0, Color::WHITE)];
const BLUES: [(f64, Color); 4] = [
    (0.0, Color::hex(0xf7fbff)),
    (0.35, Color::hex(0xb3d1e8)),
    (0.7, Color::hex(0x4a8ac4)),
    (1.0, Color::hex(0x08306b)),
];
const BLUE_WHITE_RED: [(f64, Color); 5] = [
    (0.0, Color::hex(0x1f3f8f)),
    (0.25, Color::hex(0x7ea6d8)),
    (0.5, Color::WHITE),
    (0.75, Color::hex(0xe58a78)),
    (1.0, Color::hex(0xa3141f)),
];

impl Colormap {
    fn stops(self) -> &'static [(f64, Color)] {
        match self {
            Colormap::Viridis => &VIRIDIS,
            Colormap::Greys => &GREYS,
            Colormap::Blues => &BLUES,
            Colormap::BlueWhiteRed => &BLUE_WHITE_RED,
        }
    }

    /// True for maps centred on a neutral middle (their default range is symmetric about 0).
    pub fn is_diverging(self) -> bool {
        matches!(self, Colormap::BlueWhiteRed)
    }

    /// The colour at `t` in [0, 1]; values outside are clamped, NaN gives the low end.
    pub fn at(self, t: f64) -> Color {
        let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
        let stops = self.stops();
        for w in stops.windows(2) {
            let ((t0, c0), (t1, c1)) = (w[0], w[1]);
            if t <= t1 {
                return c0.mix(c1, (t - t0) / (t1 - t0));
            }
        }
        stops[stops.len() - 1].1
    }

    /// The colour of `v` on the range `lo..hi` (a degenerate range maps to the middle).
    pub fn map(self, v: f64, lo: f64, hi: f64) -> Color {
        if hi > lo {
            self.at((v - lo) / (hi - lo))
        } else {
            self.at(0.5)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colormaps_hit_their_endpoints_and_clamp() {
        assert_eq!(Colormap::Viridis.at(0.0), Color::hex(0x440154));
        assert_eq!(Colormap::Viridis.at(1.0), Color::hex(0xfde725));
        assert_eq!(Colormap::Greys.at(0.0), Color::BLACK);
        assert_eq!(Colormap::Greys.at(1.0), Color::WHITE);
        assert_eq!(Colormap::BlueWhiteRed.at(0.5), Color::WHITE);
        assert_eq!(Colormap::BlueWhiteRed.at(0.0), Color::hex(0x1f3f8f));
        assert_eq!(Colormap::BlueWhiteRed.at(1.0), Color::hex(0xa3141f));
        assert_eq!(Colormap::Blues.at(-3.0), Colormap::Blues.at(0.0));
        assert_eq!(Colormap::Blues.at(7.0), Colormap::Blues.at(1.0));
        assert_eq!(Colormap::Viridis.at(f64::NAN), Colormap::Viridis.at(0.0));
        assert_eq!(Colormap::Greys.at(0.5), Color::rgb(128, 128, 128));
    }

    #[test]
    fn sequential_maps_get_brighter_monotonically() {
        for map in [Colormap::Viridis, Colormap::Greys] {
            let mut last = -1.0;
            for i in 0..=100 {
                let l = map.at(i as f64 / 100.0).luminance();
                assert!(l >= last - 1e-9, "{map:?} at {i}: {l} < {last}");
                last = l;
            }
        }
        let mut last = 2.0;
        for i in 0..=100 {
            let l = Colormap::Blues.at(i as f64 / 100.0).luminance();
            assert!(l <= last + 1e-9);
            last = l;
        }
    }

    #[test]
    fn palette_colours_are_pairwise_distinct() {
        for (i, a) in PALETTE.iter().enumerate() {
            for (j, b) in PALETTE[..i].iter().enumerate() {
                let d = (a.r as i32 - b.r as i32).abs()
                    + (a.g as i32 - b.g as i32).abs()
                    + (a.b as i32 - b.b as i32).abs();
                assert!(d > 90, "palette {j} and {i} too close: {d}");
            }
        }
        assert_eq!(palette(12), palette(0));
    }
}
