//! A user's missteps with run directories, through the binary: bad settings fail before
//! the run directory exists; `--resume` says which flags it ignores and re-points moved
//! data; one trainer per run; a run works from any working directory; `infer` on a run
//! without weights says so.

use std::path::{Path, PathBuf};
use std::process::Command;

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("dcc-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

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

const TRAIN: [&str; 12] = [
    "train",
    "--known",
    "bahamas-cdm,bahamas-1",
    "--unknown",
    "bahamas-0.3",
    "--epochs",
    "1",
    "--ensemble",
    "1",
    "--device",
    "cpu",
    "--validation=0.3",
];

fn train(dir: &Path, data: &str, run: &str, extra: &[&str]) -> (bool, String) {
    let mut args: Vec<&str> = TRAIN.to_vec();
    args.extend(["--data", data, "--run", run]);
    if !extra.contains(&"--batch") {
        args.extend(["--batch", "12"]);
    }
    args.extend(extra);
    dcc_in(dir, &args)
}

#[test]
fn runs_fail_early_resume_safely_lock_and_move() {
    let root = scratch("runs");
    let (ok, out) = dcc_in(
        &root,
        &[
            "simulate",
            "--out",
            "data",
            "--sets",
            "cdm,0.3,1",
            "--per-set",
            "40",
            "--channels",
            "mass,xray",
        ],
    );
    assert!(ok, "{out}");

    // Bad settings fail before the run directory exists.
    for (extra, says) in [
        (vec!["--channels", "0,5"], "channel 5 does not exist"),
        (vec!["--batch", "500"], "pass --batch"),
    ] {
        let (ok, out) = train(&root, "data", "bad", &extra);
        assert!(!ok && out.contains(says), "{extra:?}: {out}");
        assert!(!root.join("bad").exists(), "{extra:?} left a run directory");
    }
    // Maps too small for the network: the needed size and what to do.
    let (ok, out) = dcc_in(
        &root,
        &[
            "simulate",
            "--out",
            "tiny",
            "--sets",
            "cdm,0.3,1",
            "--shift",
            "pixels=40",
            "--per-set",
            "20",
            "--channels",
            "mass",
        ],
    );
    assert!(ok, "{out}");
    let (ok, out) = train(&root, "tiny", "bad", &[]);
    assert!(
        !ok && out.contains("does not fit 40×40 maps") && out.contains("at least 78×78"),
        "{out}"
    );
    assert!(
        out.contains("--config small-same (≥ 16×16)") && out.contains("--config inception"),
        "{out}"
    );
    assert!(!root.join("bad").exists());

    // A run made with a relative --data works from any directory.
    let (ok, out) = train(&root, "data", "run", &[]);
    assert!(ok, "{out}");
    assert!(
        !root.join("run/train.lock").exists(),
        "the lock outlived training"
    );
    let elsewhere = scratch("runs-elsewhere");
    let run = root.join("run");
    let run_s = run.to_str().unwrap();
    let (ok, out) = dcc_in(
        &elsewhere,
        &["infer", "--run", run_s, "--no-report", "--device", "cpu"],
    );
    assert!(ok, "{out}");

    // One epoch at chance: the answer says the model did not learn.
    assert!(out.contains("WARNING: the model did not learn"), "{out}");
    assert!(out.contains("every set reads the same σ/m"), "{out}");
    let inf: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("infer.json")).unwrap()).unwrap();
    assert!(!inf["warnings"].as_array().unwrap().is_empty());
    // Such a model vouches for no set: nothing is "recognised".
    for set in inf["sets"].as_array().unwrap() {
        assert_ne!(set["verdict"], "recognised", "{set}");
    }
    assert!(
        out.contains("unreliable where it would be recognised"),
        "{out}"
    );
    // --json elsewhere leaves RUN/infer.json and the report alone; `-` prints the JSON.
    let before = std::fs::read_to_string(run.join("infer.json")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dcc"))
        .current_dir(&elsewhere)
        .args([
            "--threads",
            "2",
            "infer",
            "--run",
            run_s,
            "--sets",
            "bahamas-1",
        ])
        .args(["--json", "-", "--device", "cpu"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        std::fs::read_to_string(run.join("infer.json")).unwrap(),
        before
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is the JSON");
    assert_eq!(v["sets"].as_array().unwrap().len(), 1);

    // report redraws the last inference: its sets and its thresholds.
    let (ok, out) = dcc_in(
        &root,
        &[
            "infer",
            "--run",
            "run",
            "--sets",
            "bahamas-1,bahamas-cdm",
            "--ood-alpha",
            "0.5",
            "--no-report",
            "--device",
            "cpu",
        ],
    );
    assert!(ok, "{out}");
    let (ok, out) = dcc_in(&root, &["report", "--run", "run", "--device", "cpu"]);
    assert!(ok, "{out}");
    let page = std::fs::read_to_string(run.join("report/index.html")).unwrap();
    // The plots name every training set; the page's text must name only the stored sets.
    let text = without_svg(&page);
    assert!(
        text.contains("largest p &lt; 0.5") && text.contains("bahamas-1"),
        "{text}"
    );
    assert!(!text.contains("bahamas-0.3"), "{text}");

    // --resume names every flag it ignores; --epochs extends the run.
    let (ok, out) = dcc_in(
        &root,
        &[
            "train", "--run", "run", "--resume", "--epochs", "2", "--batch", "64", "--lr", "0.1",
            "--device", "cpu",
        ],
    );
    assert!(ok, "{out}");
    assert!(
        out.contains("--batch is ignored with --resume") && out.contains("--lr is ignored"),
        "{out}"
    );
    assert!(!out.contains("--epochs is ignored"), "{out}");

    // One trainer per run: a live lock refuses, a stale one is taken over.
    std::fs::write(run.join("train.lock"), std::process::id().to_string()).unwrap();
    let (ok, out) = dcc_in(
        &root,
        &["train", "--run", "run", "--resume", "--device", "cpu"],
    );
    assert!(!ok && out.contains("being trained by process"), "{out}");
    let (ok, out) = dcc_in(
        &elsewhere,
        &["infer", "--run", run_s, "--no-report", "--device", "cpu"],
    );
    assert!(
        ok && out.contains("is being trained") && out.contains("epoch 2"),
        "{out}"
    );
    std::fs::write(run.join("train.lock"), "4294967295").unwrap();
    let (ok, out) = dcc_in(
        &root,
        &["train", "--run", "run", "--resume", "--device", "cpu"],
    );
    assert!(ok && out.contains("stale lock"), "{out}");

    // Moved data: infer says how to re-point, --resume --data re-points.
    std::fs::rename(root.join("data"), root.join("moved")).unwrap();
    let (ok, out) = dcc_in(
        &elsewhere,
        &["infer", "--run", run_s, "--no-report", "--device", "cpu"],
    );
    assert!(!ok && out.contains("--resume --data"), "{out}");
    let (ok, out) = dcc_in(
        &root,
        &[
            "train", "--run", "run", "--resume", "--data", "moved", "--device", "cpu",
        ],
    );
    assert!(ok && out.contains("re-pointed"), "{out}");
    let (ok, out) = dcc_in(
        &elsewhere,
        &["infer", "--run", run_s, "--no-report", "--device", "cpu"],
    );
    assert!(ok, "{out}");
    // Two directories with the same set names: the table says which is which.
    std::fs::create_dir_all(root.join("twin")).unwrap();
    for f in ["images.npy", "catalog.csv"] {
        std::fs::copy(root.join("moved").join(f), root.join("twin").join(f)).unwrap();
    }
    let (ok, out) = dcc_in(
        &root,
        &[
            "infer",
            "--run",
            "run",
            "--data",
            "moved",
            "twin",
            "--no-report",
            "--device",
            "cpu",
        ],
    );
    assert!(
        ok && out.contains("bahamas-1 [twin]") && out.contains("bahamas-1 [moved]"),
        "{out}"
    );
    // Data that is not the run's is refused.
    let (ok, out) = dcc_in(
        &root,
        &[
            "train", "--run", "run", "--resume", "--data", "tiny", "--device", "cpu",
        ],
    );
    assert!(!ok && out.contains("maps are 40×40"), "{out}");

    // Set lists are trimmed; a set that is not there is named, with what is there.
    let (ok, out) = dcc_in(
        &elsewhere,
        &[
            "infer",
            "--run",
            run_s,
            "--sets",
            "bahamas-1, nope",
            "--no-report",
            "--device",
            "cpu",
        ],
    );
    assert!(
        !ok && out.contains("no set named nope") && out.contains("bahamas-0.3"),
        "{out}"
    );
    // A dataset is a directory; channels are counted in the user's terms.
    let file = root.join("moved/images.npy");
    let (ok, out) = dcc_in(
        &root,
        &[
            "infer",
            "--run",
            "run",
            "--data",
            file.to_str().unwrap(),
            "--no-report",
        ],
    );
    assert!(
        !ok && out.contains("is a file; a dataset is a directory"),
        "{out}"
    );
    let (ok, out) = dcc_in(
        &root,
        &["infer", "--run", "run", "--data", "nowhere", "--no-report"],
    );
    assert!(!ok && out.contains("no such directory"), "{out}");
    let (ok, out) = dcc_in(
        &root,
        &[
            "simulate",
            "--out",
            "one",
            "--sets",
            "cdm",
            "--per-set",
            "4",
            "--channels",
            "mass",
        ],
    );
    assert!(ok, "{out}");
    let (ok, out) = dcc_in(
        &root,
        &[
            "infer",
            "--run",
            "run",
            "--data",
            "one",
            "--no-report",
            "--device",
            "cpu",
        ],
    );
    assert!(
        !ok && out
            .contains("trained on 2 channel(s) (0,1) of 2-channel maps; the maps here have 1"),
        "{out}"
    );
    // Too few validation images: a warning at train time, each such set skipped at infer.
    let (ok, out) = dcc_in(
        &root,
        &[
            "train",
            "--data",
            "moved",
            "--run",
            "thin",
            "--known",
            " bahamas-cdm, bahamas-1,",
            "--epochs",
            "1",
            "--ensemble",
            "1",
            "--batch",
            "12",
            "--validation",
            "0.02",
            "--device",
            "cpu",
        ],
    );
    assert!(ok && out.contains("validation image(s)"), "{out}");
    let (ok, out) = dcc_in(
        &root,
        &["infer", "--run", "thin", "--no-report", "--device", "cpu"],
    );
    assert!(ok && out.contains("is skipped"), "{out}");
    assert!(
        out.contains("bahamas-0.3") && out.contains("test skipped"),
        "{out}"
    );

    // No weights yet.
    std::fs::remove_file(run.join("weights-0.safetensors")).unwrap();
    let (ok, out) = dcc_in(
        &elsewhere,
        &["infer", "--run", run_s, "--no-report", "--device", "cpu"],
    );
    assert!(!ok && out.contains("no trained weights yet"), "{out}");
    let _ = std::fs::remove_dir_all(&root);
    let _ = std::fs::remove_dir_all(&elsewhere);
}

/// The page with its inline SVG figures cut out.
fn without_svg(page: &str) -> String {
    let mut out = String::new();
    let mut rest = page;
    while let Some(start) = rest.find("<svg") {
        out.push_str(&rest[..start]);
        match rest[start..].find("</svg>") {
            Some(end) => rest = &rest[start + end + "</svg>".len()..],
            None => return out,
        }
    }
    out.push_str(rest);
    out
}
