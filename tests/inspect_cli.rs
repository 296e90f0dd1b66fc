//! `dcc inspect` end to end: a dataset written through the library, inspected by the binary.

use dcc::data::dataset::{write_dataset, Catalog};
use std::process::Command;

#[test]
fn inspect_prints_a_table_per_set_and_writes_the_mosaic() {
    let dir = std::env::temp_dir().join(format!("dcc-inspect-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let images: Vec<f32> = (0..4 * 16).map(|i| 1.0 + i as f32).collect();
    let cat = Catalog {
        columns: vec!["set".into(), "sigma".into(), "m200".into()],
        rows: vec![
            vec!["CDM".into(), "0".into(), "1e14".into()],
            vec!["CDM".into(), "0".into(), "3e14".into()],
            vec!["held-out".into(), "".into(), "2e14".into()],
            vec!["held-out".into(), "".into(), "".into()],
        ],
    };
    write_dataset(&dir, [4, 1, 4, 4], &images, &cat).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dcc"))
        .args(["inspect", dir.to_str().unwrap(), "--examples", "2"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("4 images of 1×4×4, 2 sets"), "{text}");
    assert!(text.contains("2.000e14 ± 1.414e14"), "{text}");
    assert!(
        text.contains("held-out") && text.contains("unknown"),
        "{text}"
    );
    assert!(dir.join("inspect.png").exists());
    // A bad dataset fails with the file named, and no panic.
    std::fs::write(dir.join("catalog.csv"), "set,sigma\nA,0\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dcc"))
        .args(["inspect", dir.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("catalog.csv: 1 rows") && err.contains("N = 4"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
