//! `dcc simulate` end to end: the binary writes the documented files, and the same seed
//! gives the same bytes with one or two threads.

use std::path::PathBuf;
use std::process::Command;

fn run(dir: &PathBuf, threads: &str, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_dcc"))
        .args(["--threads", threads, "simulate", "--out"])
        .arg(dir)
        .args([
            "--sets",
            "cdm,0.3,shift-code",
            "--per-set",
            "3",
            "--seed",
            "11",
        ])
        .args(["--shift", "pixels=24", "--channels", "mass,xray"])
        .args(extra)
        .output()
        .expect("the dcc binary runs")
}

#[test]
fn simulate_writes_identical_datasets_with_one_or_two_threads() {
    let base = std::env::temp_dir().join(format!("dcc-cli-sim-{}", std::process::id()));
    let (a, b) = (base.join("a"), base.join("b"));
    let out = run(&a, "1", &["--chunk", "2"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("wrote 9 maps"));
    let out = run(&b, "2", &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in ["images.npy", "catalog.csv", "simulation.json"] {
        let (x, y) = (
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
        );
        assert!(x == y, "{f} differs between 1 and 2 threads");
    }
    // 9 images × 2 channels × 24 × 24 float32 after the header.
    let npy = std::fs::read(a.join("images.npy")).unwrap();
    let data = 9 * 2 * 24 * 24 * 4;
    assert!(npy.len() > data && (npy.len() - data) % 64 == 0 && npy.len() - data <= 256);
    assert!(String::from_utf8_lossy(&npy[..128]).contains("(9, 2, 24, 24)"));
    let catalog = std::fs::read_to_string(a.join("catalog.csv")).unwrap();
    let header = catalog.lines().next().unwrap();
    assert!(header.starts_with("set,sigma,m200,z,concentration,core_kpc,feedback_log_dt"));
    assert!(header.ends_with("norm_mass,norm_xray"));
    assert_eq!(catalog.lines().count(), 10);
    assert!(catalog.contains("\nshift-code,0,"));
    std::fs::remove_dir_all(&base).unwrap();
}

#[test]
fn simulate_rejects_bad_arguments_with_a_message() {
    let dir = std::env::temp_dir().join(format!("dcc-cli-sim-bad-{}", std::process::id()));
    let out = run(&dir, "1", &["--feedback", "scorching"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("feedback") && err.contains("scorching"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
