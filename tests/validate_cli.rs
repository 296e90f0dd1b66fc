//! `dcc train --classes` and `dcc validate` end to end through the binary: known sets that
//! share a σ/m train as one class; validate tabulates the withheld sets of finished runs
//! and retrains leave-one-out runs (reusing finished ones when run again).

use dcc::data::dataset::{write_dataset, Catalog};
use std::path::{Path, PathBuf};
use std::process::Command;

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("dcc-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Blob images whose width grows with σ/m; two CDM sets (one "feedback" variant).
fn blobs(dir: &Path, per_set: usize) {
    let sets = [
        ("cdm", "0", 6.0f32),
        ("cdm-agn", "0", 6.5),
        ("sidm03", "0.3", 10.0),
        ("sidm1", "1", 14.0),
        ("mystery", "0.1", 8.0),
    ];
    let mut images = Vec::new();
    let mut rows = Vec::new();
    let mut noise = 99u64;
    for (name, sigma, width) in sets {
        for i in 0..per_set {
            let (cx, cy) = (50.0 + (i % 3) as f32, 50.0 - (i % 2) as f32);
            for y in 0..100 {
                for x in 0..100 {
                    noise = noise
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let r2 = (x as f32 - cx).powi(2) + (y as f32 - cy).powi(2);
                    let n = (noise >> 40) as f32 / (1u64 << 24) as f32;
                    images.push((-r2 / (2.0 * width * width)).exp() + 0.05 * n);
                }
            }
            rows.push(vec![name.to_string(), sigma.to_string()]);
        }
    }
    let catalog = Catalog {
        columns: vec!["set".into(), "sigma".into()],
        rows,
    };
    write_dataset(dir, [5 * per_set, 1, 100, 100], &images, &catalog).unwrap();
}

fn dcc(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dcc"))
        .args(["--threads", "2"])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn sets_sharing_a_sigma_train_as_one_class_and_validate_tabulates_coverage() {
    let root = scratch("validate");
    let data = root.join("data");
    blobs(&data, 50);
    let run = root.join("run");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let (run_s, data_s) = (s(&run), s(&data));
    let common = [
        "--ensemble",
        "2",
        "--batch",
        "12",
        "--epochs",
        "1",
        "--seed",
        "5",
        "--device",
        "cpu",
    ];
    let mut args = vec![
        "train",
        "--data",
        &data_s,
        "--run",
        &run_s,
        "--known",
        "cdm,cdm-agn,sidm03,sidm1",
        "--unknown",
        "mystery",
    ];
    args.extend(common);
    let (ok, _, err) = dcc(&args);
    assert!(ok, "{err}");
    assert!(
        err.contains("4 classes: cdm+cdm-agn, sidm03, sidm1, mystery*"),
        "{err}"
    );
    let cfg = json(&run.join("config.json"));
    assert_eq!(cfg["config"]["classes"], "by-sigma");
    assert_eq!(cfg["config"]["factor"], 0.5);
    assert_eq!(cfg["config"]["rotation"], "nearest");
    assert_eq!(cfg["class_of"], serde_json::json!([0, 0, 1, 2, 3]));

    // One class per set on request.
    let by_set = s(&root.join("by-set"));
    let mut args = vec![
        "train",
        "--data",
        &data_s,
        "--run",
        &by_set,
        "--known",
        "cdm,cdm-agn,sidm1",
        "--unknown",
        "mystery",
        "--classes",
        "by-set",
    ];
    args.extend(common);
    let (ok, _, err) = dcc(&args);
    assert!(ok, "{err}");
    assert_eq!(
        json(&root.join("by-set/config.json"))["class_of"],
        serde_json::json!([0, 1, 2, 3])
    );

    // The finished run: its one withheld set with a catalog σ/m is one trial.
    let out = s(&root.join("cov"));
    let (ok, stdout, err) = dcc(&[
        "validate", "--runs", &run_s, "--out", &out, "--device", "cpu",
    ]);
    assert!(ok, "{err}");
    assert!(stdout.contains("mystery"), "{stdout}");
    let cov = json(&root.join("cov/coverage.json"));
    assert_eq!(cov["schema"], "dcc-coverage/1");
    let trials = cov["trials"].as_array().unwrap();
    assert_eq!(trials.len(), 1);
    assert_eq!(trials[0]["truth"], 0.1);
    assert_eq!(trials[0]["extrapolated"], false);
    assert_eq!(cov["coverage"][0]["trials"], 1);
    assert!(root.join("cov/coverage.html").exists());

    // Leave-one-out: one run per known label (CDM's two sets leave together).
    let loo = s(&root.join("loo"));
    let args = [
        "validate",
        "--leave-one-out",
        "--from",
        &run_s,
        "--out",
        &loo,
        "--device",
        "cpu",
    ];
    let (ok, _, err) = dcc(&args);
    assert!(ok, "{err}");
    let cov = json(&root.join("loo/coverage.json"));
    let trials = cov["trials"].as_array().unwrap();
    // Three runs, each withholding its label's sets and (as the template did) the mystery
    // set: 3 + 2 + 2 trials.
    assert_eq!(trials.len(), 7, "{trials:?}");
    let cdm_out = json(&root.join("loo/loo-0.01-seed5/config.json"));
    // Every run dcc creates carries its network as TOML, not only those `train` made.
    let toml = std::fs::read_to_string(root.join("loo/loo-0.01-seed5/network.toml")).unwrap();
    assert!(toml.contains("[[layers]]"), "{toml}");
    assert_eq!(
        cdm_out["config"]["unknown"],
        serde_json::json!(["mystery", "cdm", "cdm-agn"])
    );
    let ends: Vec<bool> = trials
        .iter()
        .filter(|t| t["set"] == "cdm" || t["set"] == "sidm1")
        .map(|t| t["extrapolated"].as_bool().unwrap())
        .collect();
    assert_eq!(ends, vec![true, true], "{trials:?}");
    // Run again: the finished runs are reused, not retrained.
    let (ok, _, err) = dcc(&args);
    assert!(ok, "{err}");
    assert_eq!(err.matches("finished earlier, reused").count(), 3, "{err}");

    // Nothing to do, and a template with too few labels, are clear errors.
    let (ok, _, err) = dcc(&["validate"]);
    assert!(!ok && err.contains("--runs"), "{err}");
    let (ok, _, err) = dcc(&[
        "validate",
        "--leave-one-out",
        "--from",
        &by_set,
        "--out",
        &loo,
    ]);
    assert!(!ok && err.contains("at least 3 distinct"), "{err}");
}
