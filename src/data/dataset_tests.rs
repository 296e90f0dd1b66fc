use super::*;
use crate::data::npy::tests::tempdir::Dir;

/// A dataset with `per_set` images of each of the named sets, C×H×W, pixel values
/// distinct per image (value = index + 1 + pixel/1000).
pub(crate) fn make_dataset(
    dir: &Path,
    sets: &[(&str, Option<f64>)],
    per_set: usize,
    chw: [usize; 3],
) {
    let [c, h, w] = chw;
    let n = sets.len() * per_set;
    let mut images = Vec::with_capacity(n * c * h * w);
    let mut rows = Vec::new();
    for (s, (name, sigma)) in sets.iter().enumerate() {
        for k in 0..per_set {
            let i = s * per_set + k;
            images.extend((0..c * h * w).map(|p| (i + 1) as f32 + p as f32 / 1000.0));
            rows.push(vec![
                name.to_string(),
                sigma.map(|v| v.to_string()).unwrap_or_default(),
                format!("{}", 14.0 + i as f64 * 0.01),
            ]);
        }
    }
    let catalog = Catalog {
        columns: vec!["set".into(), "sigma".into(), "m200".into()],
        rows,
    };
    write_dataset(dir, [n, c, h, w], &images, &catalog).unwrap();
}

fn open_err(dir: &Path, options: &OpenOptions) -> String {
    format!(
        "{:#}",
        Dataset::open(dir, options)
            .err()
            .expect("expected an error")
    )
}

#[test]
fn open_round_trips_images_sets_and_columns() {
    let d = Dir::new("ds");
    make_dataset(
        d.path(),
        &[("CDM", Some(0.0)), ("SIDM1", Some(1.0)), ("X", None)],
        3,
        [2, 4, 5],
    );
    let ds = Dataset::open(d.path(), &OpenOptions::default()).unwrap();
    assert_eq!(ds.dims(), [9, 2, 4, 5]);
    let names: Vec<_> = ds
        .sets()
        .iter()
        .map(|s| (s.name.as_str(), s.sigma))
        .collect();
    assert_eq!(
        names,
        vec![("CDM", Some(0.0)), ("SIDM1", Some(1.0)), ("X", None)]
    );
    assert_eq!(ds.sets()[1].indices, vec![3, 4, 5]);
    assert_eq!(ds.set_of(7), Some(2));
    let img = ds.image(4).unwrap();
    assert_eq!(img.len(), 40);
    assert_eq!(img[0], 5.0);
    assert_eq!(img[39], 5.039);
    let m = ds.column_f64("m200").unwrap();
    assert_eq!(m[2], Some(14.02));
    assert_eq!(ds.column_f64("sigma").unwrap()[8], None);
    assert_eq!(ds.numeric_columns(), vec!["sigma", "m200"]);
    let e = format!("{:#}", ds.column_f64("z").unwrap_err());
    assert!(e.contains("no column 'z'"), "{e}");
}

#[test]
fn rank_other_than_four_is_refused() {
    let d = Dir::new("ds");
    write_npy_f32(&d.path().join(IMAGES_FILE), &[2, 3, 3], &[0.0; 18]).unwrap();
    let e = open_err(d.path(), &OpenOptions::default());
    assert!(
        e.contains("images.npy") && e.contains("rank-4") && e.contains("rank 3"),
        "{e}"
    );
}

#[test]
fn catalog_row_count_must_match_n() {
    let d = Dir::new("ds");
    make_dataset(d.path(), &[("A", Some(0.1))], 3, [1, 2, 2]);
    std::fs::write(d.path().join(CATALOG_FILE), "set,sigma\nA,0.1\nA,0.1\n").unwrap();
    let e = open_err(d.path(), &OpenOptions::default());
    assert!(
        e.contains("catalog.csv: 2 rows") && e.contains("N = 3"),
        "{e}"
    );
}

#[test]
fn missing_set_column_is_refused() {
    let d = Dir::new("ds");
    make_dataset(d.path(), &[("A", Some(0.1))], 1, [1, 2, 2]);
    std::fs::write(d.path().join(CATALOG_FILE), "name,sigma\nA,0.1\n").unwrap();
    let e = open_err(d.path(), &OpenOptions::default());
    assert!(
        e.contains("catalog.csv") && e.contains("missing the 'set' column"),
        "{e}"
    );
}

#[test]
fn non_numeric_sigma_names_row_and_value() {
    let d = Dir::new("ds");
    make_dataset(d.path(), &[("A", Some(0.1))], 2, [1, 2, 2]);
    std::fs::write(d.path().join(CATALOG_FILE), "set,sigma\nA,0.1\nA,abc\n").unwrap();
    let e = open_err(d.path(), &OpenOptions::default());
    assert!(
        e.contains("row 1 (line 3)") && e.contains("'sigma' holds 'abc'"),
        "{e}"
    );
}

#[test]
fn inconsistent_sigma_within_a_set_is_refused() {
    let d = Dir::new("ds");
    make_dataset(d.path(), &[("A", Some(0.1))], 2, [1, 2, 2]);
    std::fs::write(d.path().join(CATALOG_FILE), "set,sigma\nA,0.1\nA,0.3\n").unwrap();
    let e = open_err(d.path(), &OpenOptions::default());
    assert!(
        e.contains("set 'A' has sigma 0.1 in row 0 but 0.3 in row 1"),
        "{e}"
    );
}

fn poison(dir: &Path, images: &[usize], value: f32) {
    let a = NpyArray::open(&dir.join(IMAGES_FILE)).unwrap();
    let dims = a.dims().to_vec();
    let mut v = a.to_vec_f32();
    drop(a);
    let per: usize = dims[1..].iter().product();
    for &i in images {
        v[i * per + per - 1] = value;
    }
    write_npy_f32(&dir.join(IMAGES_FILE), &dims, &v).unwrap();
}

#[test]
fn non_finite_pixels_are_refused_with_the_image_index() {
    let d = Dir::new("ds");
    make_dataset(
        d.path(),
        &[("A", Some(0.1)), ("B", Some(1.0))],
        3,
        [2, 3, 3],
    );
    poison(d.path(), &[4], f32::NAN);
    let e = open_err(d.path(), &OpenOptions::default());
    assert!(
        e.contains("images.npy: image 4") && e.contains("channel 1, row 2, column 2"),
        "{e}"
    );
    assert!(e.contains("skip_bad"), "{e}");
}

#[test]
fn skip_bad_skips_non_finite_images_and_reports_them() {
    let d = Dir::new("ds");
    make_dataset(
        d.path(),
        &[("A", Some(0.1)), ("B", Some(1.0))],
        3,
        [1, 3, 3],
    );
    poison(d.path(), &[1, 4], f32::INFINITY);
    let ds = Dataset::open(d.path(), &OpenOptions { skip_bad: true }).unwrap();
    assert_eq!(ds.skipped(), &[1, 4]);
    assert_eq!(ds.sets()[0].indices, vec![0, 2]);
    assert_eq!(ds.sets()[1].indices, vec![3, 5]);
    assert_eq!(ds.set_of(1), None);
}

#[test]
fn a_set_left_empty_by_skipping_is_refused() {
    let d = Dir::new("ds");
    make_dataset(
        d.path(),
        &[("A", Some(0.1)), ("B", Some(1.0))],
        2,
        [1, 2, 2],
    );
    poison(d.path(), &[2, 3], f32::NAN);
    let e = open_err(d.path(), &OpenOptions { skip_bad: true });
    assert!(
        e.contains("set 'B' is empty") && e.contains("all 2 of its images"),
        "{e}"
    );
}

#[test]
fn empty_set_name_and_empty_dataset_are_refused() {
    let d = Dir::new("ds");
    make_dataset(d.path(), &[("A", Some(0.1))], 2, [1, 2, 2]);
    std::fs::write(d.path().join(CATALOG_FILE), "set,sigma\nA,0.1\n,0.1\n").unwrap();
    let e = open_err(d.path(), &OpenOptions::default());
    assert!(e.contains("row 1 (line 3): empty 'set' name"), "{e}");
    write_npy_f32(&d.path().join(IMAGES_FILE), &[0, 1, 2, 2], &[]).unwrap();
    let e = open_err(d.path(), &OpenOptions::default());
    assert!(e.contains("holds no images"), "{e}");
}

#[test]
fn missing_files_are_named() {
    let d = Dir::new("ds");
    let e = open_err(d.path(), &OpenOptions::default());
    assert!(e.contains("images.npy: cannot open"), "{e}");
}

#[test]
fn a_pandas_index_column_is_not_data() {
    let d = Dir::new("ds");
    make_dataset(d.path(), &[("A", Some(0.1))], 2, [1, 2, 2]);
    for header in ["", "Unnamed: 0"] {
        std::fs::write(
            d.path().join(CATALOG_FILE),
            format!("{header},set,sigma,m200\n0,A,0.1,14.1\n1,A,0.1,14.3\n"),
        )
        .unwrap();
        let ds = Dataset::open(d.path(), &OpenOptions::default()).unwrap();
        assert_eq!(
            ds.numeric_columns(),
            vec!["sigma", "m200"],
            "header '{header}'"
        );
    }
}

#[test]
fn set_names_split_on_commas_unless_a_value_names_a_set() {
    let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let avail = ["CDM", "SIDM 0.1, hot", "SIDM1"];
    assert_eq!(
        split_set_names(&v(&["CDM, SIDM1", "CDM"]), &avail),
        v(&["CDM", "SIDM1"])
    );
    assert_eq!(
        split_set_names(&v(&[" SIDM 0.1, hot ", "SIDM1,,"]), &avail),
        v(&["SIDM 0.1, hot", "SIDM1"])
    );
    // A name that is not a set is still split, so the caller can name what is missing.
    assert_eq!(split_set_names(&v(&["SIDM 0.1"]), &avail), v(&["SIDM 0.1"]));
    assert_eq!(split_set_names(&v(&["a,b"]), &avail), v(&["a", "b"]));
}

#[test]
fn channels_are_named_from_one_norm_column_each() {
    let d = Dir::new("chnames");
    make_dataset(d.path(), &[("a", Some(0.0))], 2, [2, 4, 4]);
    let ds = Dataset::open(d.path(), &OpenOptions::default()).unwrap();
    assert_eq!(ds.channel_names(), ["channel 0", "channel 1"]);
    let mut cat = ds.catalog().clone();
    cat.columns
        .extend(["norm_mass".to_string(), "norm_xray".to_string()]);
    for r in &mut cat.rows {
        r.extend(["1".to_string(), "2".to_string()]);
    }
    write_catalog(&d.path().join(CATALOG_FILE), &cat).unwrap();
    let ds = Dataset::open(d.path(), &OpenOptions::default()).unwrap();
    assert_eq!(ds.channel_names(), ["mass", "xray"]);
}
