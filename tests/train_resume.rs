//! `dcc train` end to end through the binary: an interrupted run (`kill -9`) resumed with
//! `--resume` ends with bit-identical weights; NaN losses stop the run with a clear error.

use dcc::data::dataset::{write_dataset, Catalog};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("dcc-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Three sets of blob images whose width depends on the set, plus pixel noise.
fn blobs(dir: &Path, per_set: usize) {
    let sets = [
        ("cdm", "0", 6.0f32),
        ("sidm1", "1", 14.0),
        ("mystery", "0.1", 9.0),
    ];
    let mut images = Vec::new();
    let mut rows = Vec::new();
    let mut noise = 12345u64;
    for (name, sigma, width) in sets {
        for i in 0..per_set {
            let (cx, cy) = (50.0 + (i % 5) as f32, 50.0 - (i % 3) as f32);
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
    write_dataset(dir, [3 * per_set, 1, 100, 100], &images, &catalog).unwrap();
}

fn train_cmd(data: &Path, run: &Path, extra: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dcc"));
    c.args(["--threads", "2", "train", "--data"])
        .arg(data)
        .arg("--run")
        .arg(run);
    c.args([
        "--known",
        "cdm,sidm1",
        "--unknown",
        "mystery",
        "--ensemble",
        "2",
        "--batch",
        "12",
        "--seed",
        "3",
    ]);
    c.args(extra).stdout(Stdio::null()).stderr(Stdio::piped());
    c
}

fn epochs_done(run: &Path) -> usize {
    let text = std::fs::read_to_string(run.join("checkpoint/state.json")).unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    v["epochs_done"].as_u64().unwrap_or(0) as usize
}

#[test]
fn killed_run_resumes_to_bit_identical_weights() {
    let root = scratch("resume");
    let data = root.join("data");
    blobs(&data, 24);
    let (a, b) = (root.join("a"), root.join("b"));
    let out = train_cmd(&data, &a, &["--epochs", "4"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut child = train_cmd(&data, &b, &["--epochs", "4"]).spawn().unwrap();
    let t = Instant::now();
    while epochs_done(&b) < 1 {
        assert!(
            t.elapsed() < Duration::from_secs(300),
            "no checkpoint appeared"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run finished before it could be killed"
    );
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let killed_at = epochs_done(&b);
    assert!(killed_at < 4, "killed after the last epoch");

    let out = Command::new(env!("CARGO_BIN_EXE_dcc"))
        .args(["--threads", "2", "train", "--resume", "--run"])
        .arg(&b)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for k in 0..2 {
        let wa = std::fs::read(a.join(format!("weights-{k}.safetensors"))).unwrap();
        let wb = std::fs::read(b.join(format!("weights-{k}.safetensors"))).unwrap();
        assert!(
            wa == wb,
            "member {k} differs after resuming from epoch {killed_at}"
        );
    }
    let log = std::fs::read_to_string(b.join("log.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 4);
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn exploding_loss_stops_with_epoch_step_and_term_named() {
    let root = scratch("nan");
    let data = root.join("data");
    blobs(&data, 12);
    let run = root.join("run");
    let out = train_cmd(&data, &run, &["--epochs", "2", "--lr", "1e30"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("epoch 1") && err.contains("step") && err.contains("term is"),
        "{err}"
    );
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn unknown_set_names_and_existing_runs_are_refused() {
    let root = scratch("refuse");
    let data = root.join("data");
    blobs(&data, 4);
    let out = Command::new(env!("CARGO_BIN_EXE_dcc"))
        .args(["train", "--known", "cdm,nope", "--data"])
        .arg(&data)
        .arg("--run")
        .arg(root.join("r"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("'nope'") && err.contains("cdm"),
        "{err}"
    );
    std::fs::remove_dir_all(&root).unwrap();
}

/// On a GPU device (the emulator here, the GPU under `DCC_TEST_DEVICE=cuda`): a run
/// stopped after epoch 2 and resumed to epoch 3 ends with the same weights, bit for bit,
/// as an uninterrupted 3-epoch run, so device-side AdamW moments reach the checkpoint
/// and come back from it.
#[test]
fn resumed_gpu_run_matches_an_uninterrupted_one() {
    for d in dcc::testing::gpu_test_devices().unwrap() {
        let dev = d.to_string();
        let root = scratch(&format!("gpu-resume-{dev}"));
        let data = root.join("data");
        blobs(&data, 12);
        let (a, b) = (root.join("a"), root.join("b"));
        let run = |c: &mut Command| {
            let out = c.output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        run(train_cmd(&data, &a, &["--epochs", "3", "--device", &dev]).stdout(Stdio::null()));
        run(&mut train_cmd(
            &data,
            &b,
            &["--epochs", "2", "--device", &dev],
        ));
        run(Command::new(env!("CARGO_BIN_EXE_dcc"))
            .args([
                "--threads",
                "2",
                "train",
                "--resume",
                "--epochs",
                "3",
                "--device",
                &dev,
                "--run",
            ])
            .arg(&b));
        for k in 0..2 {
            let wa = std::fs::read(a.join(format!("weights-{k}.safetensors"))).unwrap();
            let wb = std::fs::read(b.join(format!("weights-{k}.safetensors"))).unwrap();
            assert!(
                wa == wb,
                "member {k} on {dev} differs after resuming from epoch 2"
            );
        }
        std::fs::remove_dir_all(&root).unwrap();
    }
}

/// `dcc infer` tests each training class on held-out images it was not referenced by:
/// by default half of its validation images are the class's reference and the other half
/// are what it is tested on; `--references train` restores the training-latent references.
#[test]
fn infer_tests_classes_on_held_out_images_against_held_out_references() {
    let root = scratch("heldout");
    let data = root.join("data");
    blobs(&data, 100);
    let run = root.join("run");
    let out = train_cmd(&data, &run, &["--epochs", "1", "--device", "cpu"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let infer = |extra: &[&str], json: &Path| {
        let out = Command::new(env!("CARGO_BIN_EXE_dcc"))
            .args([
                "--threads",
                "2",
                "infer",
                "--no-report",
                "--device",
                "cpu",
                "--run",
            ])
            .arg(&run)
            .arg("--json")
            .arg(json)
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
        v
    };
    let held = infer(&[], &root.join("held.json"));
    let train = infer(&["--references", "train"], &root.join("train.json"));
    let aug = infer(&["--no-augment"], &root.join("raw.json"));
    assert_eq!(held["thresholds"]["augment"], true);
    assert_eq!(aug["thresholds"]["augment"], false);
    let median = |v: &serde_json::Value| v["sets"][0]["posterior"]["median"].as_f64().unwrap();
    assert_ne!(
        median(&held),
        median(&aug),
        "test-time augmentation changes the latents"
    );
    assert_eq!(held["thresholds"]["references"], "validation");
    assert_eq!(train["thresholds"]["references"], "train");
    let images = |v: &serde_json::Value, set: &str, field: &str| {
        v["sets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == set)
            .unwrap()[field]
            .as_u64()
            .unwrap()
    };
    // 20 validation images per set feed the posterior; with held-out references 10 are
    // the class's reference and the other 10 are what the trust tests use.
    assert_eq!(images(&train, "cdm", "images"), 20);
    assert_eq!(images(&train, "cdm", "trust_images"), 20);
    assert_eq!(images(&held, "cdm", "images"), 20);
    assert_eq!(images(&held, "cdm", "trust_images"), 10);
    assert_eq!(images(&held, "mystery", "trust_images"), 10);
    let bad = Command::new(env!("CARGO_BIN_EXE_dcc"))
        .args(["infer", "--references", "test", "--run"])
        .arg(&run)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        !bad.status.success() && err.contains("validation or train"),
        "{err}"
    );
    std::fs::remove_dir_all(&root).unwrap();
}
