//! The out-of-domain test end to end through the binary: `dcc infer` writes per-image
//! scores and p-values and a per-set test; `dcc shifts` builds the shift suite from a
//! simulated run (and, without simulation.json, from held-out images) and tabulates it;
//! a run with too few validation images infers without the test and says why.

use std::path::{Path, PathBuf};
use std::process::Command;

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("dcc-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
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

fn train(data: &str, run: &str, validation: &str) {
    let (ok, _, err) = dcc(&[
        "train",
        "--data",
        data,
        "--run",
        run,
        "--known",
        "bahamas-cdm,bahamas-1",
        "--unknown",
        "bahamas-0.3",
        "--epochs",
        "1",
        "--ensemble",
        "1",
        "--batch",
        "12",
        "--validation",
        validation,
        "--seed",
        "5",
        "--device",
        "cpu",
    ]);
    assert!(ok, "{err}");
}

#[test]
fn infer_scores_every_image_and_shifts_tabulates_the_suite() {
    let root = scratch("shifts");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let (data, run) = (s(&root.join("data")), s(&root.join("run")));
    let (ok, _, err) = dcc(&[
        "simulate",
        "--out",
        &data,
        "--sets",
        "cdm,0.3,1",
        "--per-set",
        "60",
        "--channels",
        "mass,xray",
        "--seed",
        "0",
    ]);
    assert!(ok, "{err}");
    train(&data, &run, "0.5");

    let (ok, stdout, err) = dcc(&["infer", "--run", &run, "--no-report", "--device", "cpu"]);
    assert!(ok, "{err}");
    assert!(
        stdout.contains("OOD p") && stdout.contains("out-of-domain when"),
        "{stdout}"
    );
    let inf = json(&root.join("run/infer.json"));
    assert_eq!(inf["schema"], "dcc-infer/2");
    // 30 validation images per set, half of each calibrates.
    assert_eq!(inf["calibration_images"], 45);
    for set in inf["sets"].as_array().unwrap() {
        let n = set["ood_images"].as_u64().unwrap() as usize;
        assert_eq!(n, 15, "{}", set["name"]);
        assert_eq!(set["ood_score_per_image"].as_array().unwrap().len(), n);
        assert_eq!(set["ood_space_scores"].as_array().unwrap().len(), 3);
        let p = set["ood_p_value"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&p));
        for q in set["ood_p_value_per_image"].as_array().unwrap() {
            let q = q.as_f64().unwrap();
            assert!(q > 0.0 && q <= 1.0);
        }
    }

    // The suite needs fresh maps: the training data's seed is refused.
    let suite = s(&root.join("suite"));
    let (ok, _, err) = dcc(&["shifts", "--run", &run, "--out", &suite, "--seed", "0"]);
    assert!(!ok && err.contains("fresh maps"), "{err}");

    let small = [
        "--per-kind",
        "10",
        "--in-domain",
        "20",
        "--set-size",
        "10",
        "--device",
        "cpu",
    ];
    let mut args = vec!["shifts", "--run", &run, "--out", &suite];
    args.extend(small);
    let (ok, stdout, err) = dcc(&args);
    assert!(ok, "{err}");
    assert!(stdout.contains("Targets:"), "{stdout}");
    let table = json(&root.join("suite/shifts.json"));
    assert_eq!(table["schema"], "dcc-shifts/1");
    let rows = table["rows"].as_array().unwrap();
    let row = |k: &str| rows.iter().find(|r| r["kind"] == k).cloned();
    let inv = row("inverted").expect("an inverted row");
    assert_eq!(inv["images"], 30);
    // Inverted maps are far from anything in the training data, even after one epoch.
    assert!(inv["auroc"].as_f64().unwrap() > 0.9, "{inv}");
    assert_eq!(row("in-domain").unwrap()["images"], 60);
    assert!(row("sim-psf").is_some() && row("channel-swap").is_some());
    assert!(root.join("suite/shifts.md").exists() && root.join("suite/infer.json").exists());

    // Without simulation.json: transforms of held-out images only.
    std::fs::rename(
        root.join("data/simulation.json"),
        root.join("data/simulation.moved"),
    )
    .unwrap();
    let plain = s(&root.join("plain"));
    let mut args = vec!["shifts", "--run", &run, "--out", &plain];
    args.extend(small);
    let (ok, _, err) = dcc(&args);
    assert!(ok, "{err}");
    let table = json(&root.join("plain/shifts.json"));
    assert!(table["source"].as_str().unwrap().contains("held-out"));
    let kinds: Vec<&str> = table["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"blur") && !kinds.iter().any(|k| k.starts_with("sim-")));

    // Too few validation images: infer still answers, without the test, and says why.
    let thin = s(&root.join("thin"));
    train(&data, &thin, "0.06");
    let (ok, stdout, err) = dcc(&["infer", "--run", &thin, "--no-report", "--device", "cpu"]);
    assert!(ok, "{err}");
    assert!(err.contains("out-of-domain test is skipped"), "{err}");
    let inf = json(&root.join("thin/infer.json"));
    assert!(inf["sets"][0]["ood_p_value"].is_null(), "{stdout}");
    let _ = std::fs::remove_dir_all(&root);
}
