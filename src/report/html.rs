//! `HtmlPage`: a builder for one self-contained HTML report page — title, sections with
//! headings, paragraphs, tables, images by relative path, preformatted text — with inline
//! CSS, no scripts and no external resources. All text is escaped; the file is written
//! atomically.

use super::output::write_atomic;
use super::ticks::format_sig;
use anyhow::{bail, Result};
use std::fmt::Write as _;
use std::path::Path;

/// One table cell: text, or a number formatted (and right-aligned) for display.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    /// Shown as is (escaped).
    Text(String),
    /// A number: `decimals` fixed decimals, or 4 significant digits when `None`.
    Number {
        /// The value.
        value: f64,
        /// Fixed decimals, or `None` for significant digits.
        decimals: Option<usize>,
    },
    /// An empty/unknown value, shown as a dash.
    Missing,
}

impl Cell {
    /// A number with `decimals` fixed decimals.
    pub fn fixed(value: f64, decimals: usize) -> Cell {
        Cell::Number {
            value,
            decimals: Some(decimals),
        }
    }

    /// The cell's display text (unescaped).
    pub fn display(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Number {
                value,
                decimals: Some(d),
            } if value.is_finite() => format!("{value:.d$}"),
            Cell::Number { value, .. } => format_sig(*value, 4),
            Cell::Missing => "—".to_string(),
        }
    }
}

impl From<&str> for Cell {
    fn from(s: &str) -> Cell {
        Cell::Text(s.to_string())
    }
}
impl From<String> for Cell {
    fn from(s: String) -> Cell {
        Cell::Text(s)
    }
}
impl From<f64> for Cell {
    fn from(v: f64) -> Cell {
        Cell::Number {
            value: v,
            decimals: None,
        }
    }
}
impl From<Option<f64>> for Cell {
    fn from(v: Option<f64>) -> Cell {
        v.map_or(Cell::Missing, Cell::from)
    }
}
impl From<usize> for Cell {
    fn from(v: usize) -> Cell {
        Cell::Text(v.to_string()).into_number()
    }
}
impl From<i64> for Cell {
    fn from(v: i64) -> Cell {
        Cell::Text(v.to_string()).into_number()
    }
}

impl Cell {
    // Integers keep their exact digits but align like numbers.
    fn into_number(self) -> Cell {
        match self {
            Cell::Text(s) => match s.parse::<f64>() {
                Ok(v) if s.len() < 16 => Cell::fixed(v, 0),
                _ => Cell::Text(s),
            },
            other => other,
        }
    }
}

#[derive(Clone, Debug)]
enum Block {
    Section(String),
    Heading(String),
    Paragraph(String),
    Table {
        header: Vec<String>,
        rows: Vec<Vec<Cell>>,
    },
    Image {
        src: String,
        caption: String,
    },
    Svg {
        svg: String,
        caption: String,
    },
    Pre(String),
}

/// A report page under construction.
#[derive(Clone, Debug)]
pub struct HtmlPage {
    title: String,
    blocks: Vec<Block>,
    problems: Vec<String>,
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Standard base64 (RFC 4648) with padding.
pub fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A fragment identifier from a heading: lower-case ASCII letters, digits and dashes.
fn anchor(i: usize, s: &str) -> String {
    let slug: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let slug: Vec<&str> = slug.split('-').filter(|p| !p.is_empty()).collect();
    format!("s{i}-{}", slug.join("-"))
}

const CSS: &str =
    "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1100px;\
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}\
h1{border-bottom:2px solid #3567b0;padding-bottom:.2em}h2{margin-top:1.8em;color:#1b2a6b}\
nav ul{columns:2;list-style:none;padding-left:0}nav a{color:#3567b0;text-decoration:none}\
table{border-collapse:collapse;margin:1em 0;font-size:.95em}\
th,td{border:1px solid #ccc;padding:.3em .7em}th{background:#eef2f8;text-align:left}\
td.num{text-align:right;font-variant-numeric:tabular-nums}tr:nth-child(even) td{background:#fafafa}\
figure{margin:1em 0}figure img,figure.svg svg{max-width:100%;height:auto;border:1px solid #ddd}\
figcaption{color:#555;font-size:.9em}\
pre{background:#f5f5f5;border:1px solid #ddd;padding:.8em;overflow-x:auto;font-size:.9em}";

impl HtmlPage {
    /// An empty page with a `<title>` and top heading.
    pub fn new(title: &str) -> HtmlPage {
        HtmlPage {
            title: title.to_string(),
            blocks: Vec::new(),
            problems: Vec::new(),
        }
    }

    /// Starts a new section with an `<h2>` heading (listed in the page's contents).
    pub fn section(&mut self, heading: &str) -> &mut Self {
        self.blocks.push(Block::Section(heading.to_string()));
        self
    }

    /// A smaller `<h3>` heading inside the current section.
    pub fn heading(&mut self, text: &str) -> &mut Self {
        self.blocks.push(Block::Heading(text.to_string()));
        self
    }

    /// A paragraph of plain text.
    pub fn paragraph(&mut self, text: &str) -> &mut Self {
        self.blocks.push(Block::Paragraph(text.to_string()));
        self
    }

    /// A table; every row must have as many cells as the header.
    pub fn table(&mut self, header: &[impl AsRef<str>], rows: Vec<Vec<Cell>>) -> &mut Self {
        let header: Vec<String> = header.iter().map(|h| h.as_ref().to_string()).collect();
        if let Some((i, r)) = rows
            .iter()
            .enumerate()
            .find(|(_, r)| r.len() != header.len())
        {
            self.problems.push(format!(
                "table '{}': row {i} has {} cells, expected {} (the header's length)",
                header.join(", "),
                r.len(),
                header.len()
            ));
        }
        self.blocks.push(Block::Table { header, rows });
        self
    }

    /// An image by path relative to the page (e.g. `plots/latent.png`), with a caption.
    pub fn image(&mut self, relative_path: &str, caption: &str) -> &mut Self {
        let p = relative_path;
        if p.is_empty() || p.starts_with('/') || p.starts_with('\\') || p.contains(':') {
            self.problems.push(format!(
                "image '{p}': expected a path relative to the page (no leading '/', no scheme or drive)"
            ));
        }
        self.blocks.push(Block::Image {
            src: p.to_string(),
            caption: caption.to_string(),
        });
        self
    }

    /// An SVG document drawn inline in the page (vector, selectable text), with a caption.
    pub fn svg(&mut self, svg: &str, caption: &str) -> &mut Self {
        let body = svg.trim_start();
        if !body.starts_with("<svg") || !body.trim_end().ends_with("</svg>") {
            self.problems.push(format!(
                "svg '{caption}': expected one <svg>…</svg> document"
            ));
        }
        self.blocks.push(Block::Svg {
            svg: body.trim_end().to_string(),
            caption: caption.to_string(),
        });
        self
    }

    /// A PNG embedded in the page itself as a `data:` URI, for pages that must travel
    /// as one file (e.g. `Canvas::encode_png()` output).
    pub fn image_embedded(&mut self, png: &[u8], caption: &str) -> &mut Self {
        let src = format!("data:image/png;base64,{}", base64(png));
        self.blocks.push(Block::Image {
            src,
            caption: caption.to_string(),
        });
        self
    }

    /// Preformatted text (a log excerpt, a config file).
    pub fn pre(&mut self, text: &str) -> &mut Self {
        self.blocks.push(Block::Pre(text.to_string()));
        self
    }

    /// The page as one HTML document; fails on a malformed table or image path.
    pub fn render(&self) -> Result<String> {
        if let Some(p) = self.problems.first() {
            bail!("HTML page '{}': {p}", self.title);
        }
        let mut h = String::new();
        let t = escape(&self.title);
        // Writing into a String cannot fail, so the fmt results are ignored.
        let _ = write!(
            h,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>{t}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<h1>{t}</h1>\n"
        );
        let sections: Vec<(usize, &String)> = self
            .blocks
            .iter()
            .filter_map(|b| {
                if let Block::Section(s) = b {
                    Some(s)
                } else {
                    None
                }
            })
            .enumerate()
            .collect();
        if sections.len() > 1 {
            h.push_str("<nav><ul>\n");
            for (i, s) in &sections {
                let _ = writeln!(
                    h,
                    "<li><a href=\"#{}\">{}</a></li>",
                    anchor(*i, s),
                    escape(s)
                );
            }
            h.push_str("</ul></nav>\n");
        }
        let mut open = false;
        let mut n_section = 0;
        for b in &self.blocks {
            match b {
                Block::Section(s) => {
                    if open {
                        h.push_str("</section>\n");
                    }
                    let id = anchor(n_section, s);
                    let _ = writeln!(h, "<section id=\"{id}\">\n<h2>{}</h2>", escape(s));
                    n_section += 1;
                    open = true;
                }
                Block::Heading(s) => {
                    let _ = writeln!(h, "<h3>{}</h3>", escape(s));
                }
                Block::Paragraph(s) => {
                    let _ = writeln!(h, "<p>{}</p>", escape(s));
                }
                Block::Pre(s) => {
                    let _ = writeln!(h, "<pre>{}</pre>", escape(s));
                }
                Block::Image { src, caption } => {
                    let src = escape(src).replace(' ', "%20");
                    let cap = escape(caption);
                    let _ = writeln!(
                        h,
                        "<figure><img src=\"{src}\" alt=\"{cap}\"><figcaption>{cap}</figcaption></figure>"
                    );
                }
                Block::Svg { svg, caption } => {
                    let _ = writeln!(
                        h,
                        "<figure class=\"svg\">{svg}<figcaption>{}</figcaption></figure>",
                        escape(caption)
                    );
                }
                Block::Table { header, rows } => table_html(&mut h, header, rows),
            }
        }
        if open {
            h.push_str("</section>\n");
        }
        h.push_str("</body>\n</html>\n");
        Ok(h)
    }

    /// Renders and writes the page at `path` (temporary file, then rename).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let html = self
            .render()
            .map_err(|e| e.context(format!("writing {}", path.display())))?;
        write_atomic(path, html.as_bytes())
    }
}

fn table_html(h: &mut String, header: &[String], rows: &[Vec<Cell>]) {
    h.push_str("<table>\n<thead><tr>");
    for c in header {
        let _ = write!(h, "<th>{}</th>", escape(c));
    }
    h.push_str("</tr></thead>\n<tbody>\n");
    for r in rows {
        h.push_str("<tr>");
        for c in r {
            let class = if matches!(c, Cell::Text(_)) {
                ""
            } else {
                " class=\"num\""
            };
            let _ = write!(h, "<td{class}>{}</td>", escape(&c.display()));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody>\n</table>\n");
}
