use super::*;

fn dir() -> tempdir::Dir {
    tempdir::Dir::new("npy")
}

pub(crate) mod tempdir {
    use std::path::{Path, PathBuf};

    /// A unique scratch directory removed on drop (tests only).
    pub struct Dir(PathBuf);
    impl Dir {
        pub fn new(tag: &str) -> Dir {
            use std::sync::atomic::{AtomicUsize, Ordering};
            static N: AtomicUsize = AtomicUsize::new(0);
            let p = std::env::temp_dir().join(format!(
                "dcc-test-{tag}-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&p).unwrap();
            Dir(p)
        }
        pub fn path(&self) -> &Path {
            &self.0
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// Writes a raw npy file with the given header dict and payload.
fn raw_npy(path: &Path, dict: &str, payload: &[u8]) {
    let mut h = dict.to_string();
    while !(10 + h.len() + 1).is_multiple_of(64) {
        h.push(' ');
    }
    h.push('\n');
    let mut b = MAGIC.to_vec();
    b.extend_from_slice(&[1, 0]);
    b.extend_from_slice(&(h.len() as u16).to_le_bytes());
    b.extend_from_slice(h.as_bytes());
    b.extend_from_slice(payload);
    std::fs::write(path, b).unwrap();
}

fn open_err(path: &Path) -> String {
    format!(
        "{:#}",
        NpyArray::open(path).err().expect("expected an error")
    )
}

#[test]
fn f32_round_trip_preserves_shape_and_values() {
    let d = dir();
    let p = d.path().join("a.npy");
    let data: Vec<f32> = (0..2 * 3 * 4 * 5).map(|i| i as f32 * 0.5 - 7.0).collect();
    write_npy_f32(&p, &[2, 3, 4, 5], &data).unwrap();
    let a = NpyArray::open(&p).unwrap();
    assert_eq!(a.dims(), &[2, 3, 4, 5]);
    assert_eq!(a.dtype(), Dtype::F32);
    assert_eq!(a.to_vec_f32(), data);
    let mut part = [0f32; 3];
    a.read_f32(10, &mut part);
    assert_eq!(part, [data[10], data[11], data[12]]);
    // The data starts on a 64-byte boundary, as numpy writes it.
    let bytes = std::fs::read(&p).unwrap();
    assert_eq!((bytes.len() - data.len() * 4) % 64, 0);
    assert!(!d.path().join(".a.npy.tmp").exists());
}

#[test]
fn streaming_writer_checks_the_count_and_leaves_no_partial_file() {
    let d = dir();
    let p = d.path().join("s.npy");
    let mut w = NpyWriter::create(&p, &[2, 2]).unwrap();
    w.write(&[1.0, 2.0]).unwrap();
    let e = w.finish().unwrap_err().to_string();
    assert!(e.contains("holds 4 values but only 2"), "{e}");
    assert!(!p.exists());
    assert_eq!(
        std::fs::read_dir(d.path()).unwrap().count(),
        0,
        "temporary file left behind"
    );
    let mut w = NpyWriter::create(&p, &[3]).unwrap();
    let e = w.write(&[1.0; 4]).unwrap_err().to_string();
    assert!(e.contains("holds 3 values but 4"), "{e}");
    w.write(&[1.0, 2.0]).unwrap();
    w.write(&[3.0]).unwrap();
    w.finish().unwrap();
    assert_eq!(
        NpyArray::open(&p).unwrap().to_vec_f32(),
        vec![1.0, 2.0, 3.0]
    );
}

#[test]
fn f64_arrays_are_converted_on_read() {
    let d = dir();
    let p = d.path().join("d.npy");
    let vals = [1.5f64, -2.25, 1e-3];
    let payload: Vec<u8> = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
    raw_npy(
        &p,
        "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }",
        &payload,
    );
    let a = NpyArray::open(&p).unwrap();
    assert_eq!(a.dtype(), Dtype::F64);
    assert_eq!(a.to_vec_f32(), vec![1.5, -2.25, 1e-3]);
}

#[test]
fn truncated_file_is_refused_naming_the_file() {
    let d = dir();
    let p = d.path().join("t.npy");
    write_npy_f32(&p, &[4, 4], &[0.0; 16]).unwrap();
    let b = std::fs::read(&p).unwrap();
    std::fs::write(&p, &b[..b.len() - 5]).unwrap();
    let e = open_err(&p);
    assert!(e.contains("t.npy") && e.contains("truncated"), "{e}");
    std::fs::write(&p, &b[..20]).unwrap();
    let e = open_err(&p);
    assert!(e.contains("t.npy") && e.contains("truncated"), "{e}");
}

#[test]
fn non_npy_file_is_refused() {
    let d = dir();
    let p = d.path().join("x.npy");
    std::fs::write(&p, "set,sigma\nA,0.1\n").unwrap();
    let e = open_err(&p);
    assert!(e.contains("x.npy") && e.contains("not an npy file"), "{e}");
}

#[test]
fn unsupported_dtypes_are_refused_naming_the_file() {
    let d = dir();
    let p = d.path().join("c.npy");
    raw_npy(
        &p,
        "{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }",
        &[0; 8],
    );
    let e = open_err(&p);
    assert!(
        e.contains("c.npy") && e.contains("unsupported dtype '<c8'"),
        "{e}"
    );
}

/// Writes `values` (already encoded, `size` bytes each) under `descr` and reads them back.
fn read_as(descr: &str, payload: &[u8], n: usize) -> Vec<f32> {
    let d = dir();
    let p = d.path().join("t.npy");
    raw_npy(
        &p,
        &format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': ({n},), }}"),
        payload,
    );
    NpyArray::open(&p).unwrap().to_vec_f32()
}

#[test]
fn float16_integers_and_big_endian_arrays_are_read_as_f32() {
    let le = |v: &[u16]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let half = read_as(
        "<f2",
        &le(&[0x3c00, 0xc000, 0x7bff, 0x0001, 0x3555, 0x7c00]),
        6,
    );
    assert_eq!(&half[..4], &[1.0, -2.0, 65504.0, 2f32.powi(-24)]);
    assert_eq!(half[4], 0.333_251_95); // 0x3555, the f16 nearest 1/3
    assert_eq!(half[5], f32::INFINITY);
    let be: Vec<u8> = [1.5f32, -3.25]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect();
    assert_eq!(read_as(">f4", &be, 2), [1.5, -3.25]);
    let be: Vec<u8> = [0.1f64].iter().flat_map(|v| v.to_be_bytes()).collect();
    assert_eq!(read_as(">f8", &be, 1), [0.1f64 as f32]);
    assert_eq!(read_as("|u1", &[0, 7, 255], 3), [0.0, 7.0, 255.0]);
    assert_eq!(read_as("|i1", &[0, 7, 255], 3), [0.0, 7.0, -1.0]);
    assert_eq!(read_as("|b1", &[0, 1], 2), [0.0, 1.0]);
    let i2: Vec<u8> = [-300i16, 300]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    assert_eq!(read_as("<i2", &i2, 2), [-300.0, 300.0]);
    let i8be: Vec<u8> = [-5i64, 1 << 40]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect();
    assert_eq!(read_as(">i8", &i8be, 2), [-5.0, 2f32.powi(40)]);
    let u4: Vec<u8> = [4_000_000_000u32]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    assert_eq!(read_as("<u4", &u4, 1), [4e9]);
}

#[test]
fn fortran_order_is_refused_with_the_conversion() {
    let d = dir();
    let p = d.path().join("f.npy");
    raw_npy(
        &p,
        "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }",
        &[0; 16],
    );
    let e = open_err(&p);
    assert!(e.contains("f.npy") && e.contains("Fortran order"), "{e}");
    assert!(e.contains("np.ascontiguousarray"), "{e}");
}

#[test]
fn header_parser_accepts_numpy_variants() {
    let (off, dt, dims) = {
        let d = dir();
        let p = d.path().join("v.npy");
        raw_npy(
            &p,
            "{\"shape\": (2,3), \"fortran_order\": False, \"descr\": \"<f4\"}",
            &[0; 24],
        );
        let a = NpyArray::open(&p).unwrap();
        (a.offset, a.dtype(), a.dims().to_vec())
    };
    assert_eq!((off % 64, dt, dims), (0, Dtype::F32, vec![2, 3]));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(32))]
    #[test]
    fn any_shape_and_values_survive_a_write_read_round_trip(
        dims in proptest::collection::vec(0usize..5, 1..5),
        seed in 0u64..1000,
    ) {
        let d = dir();
        let p = d.path().join("r.npy");
        let n: usize = dims.iter().product();
        let data: Vec<f32> = (0..n).map(|i| ((i as u64 * 7919 + seed) % 1000) as f32 * 1.5e-3 - 0.7).collect();
        write_npy_f32(&p, &dims, &data).unwrap();
        let a = NpyArray::open(&p).unwrap();
        proptest::prop_assert_eq!(a.dims(), &dims[..]);
        proptest::prop_assert_eq!(a.to_vec_f32(), data);
    }
}
