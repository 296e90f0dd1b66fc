//! Pixel geometry shared by the raster canvas and the SVG recorder.

/// An integer pixel rectangle (x, y = top-left corner).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rect {
    /// Left edge.
    pub x: i32,
    /// Top edge.
    pub y: i32,
    /// Width in pixels.
    pub w: i32,
    /// Height in pixels.
    pub h: i32,
}

impl Rect {
    /// A rectangle from its corner and size.
    pub fn new(x: i32, y: i32, w: i32, h: i32) -> Rect {
        Rect { x, y, w, h }
    }

    /// Whether the pixel (x, y) lies inside.
    pub fn contains(&self, x: i32, y: i32) -> bool {
        x >= self.x && y >= self.y && x < self.x + self.w && y < self.y + self.h
    }

    /// One past the right edge.
    pub fn right(&self) -> i32 {
        self.x.saturating_add(self.w)
    }

    /// One past the bottom edge.
    pub fn bottom(&self) -> i32 {
        self.y.saturating_add(self.h)
    }
}
