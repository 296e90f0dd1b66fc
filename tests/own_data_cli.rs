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
    // The weights explain themselves: network, input, classes and sets in the header.
    let meta =
        dcc::dcc::checkpoint::read_metadata(&root.join("run/weights-0.safetensors")).unwrap();
    assert_eq!(meta["format"], "dcc-weights/1");
    assert_eq!(meta["input_chw"], "[2,48,48]");
    assert_eq!(meta["member"], "0");
    assert!(
        meta["network"].contains("name = \"small-same\""),
        "{meta:?}"
    );
    let classes: Vec<String> = serde_json::from_str(&meta["classes"]).unwrap();
    assert_eq!(classes.len(), 3);
    assert!(meta["sets"].contains("\"SIDM 0.1, hot\""), "{meta:?}");
    // --init seeds a new run from these weights; weights of another network are refused
    // before anything is written.
    let w0 = root.join("run/weights-0.safetensors");
    let init = |run: &str, config: &str| {
        dcc_in(
            &elsewhere,
            &[
                "train",
                "--data",
                root.join("maps").to_str().unwrap(),
                "--run",
                run,
                "--config",
                config,
                "--known",
                "CDM,SIDM1",
                "--known",
                "SIDM 0.1, hot",
                "--epochs",
                "1",
                "--ensemble",
                "1",
                "--batch",
                "12",
                "--device",
                "cpu",
                "--init",
                w0.to_str().unwrap(),
            ],
        )
    };
    let (ok, out) = init("seeded", "small-same");
    assert!(ok, "{out}");
    let (ok, out) = init("wrong", "inception");
    assert!(
        !ok && out.contains("--init") && out.contains("tensor"),
        "{out}"
    );
    assert!(!elsewhere.join("wrong").exists());
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
            "--export-latents",
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
    // --export-latents: members × images × latent dimensions, and one index row per image.
    let n = inf["sets"][0]["images"].as_u64().unwrap() as usize;
    let z = dcc::data::npy::NpyArray::open(&run.join("latents.npy")).unwrap();
    assert_eq!(z.dims(), [1, n, 7]);
    assert!(z.to_vec_f32().iter().all(|v| v.is_finite()));
    let index = dcc::data::catalog::read_catalog(&run.join("latents.csv")).unwrap();
    assert_eq!(index.rows.len(), n);
    assert_eq!(
        &index.columns[..6],
        ["set", "sigma", "row", "data", "image_index", "role"]
    );
    assert!(index
        .rows
        .iter()
        .all(|r| r[0] == "SIDM 0.1, hot" && r[1] == "0.1"));
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
