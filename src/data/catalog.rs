//! The catalog file (`catalog.csv`): one row per image, written atomically with CSV
//! quoting where a cell needs it, and read back with the same rules (RFC 4180 quoting).
//! Owns the text format only; what the columns mean belongs to `dataset`.

use super::npy::temp_path;
use anyhow::{bail, Context, Result};
use std::io::Write;
use std::path::Path;

/// The per-image table of a dataset.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Catalog {
    /// Column names in file order; the first two are always "set" and "sigma".
    pub columns: Vec<String>,
    /// One row per image; cells as written (empty string = missing).
    pub rows: Vec<Vec<String>>,
}

impl Catalog {
    /// Position of the column `name`, if present.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    /// The cells of column `name`, if present.
    pub fn column(&self, name: &str) -> Option<Vec<&str>> {
        let i = self.column_index(name)?;
        Some(self.rows.iter().map(|r| r[i].as_str()).collect())
    }
}

/// A cell as written: quoted when it holds a delimiter, quote or line break, has edge
/// spaces, or starts with '#' (which would otherwise read as a comment line).
fn quote(cell: &str) -> String {
    if cell.contains([',', '"', '\n', '\r', '\t', ';'])
        || cell.starts_with([' ', '#'])
        || cell.ends_with(' ')
    {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell.to_string()
    }
}

/// Writes `catalog` to `path` atomically (temporary file, then rename), quoting cells that
/// hold commas, quotes, newlines or edge spaces.
pub fn write_catalog(path: &Path, catalog: &Catalog) -> Result<()> {
    if catalog.columns.len() < 2 || catalog.columns[0] != "set" || catalog.columns[1] != "sigma" {
        bail!(
            "{}: the first two columns must be 'set' and 'sigma', found {}",
            path.display(),
            catalog.columns.join(", ")
        );
    }
    let mut text = String::new();
    let line = |cells: &[String], text: &mut String| {
        let q: Vec<String> = cells.iter().map(|c| quote(c)).collect();
        text.push_str(&q.join(","));
        text.push('\n');
    };
    line(&catalog.columns, &mut text);
    for (i, row) in catalog.rows.iter().enumerate() {
        if row.len() != catalog.columns.len() {
            bail!(
                "{}: row {i} has {} cells, expected {} (one per column)",
                path.display(),
                row.len(),
                catalog.columns.len()
            );
        }
        line(row, &mut text);
    }
    let tmp = temp_path(path);
    let result = (|| -> Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("{}: writing {}", path.display(), tmp.display()));
    }
    std::fs::rename(&tmp, path)
        .with_context(|| format!("{}: renaming {} into place", path.display(), tmp.display()))
}

/// The delimiter of a catalog: an ECSV header's `# delimiter: X` if there is one, else the
/// most frequent of comma, tab and semicolon on the first data line, else whitespace.
fn sniff_delimiter(text: &str) -> char {
    for l in text.lines() {
        let t = l.trim_start();
        if let Some(rest) = t.strip_prefix('#') {
            if let Some(d) = rest.trim().strip_prefix("delimiter:") {
                let d = d.trim().trim_matches(|c| c == '\'' || c == '"');
                match d {
                    "\\t" | "\t" => return '\t',
                    d if d.chars().count() == 1 => return d.chars().next().unwrap_or(','),
                    _ => {}
                }
            }
            continue;
        }
        if t.is_empty() {
            continue;
        }
        let count = |c: char| l.matches(c).count();
        return [',', '\t', ';']
            .into_iter()
            .filter(|&c| count(c) > 0)
            .max_by_key(|&c| count(c))
            .unwrap_or(' ');
    }
    ','
}

/// Splits delimited text into records of cells (quoted cells may hold the delimiter,
/// quotes, newlines); whitespace around unquoted cells is dropped, quoted cells are kept
/// exactly; lines starting with `#` (ECSV headers, comments) are skipped. With ' ' as the
/// delimiter, any run of spaces and tabs separates cells.
fn parse_csv(text: &str, path: &Path, delim: char) -> Result<Vec<(usize, Vec<String>)>> {
    let mut records = Vec::new();
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    let mut record_line = 1;
    let mut in_quotes = false;
    let mut quoted = false;
    let mut any = false;
    let finish = |cell: &mut String, quoted: &mut bool| -> String {
        let c = std::mem::take(cell);
        let out = if *quoted { c } else { c.trim().to_string() };
        *quoted = false;
        out
    };
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    cell.push('"');
                }
                '"' => in_quotes = false,
                '\n' => {
                    line += 1;
                    cell.push(c);
                }
                _ => cell.push(c),
            }
            continue;
        }
        let at_start = !any && cells.is_empty() && cell.trim().is_empty();
        match c {
            '#' if at_start => {
                // A comment line: skip to its end.
                for n in chars.by_ref() {
                    if n == '\n' {
                        break;
                    }
                }
                cell.clear();
                line += 1;
                record_line = line;
            }
            ' ' | '\t' if delim == ' ' && cell.is_empty() && !quoted => {}
            ' ' | '\t' if delim == ' ' => {
                // Ends the cell; the blanks after it are skipped by the arm above.
                cells.push(finish(&mut cell, &mut quoted));
            }
            '"' if cell.trim().is_empty() && !quoted => {
                cell.clear();
                in_quotes = true;
                quoted = true;
                any = true;
            }
            c if c == delim => {
                cells.push(finish(&mut cell, &mut quoted));
                any = true;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                if delim == ' ' {
                    if !cell.is_empty() || quoted {
                        cells.push(finish(&mut cell, &mut quoted));
                    }
                    if !cells.is_empty() {
                        records.push((record_line, std::mem::take(&mut cells)));
                    }
                } else if any || !cell.trim().is_empty() {
                    cells.push(finish(&mut cell, &mut quoted));
                    records.push((record_line, std::mem::take(&mut cells)));
                }
                cell.clear();
                any = false;
                line += 1;
                record_line = line;
            }
            _ => cell.push(c),
        }
    }
    if in_quotes {
        bail!(
            "{}: line {record_line}: a quoted cell is never closed",
            path.display()
        );
    }
    if delim == ' ' {
        if !cell.is_empty() || quoted {
            cells.push(finish(&mut cell, &mut quoted));
        }
        if !cells.is_empty() {
            records.push((record_line, cells));
        }
    } else if any || !cell.trim().is_empty() {
        cells.push(finish(&mut cell, &mut quoted));
        records.push((record_line, cells));
    }
    Ok(records)
}

/// Reads `path` into a catalog; the header must hold `set` (and `sigma`, which is moved to
/// second place if it is elsewhere so that the layout invariant holds).
pub fn read_catalog(path: &Path) -> Result<Catalog> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read the catalog", path.display()))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut records = parse_csv(text, path, sniff_delimiter(text))?.into_iter();
    let (_, header) = records.next().with_context(|| {
        format!(
            "{}: empty file (expected a header with 'set' and 'sigma')",
            path.display()
        )
    })?;
    let set = header.iter().position(|c| c == "set").with_context(|| {
        format!(
            "{}: missing the 'set' column (header: {})",
            path.display(),
            header.join(",")
        )
    })?;
    let sigma = header.iter().position(|c| c == "sigma").with_context(|| {
        format!(
            "{}: missing the 'sigma' column (header: {})",
            path.display(),
            header.join(",")
        )
    })?;
    for (i, name) in header.iter().enumerate() {
        if header[..i].contains(name) {
            bail!(
                "{}: column '{name}' appears twice in the header",
                path.display()
            );
        }
    }
    let mut order = vec![set, sigma];
    order.extend((0..header.len()).filter(|&i| i != set && i != sigma));
    let columns = order.iter().map(|&i| header[i].clone()).collect();
    let mut rows = Vec::new();
    for (line, cells) in records {
        if cells.len() != header.len() {
            bail!(
                "{}: line {line} has {} cells, the header has {}",
                path.display(),
                cells.len(),
                header.len()
            );
        }
        rows.push(order.iter().map(|&i| cells[i].clone()).collect());
    }
    Ok(Catalog { columns, rows })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::npy::tests::tempdir::Dir;

    #[test]
    fn catalog_round_trip_quotes_awkward_cells() {
        let d = Dir::new("cat");
        let p = d.path().join("catalog.csv");
        let cat = Catalog {
            columns: vec!["set".into(), "sigma".into(), "m200".into(), "note".into()],
            rows: vec![
                vec![
                    "CDM".into(),
                    "0".into(),
                    "1e14".into(),
                    "a, \"quoted\" note".into(),
                ],
                vec!["SIDM 0.1".into(), "".into(), "".into(), "two\nlines".into()],
            ],
        };
        write_catalog(&p, &cat).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.starts_with("set,sigma,m200,note\nCDM,0,1e14,\"a, \"\"quoted\"\" note\"\n"));
        assert_eq!(read_catalog(&p).unwrap(), cat);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(32))]
        #[test]
        fn any_cells_survive_a_write_read_round_trip(
            cells in proptest::collection::vec("[ a-zA-Z0-9,;#\t\"\n.\\-]{0,8}", 2..12)
        ) {
            let d = Dir::new("catprop");
            let p = d.path().join("catalog.csv");
            let mut cols = vec!["set".to_string(), "sigma".to_string()];
            cols.extend((2..cells.len()).map(|i| format!("c{i}")));
            let mut row = cells.clone();
            // A row whose every cell is blank would read back as no row at all.
            row[0] = format!("s{}", row[0]);
            let cat = Catalog { columns: cols, rows: vec![row.clone(), row] };
            write_catalog(&p, &cat).unwrap();
            proptest::prop_assert_eq!(read_catalog(&p).unwrap(), cat);
        }
    }

    #[test]
    fn write_refuses_a_ragged_row_or_wrong_leading_columns() {
        let d = Dir::new("cat");
        let p = d.path().join("catalog.csv");
        let mut cat = Catalog {
            columns: vec!["sigma".into(), "set".into()],
            rows: vec![],
        };
        let e = write_catalog(&p, &cat).unwrap_err().to_string();
        assert!(e.contains("'set' and 'sigma'"), "{e}");
        cat.columns = vec!["set".into(), "sigma".into()];
        cat.rows = vec![vec!["A".into()]];
        let e = write_catalog(&p, &cat).unwrap_err().to_string();
        assert!(e.contains("row 0 has 1 cells, expected 2"), "{e}");
        assert!(!p.exists());
    }

    #[test]
    fn read_moves_sigma_second_and_reports_a_missing_set_column() {
        let d = Dir::new("cat");
        let p = d.path().join("catalog.csv");
        std::fs::write(&p, "z,sigma,set\r\n0.1,0.3,B\r\n0.2,,A\r\n").unwrap();
        let c = read_catalog(&p).unwrap();
        assert_eq!(c.columns, vec!["set", "sigma", "z"]);
        assert_eq!(c.rows[1], vec!["A", "", "0.2"]);
        std::fs::write(&p, "name,sigma\nA,0.1\n").unwrap();
        let e = format!("{:#}", read_catalog(&p).unwrap_err());
        assert!(
            e.contains("catalog.csv") && e.contains("missing the 'set' column"),
            "{e}"
        );
        std::fs::write(&p, "set,sigma\nA,0.1,9\n").unwrap();
        let e = format!("{:#}", read_catalog(&p).unwrap_err());
        assert!(e.contains("line 2 has 3 cells"), "{e}");
    }

    #[test]
    fn ecsv_comments_and_other_delimiters_are_read() {
        let d = Dir::new("cat");
        let p = d.path().join("catalog.csv");
        let read = |text: &str| {
            std::fs::write(&p, text).unwrap();
            read_catalog(&p).unwrap()
        };
        let want = |rows: &[[&str; 3]]| -> Vec<Vec<String>> {
            rows.iter()
                .map(|r| r.iter().map(|c| c.to_string()).collect())
                .collect()
        };
        // ECSV with a comma delimiter, and a comment line between rows.
        let c = read(
            "# %ECSV 1.0\n# ---\n# delimiter: ','\n# datatype:\n# - {name: set, datatype: string}\n\
             set,sigma,m200\nA,0.1,1e14\n# a note\nB,,2e14\n",
        );
        assert_eq!(c.columns, ["set", "sigma", "m200"]);
        assert_eq!(c.rows, want(&[["A", "0.1", "1e14"], ["B", "", "2e14"]]));
        // ECSV's default: blank-separated, quoted cells may hold blanks or be empty.
        let c = read("# %ECSV 1.0\n# ---\nset  sigma note \nA 0.1 \"two words\"\nB \"\" x\n");
        assert_eq!(c.columns, ["set", "sigma", "note"]);
        assert_eq!(c.rows, want(&[["A", "0.1", "two words"], ["B", "", "x"]]));
        // Tabs and semicolons are found from the header line.
        let c = read("set\tsigma\tz\nA\t0.3\t0.1\n");
        assert_eq!(c.rows, want(&[["A", "0.3", "0.1"]]));
        let c = read("set;sigma;note\nA;0.3;\"x;y\"\n");
        assert_eq!(c.rows, want(&[["A", "0.3", "x;y"]]));
        // A ragged row is still named by its line, comments counted.
        std::fs::write(&p, "# c\nset sigma\nA 0.1 9\n").unwrap();
        let e = format!("{:#}", read_catalog(&p).unwrap_err());
        assert!(e.contains("line 3 has 3 cells"), "{e}");
    }
}
