//! Tests of the HTML page builder and the JSON writer.

use super::html::*;
use super::output::save_json;

#[test]
fn escaping_covers_markup_and_quote_characters() {
    assert_eq!(
        escape(r#"<a href="x">&'</a>"#),
        "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
    );
    let mut p = HtmlPage::new("σ/m < 1 & \"trust\"");
    p.section("a <b>")
        .paragraph("x > y & z")
        .pre("<script>alert(1)</script>");
    let h = p.render().unwrap();
    assert!(h.contains("<title>σ/m &lt; 1 &amp; &quot;trust&quot;</title>"));
    assert!(h.contains("<p>x &gt; y &amp; z</p>"));
    assert!(h.contains("<pre>&lt;script&gt;alert(1)&lt;/script&gt;</pre>"));
    assert!(!h.contains("<script"));
    assert!(!h.contains("<b>"));
}

#[test]
fn tables_format_numbers_and_align_them_right() {
    let mut p = HtmlPage::new("t");
    let rows = vec![
        vec![
            Cell::from("CDM"),
            Cell::from(0.123456),
            Cell::fixed(2.0, 2),
            Cell::from(12usize),
        ],
        vec![
            Cell::from("SIDM 1"),
            Cell::from(None),
            Cell::from(1.5e-7),
            Cell::from(-3i64),
        ],
    ];
    p.table(&["set", "σ/m", "overlap", "n"], rows);
    let h = p.render().unwrap();
    assert!(h.contains("<th>σ/m</th>"));
    assert!(h.contains("<td>CDM</td><td class=\"num\">0.1235</td><td class=\"num\">2.00</td><td class=\"num\">12</td>"));
    assert!(h.contains(
        "<td class=\"num\">—</td><td class=\"num\">1.500e-7</td><td class=\"num\">-3</td>"
    ));
}

#[test]
fn base64_matches_rfc4648_vectors_and_embeds_images() {
    let cases = [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foobar", "Zm9vYmFy"),
    ];
    for (plain, enc) in cases {
        assert_eq!(base64(plain.as_bytes()), enc);
    }
    assert_eq!(base64(&[0xff, 0xfe, 0x00]), "//4A");
    let mut p = HtmlPage::new("t");
    p.image_embedded(b"foo", "x");
    assert!(p
        .render()
        .unwrap()
        .contains("src=\"data:image/png;base64,Zm9v\""));
}

#[test]
fn malformed_tables_and_absolute_image_paths_are_errors() {
    let mut p = HtmlPage::new("t");
    p.table(&["a", "b"], vec![vec![Cell::from(1.0)]]);
    let e = p.render().unwrap_err().to_string();
    assert!(e.contains("row 0 has 1 cells, expected 2"), "{e}");
    for bad in ["/tmp/x.png", "http://example.com/x.png", "C:\\x.png", ""] {
        let mut p = HtmlPage::new("t");
        p.image(bad, "c");
        assert!(p.render().is_err(), "{bad}");
    }
}

#[test]
fn page_is_self_contained_with_sections_and_contents() {
    let mut p = HtmlPage::new("Report");
    p.section("Latent space")
        .image("plots/latent space.png", "z₁ vs z₂");
    p.section("Posterior").heading("CDM").paragraph("ok");
    let h = p.render().unwrap();
    assert!(h.contains("<img src=\"plots/latent%20space.png\" alt=\"z₁ vs z₂\">"));
    assert!(h.contains("<a href=\"#s0-latent-space\">Latent space</a>"));
    assert!(h.contains("<section id=\"s1-posterior\">"));
    assert_eq!(
        h.matches("<section").count(),
        h.matches("</section>").count()
    );
    for external in ["http:", "https:", "<script", "<link", "@import"] {
        assert!(!h.contains(external), "{external}");
    }
}

#[test]
fn save_writes_atomically_and_names_the_path_on_failure() {
    let dir = std::env::temp_dir().join(format!("dcc-html-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("index.html");
    let mut p = HtmlPage::new("r");
    p.paragraph("hello");
    p.save(&path).unwrap();
    assert!(std::fs::read_to_string(&path)
        .unwrap()
        .contains("<p>hello</p>"));
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
    std::fs::remove_dir_all(&dir).unwrap();
    let e = p.save(dir.join("missing/index.html")).unwrap_err();
    assert!(format!("{e:#}").contains("missing/index.html"), "{e:#}");
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("summary.json");
    save_json(&json, &serde_json::json!({"sigma": 0.5, "sets": ["CDM"]})).unwrap();
    let back: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(back["sigma"], 0.5);
    std::fs::remove_dir_all(&dir).unwrap();
}
