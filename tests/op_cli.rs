//! `dcc op conv2d` takes the padding words of the network TOML (none, same) as well as a
//! number of pixels.

use dcc::data::npy::{write_npy_f32, NpyArray};
use std::process::Command;

#[test]
fn conv2d_accepts_the_toml_padding_words() {
    let dir = std::env::temp_dir().join(format!("dcc-test-op-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    write_npy_f32(&dir.join("x.npy"), &[1, 1, 5, 5], &[1.0; 25]).unwrap();
    write_npy_f32(&dir.join("w.npy"), &[2, 1, 3, 3], &[0.5; 18]).unwrap();
    let run = |pad: &str| {
        let out = dir.join(format!("out-{pad}"));
        let o = Command::new(env!("CARGO_BIN_EXE_dcc"))
            .args(["op", "conv2d", "-i"])
            .arg(dir.join("x.npy"))
            .arg("-i")
            .arg(dir.join("w.npy"))
            .args(["-p", &format!("padding={pad}"), "--out"])
            .arg(&out)
            .output()
            .unwrap();
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
            out,
        )
    };
    for (pad, side) in [("same", 5), ("none", 3), ("1", 5), ("0", 3)] {
        let (ok, err, out) = run(pad);
        assert!(ok, "padding={pad}: {err}");
        let y = NpyArray::open(&out.join("output.npy")).unwrap();
        assert_eq!(y.dims(), &[1, 2, side, side], "padding={pad}");
    }
    let (ok, err, _) = run("valid");
    assert!(
        !ok && err.contains("expected none, same or a number"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
