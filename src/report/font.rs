//! The embedded bitmap font: 5×7 glyphs (with two descender rows) for printable ASCII,
//! a few Greek letters and symbols the plots need (σ λ µ α β Δ ± ∞ ° × − ≈ ≤ ≥), and
//! small 3×5 digits used for superscripts (⁰–⁹ ² ³ ⁻ ⁺) and subscripts (₀–₉). Drawing
//! lives in `canvas.rs`; this file only owns the glyph bitmaps and text measurement.

use std::collections::HashMap;
use std::sync::OnceLock;

/// Height of a glyph cell in font pixels: 7 rows above the baseline plus 2 descender rows.
pub const CELL_HEIGHT: u32 = 9;

/// One glyph as bit rows: bit `w - 1 - x` of `rows[y]` is the pixel at column `x`.
#[derive(Clone, Copy, Debug)]
pub struct Glyph {
    /// Pixel rows, top to bottom.
    pub rows: [u8; CELL_HEIGHT as usize],
    /// Ink width in font pixels.
    pub width: u8,
    /// Horizontal advance in font pixels (ink width plus spacing).
    pub advance: u8,
}

impl Glyph {
    /// Whether the pixel at column `x`, row `y` is set.
    pub fn bit(&self, x: u32, y: u32) -> bool {
        x < self.width as u32
            && y < CELL_HEIGHT
            && (self.rows[y as usize] >> (self.width as u32 - 1 - x)) & 1 == 1
    }
}

/// Size and weight of rendered text: each font pixel becomes `scale`×`scale` pixels; bold
/// repeats every stroke one pixel to the right.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Font {
    /// Integer magnification (1 = 5×7 glyphs).
    pub scale: u32,
    /// Thicker strokes.
    pub bold: bool,
}

impl Font {
    /// Regular weight at `scale` (at least 1).
    pub fn regular(scale: u32) -> Font {
        Font {
            scale: scale.max(1),
            bold: false,
        }
    }

    /// Bold weight at `scale` (at least 1).
    pub fn bold(scale: u32) -> Font {
        Font {
            scale: scale.max(1),
            bold: true,
        }
    }

    /// Width and height in pixels of the box `text` occupies (one line).
    pub fn measure(&self, text: &str) -> (u32, u32) {
        let mut w = 0u32;
        let mut last_gap = 0u32;
        for c in text.chars() {
            let g = glyph(c);
            w += g.advance as u32 * self.scale;
            last_gap = (g.advance - g.width) as u32 * self.scale;
        }
        let w = w.saturating_sub(last_gap);
        let w = if self.bold && w > 0 { w + 1 } else { w };
        (w, self.height())
    }

    /// `text` shortened with a trailing `…` so that it is at most `max_w` pixels wide
    /// (empty if not even the ellipsis fits).
    pub fn fit(&self, text: &str, max_w: i32) -> String {
        if self.measure(text).0 as i32 <= max_w {
            return text.to_string();
        }
        let mut chars: Vec<char> = text.chars().collect();
        while !chars.is_empty() {
            chars.pop();
            let s: String = chars.iter().chain(['…'].iter()).collect();
            if self.measure(&s).0 as i32 <= max_w {
                return s;
            }
        }
        String::new()
    }

    /// Height of one line of text in pixels.
    pub fn height(&self) -> u32 {
        CELL_HEIGHT * self.scale
    }
}

// Glyph pictures: rows separated by spaces, '#' = ink. Rows past the seventh are the
// descender; missing rows are blank.
const GLYPHS: &[(char, &str)] = &[
    (' ', "....."),
    ('!', "..#.. ..#.. ..#.. ..#.. ..#.. ..... ..#.."),
    ('"', ".#.#. .#.#."),
    ('#', ".#.#. .#.#. ##### .#.#. ##### .#.#. .#.#."),
    ('$', "..#.. .#### #.#.. .###. ..#.# ####. ..#.."),
    ('%', "##... ##..# ...#. ..#.. .#... #..## ...##"),
    ('&', ".##.. #..#. #.#.. .#... #.#.# #..#. .##.#"),
    ('\'', "..#.. ..#.."),
    ('(', "...#. ..#.. .#... .#... .#... ..#.. ...#."),
    (')', ".#... ..#.. ...#. ...#. ...#. ..#.. .#..."),
    ('*', "..... ..#.. #.#.# .###. #.#.# ..#.. ....."),
    ('+', "..... ..#.. ..#.. ##### ..#.. ..#.. ....."),
    (',', "..... ..... ..... ..... ..... .##.. .##.. ..#.. .#..."),
    ('-', "..... ..... ..... .###. ..... ..... ....."),
    ('.', "..... ..... ..... ..... ..... .##.. .##.."),
    ('/', "....# ....# ...#. ..#.. .#... #.... #...."),
    ('0', ".###. #...# #..## #.#.# ##..# #...# .###."),
    ('1', "..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###."),
    ('2', ".###. #...# ....# ...#. ..#.. .#... #####"),
    ('3', "##### ...#. ..#.. ...#. ....# #...# .###."),
    ('4', "...#. ..##. .#.#. #..#. ##### ...#. ...#."),
    ('5', "##### #.... ####. ....# ....# #...# .###."),
    ('6', "..##. .#... #.... ####. #...# #...# .###."),
    ('7', "##### ....# ...#. ..#.. .#... .#... .#..."),
    ('8', ".###. #...# #...# .###. #...# #...# .###."),
    ('9', ".###. #...# #...# .#### ....# ...#. .##.."),
    (':', "..... .##.. .##.. ..... .##.. .##.. ....."),
    (';', "..... .##.. .##.. ..... .##.. .##.. ..#.. .#..."),
    ('<', "...#. ..#.. .#... #.... .#... ..#.. ...#."),
    ('=', "..... ..... ##### ..... ##### ..... ....."),
    ('>', ".#... ..#.. ...#. ....# ...#. ..#.. .#..."),
    ('?', ".###. #...# ....# ...#. ..#.. ..... ..#.."),
    ('@', ".###. #...# #.### #.#.# #.### #.... .####"),
    ('A', ".###. #...# #...# ##### #...# #...# #...#"),
    ('B', "####. #...# #...# ####. #...# #...# ####."),
    ('C', ".###. #...# #.... #.... #.... #...# .###."),
    ('D', "###.. #..#. #...# #...# #...# #..#. ###.."),
    ('E', "##### #.... #.... ####. #.... #.... #####"),
    ('F', "##### #.... #.... ####. #.... #.... #...."),
    ('G', ".###. #...# #.... #.### #...# #...# .####"),
    ('H', "#...# #...# #...# ##### #...# #...# #...#"),
    ('I', ".###. ..#.. ..#.. ..#.. ..#.. ..#.. .###."),
    ('J', "..### ...#. ...#. ...#. ...#. #..#. .##.."),
    ('K', "#...# #..#. #.#.. ##... #.#.. #..#. #...#"),
    ('L', "#.... #.... #.... #.... #.... #.... #####"),
    ('M', "#...# ##.## #.#.# #.#.# #...# #...# #...#"),
    ('N', "#...# #...# ##..# #.#.# #..## #...# #...#"),
    ('O', ".###. #...# #...# #...# #...# #...# .###."),
    ('P', "####. #...# #...# ####. #.... #.... #...."),
    ('Q', ".###. #...# #...# #...# #.#.# #..#. .##.#"),
    ('R', "####. #...# #...# ####. #.#.. #..#. #...#"),
    ('S', ".#### #.... #.... .###. ....# ....# ####."),
    ('T', "##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#.."),
    ('U', "#...# #...# #...# #...# #...# #...# .###."),
    ('V', "#...# #...# #...# #...# #...# .#.#. ..#.."),
    ('W', "#...# #...# #...# #.#.# #.#.# #.#.# .#.#."),
    ('X', "#...# #...# .#.#. ..#.. .#.#. #...# #...#"),
    ('Y', "#...# #...# .#.#. ..#.. ..#.. ..#.. ..#.."),
    ('Z', "##### ....# ...#. ..#.. .#... #.... #####"),
    ('[', ".###. .#... .#... .#... .#... .#... .###."),
    ('\\', "#.... #.... .#... ..#.. ...#. ....# ....#"),
    (']', ".###. ...#. ...#. ...#. ...#. ...#. .###."),
    ('^', "..#.. .#.#. #...#"),
    ('_', "..... ..... ..... ..... ..... ..... ..... #####"),
    ('`', ".#... ..#.."),
    ('a', "..... ..... .###. ....# .#### #...# .####"),
    ('b', "#.... #.... #.##. ##..# #...# #...# ####."),
    ('c', "..... ..... .###. #.... #.... #...# .###."),
    ('d', "....# ....# .##.# #..## #...# #...# .####"),
    ('e', "..... ..... .###. #...# ##### #.... .###."),
    ('f', "..##. .#..# .#... ###.. .#... .#... .#..."),
    ('g', "..... ..... .#### #...# #...# .#### ....# #...# .###."),
    ('h', "#.... #.... #.##. ##..# #...# #...# #...#"),
    ('i', "..#.. ..... .##.. ..#.. ..#.. ..#.. .###."),
    ('j', "...#. ..... ..##. ...#. ...#. ...#. ...#. #..#. .##.."),
    ('k', "#.... #.... #..#. #.#.. ##... #.#.. #..#."),
    ('l', ".##.. ..#.. ..#.. ..#.. ..#.. ..#.. .###."),
    ('m', "..... ..... ##.#. #.#.# #.#.# #.#.# #.#.#"),
    ('n', "..... ..... #.##. ##..# #...# #...# #...#"),
    ('o', "..... ..... .###. #...# #...# #...# .###."),
    ('p', "..... ..... ####. #...# #...# ####. #.... #.... #...."),
    ('q', "..... ..... .#### #...# #...# .#### ....# ....# ....#"),
    ('r', "..... ..... #.##. ##..# #.... #.... #...."),
    ('s', "..... ..... .###. #.... .###. ....# ####."),
    ('t', ".#... .#... ###.. .#... .#... .#..# ..##."),
    ('u', "..... ..... #...# #...# #...# #..## .##.#"),
    ('v', "..... ..... #...# #...# #...# .#.#. ..#.."),
    ('w', "..... ..... #...# #...# #.#.# #.#.# .#.#."),
    ('x', "..... ..... #...# .#.#. ..#.. .#.#. #...#"),
    ('y', "..... ..... #...# #...# #...# .#### ....# #...# .###."),
    ('z', "..... ..... ##### ...#. ..#.. .#... #####"),
    ('{', "...#. ..#.. ..#.. .#... ..#.. ..#.. ...#."),
    ('|', "..#.. ..#.. ..#.. ..#.. ..#.. ..#.. ..#.. ..#.."),
    ('}', ".#... ..#.. ..#.. ...#. ..#.. ..#.. .#..."),
    ('~', "..... ..... .#... #.#.# ...#."),
    ('σ', "..... ..... .#### #..#. #...# #...# .###."),
    ('λ', "#.... .#... .#... ..#.. .#.#. .#.#. #...#"),
    ('µ', "..... ..... #...# #...# #...# ##..# #.##. #.... #...."),
    ('μ', "..... ..... #...# #...# #...# ##..# #.##. #.... #...."),
    ('α', "..... ..... .##.# #..#. #..#. #..#. .##.#"),
    ('β', ".##.. #..#. #..#. ###.. #..#. #..#. ###.. #.... #...."),
    ('Δ', "..#.. ..#.. .#.#. .#.#. #...# #...# #####"),
    ('θ', ".###. #...# #...# ##### #...# #...# .###."),
    ('π', "..... ..... ##### .#.#. .#.#. .#.#. .#..#"),
    ('∂', ".##.. ...#. ....# .#### #...# #...# .###."),
    ('±', "..#.. ..#.. ##### ..#.. ..#.. ..... #####"),
    ('∞', "..... ..... .#.#. #.#.# #.#.# .#.#."),
    ('°', ".##.. #..#. .##.."),
    ('×', "..... #...# .#.#. ..#.. .#.#. #...#"),
    ('·', "..... ..... ..... ..#.."),
    ('−', "..... ..... ..... #####"),
    ('–', "..... ..... ..... #####"),
    ('—', "..... ..... ..... #####"),
    ('≈', "..... .#... #.#.# ...#. .#... #.#.# ...#."),
    ('≤', "...#. ..#.. .#... ..#.. ...#. ..... #####"),
    ('≥', ".#... ..#.. ...#. ..#.. .#... ..... #####"),
    ('…', "..... ..... ..... ..... ..... ..... #.#.#"),
];

// 3×5 digits and signs for super- and subscripts, placed at the top or bottom of the cell.
const SMALL: &[(char, &str)] = &[
    ('0', "### #.# #.# #.# ###"),
    ('1', ".#. ##. .#. .#. ###"),
    ('2', "### ..# ### #.. ###"),
    ('3', "### ..# .## ..# ###"),
    ('4', "#.# #.# ### ..# ..#"),
    ('5', "### #.. ### ..# ###"),
    ('6', "### #.. ### #.# ###"),
    ('7', "### ..# .#. .#. .#."),
    ('8', "### #.# ### #.# ###"),
    ('9', "### #.# ### ..# ###"),
    ('+', "... .#. ### .#. ..."),
    ('-', "... ... ### ... ..."),
];

const UNKNOWN: &str = "##### #...# #...# #...# #...# #...# #####";

fn parse(picture: &str, top: usize) -> Glyph {
    let mut rows = [0u8; CELL_HEIGHT as usize];
    let mut width = 0;
    for (i, row) in picture.split(' ').enumerate() {
        width = row.len() as u8;
        let bits = row
            .bytes()
            .fold(0u8, |acc, b| (acc << 1) | (b == b'#') as u8);
        if let Some(r) = rows.get_mut(top + i) {
            *r = bits;
        }
    }
    // The space glyph has no ink but still advances like a letter.
    Glyph {
        rows,
        width,
        advance: width + 1,
    }
}

/// Maps a super- or subscript character to its small glyph's base character and row.
fn small_form(c: char) -> Option<(char, usize)> {
    const SUP: &str = "⁰¹²³⁴⁵⁶⁷⁸⁹";
    const SUB: &str = "₀₁₂₃₄₅₆₇₈₉";
    if let Some(i) = SUP.chars().position(|s| s == c) {
        return Some((char::from(b'0' + i as u8), 0));
    }
    if let Some(i) = SUB.chars().position(|s| s == c) {
        return Some((char::from(b'0' + i as u8), 4));
    }
    match c {
        '⁺' => Some(('+', 0)),
        '⁻' => Some(('-', 0)),
        '₊' => Some(('+', 4)),
        '₋' => Some(('-', 4)),
        _ => None,
    }
}

fn table() -> &'static HashMap<char, Glyph> {
    static TABLE: OnceLock<HashMap<char, Glyph>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t: HashMap<char, Glyph> = GLYPHS.iter().map(|&(c, p)| (c, parse(p, 0))).collect();
        for c in "⁰¹²³⁴⁵⁶⁷⁸⁹₀₁₂₃₄₅₆₇₈₉⁺⁻₊₋".chars() {
            if let Some((base, top)) = small_form(c) {
                if let Some(&(_, p)) = SMALL.iter().find(|(b, _)| *b == base) {
                    t.insert(c, parse(p, top));
                }
            }
        }
        t
    })
}

/// The glyph for `c`; characters outside the font draw as a hollow box.
pub fn glyph(c: char) -> Glyph {
    table()
        .get(&c)
        .copied()
        .unwrap_or_else(|| parse(UNKNOWN, 0))
}

/// Whether the font has a glyph of its own for `c` (not the fallback box).
pub fn has_glyph(c: char) -> bool {
    table().contains_key(&c)
}

/// `n` written with superscript digits and minus sign, e.g. `-3` → `⁻³`.
pub fn superscript(n: i64) -> String {
    const SUP: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    let mut s = String::new();
    if n < 0 {
        s.push('⁻');
    }
    for d in n.unsigned_abs().to_string().bytes() {
        s.push(SUP[(d - b'0') as usize]);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_printable_ascii_and_required_symbol_has_its_own_glyph() {
        for b in 0x20u8..0x7f {
            assert!(has_glyph(b as char), "missing {:?}", b as char);
        }
        for c in "σλ²⁻µ±∞%₁".chars() {
            assert!(has_glyph(c), "missing {c:?}");
        }
        assert!(!has_glyph('☃'));
    }

    #[test]
    fn glyph_pictures_have_consistent_row_widths() {
        for &(c, p) in GLYPHS.iter().chain(SMALL.iter()) {
            let widths: Vec<usize> = p.split(' ').map(str::len).collect();
            assert!(widths.iter().all(|&w| w == widths[0]), "{c:?}: {widths:?}");
            assert!(widths.len() <= CELL_HEIGHT as usize, "{c:?} too tall");
            assert!(p.chars().all(|ch| ch == '#' || ch == '.' || ch == ' '));
        }
    }

    #[test]
    fn letters_differ_from_each_other() {
        let mut seen: HashMap<[u8; 9], char> = HashMap::new();
        for b in b'!'..=b'~' {
            let g = glyph(b as char);
            if let Some(other) = seen.insert(g.rows, b as char) {
                panic!("{:?} and {other:?} share a bitmap", b as char);
            }
        }
    }

    #[test]
    fn superscript_and_measure_agree_with_the_glyph_sizes() {
        assert_eq!(superscript(-12), "⁻¹²");
        assert_eq!(superscript(0), "⁰");
        // "AB": 5 + 1 + 5 font pixels wide, 9 tall.
        assert_eq!(Font::regular(1).measure("AB"), (11, 9));
        assert_eq!(Font::regular(3).measure("AB"), (33, 27));
        assert_eq!(Font::bold(2).measure("A"), (11, 18));
        assert_eq!(Font::regular(2).measure(""), (0, 18));
        // Small digits are 3 wide with a 1-pixel gap.
        assert_eq!(Font::regular(1).measure("10²"), (5 + 1 + 5 + 1 + 3, 9));
        let f = Font::regular(2);
        assert_eq!(f.fit("short", 200), "short");
        let cut = f.fit("a rather long axis label", 100);
        assert!(
            cut.ends_with('…') && f.measure(&cut).0 <= 100 && cut.len() > 4,
            "{cut}"
        );
        assert_eq!(f.fit("abc", 3), "");
    }
}
