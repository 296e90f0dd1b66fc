//! The README's own-data walkthrough with a user's own maps, through the binary: maps
//! smaller than the paper's network takes, a set name holding a comma, and commands run
//! from another directory than the one the run was made in.

use dcc::data::dataset::{write_dataset, Catalog};
use std::path::{Path, PathBuf};
use std::process::Command;

fn dcc_in(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dcc"))
        .current_dir(dir)
        .args(["--threads", "2"])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// 48×48 maps, 2 channels: a Gaussian blob whose width grows with σ/m, plus noise.
fn write_maps(dir: &Path, sets: &[(&str, f64)], per_set: usize) {
    let (h, w) = (48usize, 48usize);
    let mut images = Vec::new();
    let mut rows = Vec::new();
    let mut state = 12345u64;
    let mut noise = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) as f64 / (1u64 << 31) as f64 - 0.5) as f32
    };
    for &(name, sigma) in sets {
        for _ in 0..per_set {
            let r = 4.0 + 6.0 * sigma as f32;
            for c in 0..2 {
                for y in 0..h {
                    for x in 0..w {
                        let d2 = (y as f32 - 24.0).powi(2) + (x as f32 - 24.0).powi(2);
                        let width = r * (1.0 + 0.5 * c as f32);
                        images.push((-d2 / (2.0 * width * width)).exp() + 0.05 * noise());
                    }
                }
            }
            rows.push(vec![name.to_string(), sigma.to_string()]);
        }
    }
    let n = rows.len();
    let cat = Catalog {
        columns: vec!["set".into(), "sigma".into()],
        rows,
    };
    write_dataset(dir, [n, 2, h, w], &images, &cat).unwrap();
}

#[test]
fn small_maps_and_comma_names_train_and_infer_from_anywhere() {
    let root = std::env::temp_dir().join(format!("dcc-test-own-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let elsewhere: PathBuf = root.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    write_maps(
        &root.join("maps"),
        &[("CDM", 0.0), ("SIDM 0.1, hot", 0.1), ("SIDM1", 1.0)],
        24,
    );
    let train = |config: &str| {
        dcc_in(
            &root,
            &[
                "train",
                "--data",
                "maps",
                "--run",
                "run",
                "--config",
                config,
                "--known",
                "CDM",
                "--known",
                "SIDM 0.1, hot",
                "--known",
                "SIDM1",
                "--epochs",
                "1",
                "--ensemble",
                "1",
                "--batch",
                "12",
                "--device",
                "cpu",
            ],
        )
    };
    // The paper's network needs 78×78: the message offers the networks that fit.
    let (ok, out) = train("small");
    assert!(!ok, "{out}");
    assert!(
        out.contains("does not fit 48×48 maps") && out.contains("--config small-same (≥ 16×16)"),
        "{out}"
    );
    assert!(!root.join("run").exists());
    // The padded variant trains; the comma-holding name is one set, not two.
    let (ok, out) = train("small-same");
    assert!(ok, "{out}");
    let config = std::fs::read_to_string(root.join("run/config.json")).unwrap();
    assert!(config.contains("\"SIDM 0.1, hot\""), "{config}");
    assert!(out.contains("3 classes"), "{out}");
    // From another directory: infer on the comma-named set alone, by its whole name.
    let run = root.join("run");
    let (ok, out) = dcc_in(
        &elsewhere,
        &[
            "infer",
            "--run",
            run.to_str().unwrap(),
            "--sets",
            "SIDM 0.1, hot",
            "--device",
            "cpu",
        ],
    );
    assert!(ok, "{out}");
    let inf: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("infer.json")).unwrap()).unwrap();
    let names: Vec<&str> = inf["sets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["SIDM 0.1, hot"], "{out}");
    // A list still splits on commas, and a missing name is named.
    let (ok, out) = dcc_in(
        &elsewhere,
        &[
            "infer",
            "--run",
            run.to_str().unwrap(),
            "--sets",
            "CDM, SIDM2",
            "--device",
            "cpu",
        ],
    );
    assert!(!ok && out.contains("no set named SIDM2"), "{out}");
    // The inspect mosaic of these maps.
    let (ok, out) = dcc_in(
        &elsewhere,
        &["inspect", root.join("maps").to_str().unwrap()],
    );
    assert!(ok && root.join("maps/inspect.png").exists(), "{out}");
    let _ = std::fs::remove_dir_all(&root);
}
