use super::*;
use crate::data::dataset::read_catalog;
use crate::data::npy::NpyArray;
use crate::data::sim::presets::{named_set, resolve_set, Preset, SHIFTS};

fn small(name: &str) -> SetConfig {
    let mut s = resolve_set(name, Preset::Bahamas).unwrap();
    s.apply("pixels=32").unwrap();
    s
}

fn tmp_dir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("dcc-sim-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn same_seed_gives_the_same_bytes_at_any_thread_count_and_chunking() {
    let plan = SimulationPlan {
        sets: vec![small("cdm"), small("1:lensing=30:xray=20..1000")],
        per_set: 5,
        channels: vec![Channel::Mass, Channel::Xray, Channel::Stellar],
        seed: 42,
    };
    let mut outputs = Vec::new();
    for (threads, chunk) in [(1, 3), (2, 4), (3, 256)] {
        let dir = tmp_dir(&format!("det{threads}"));
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| simulate_to_dir(&plan, &dir, chunk, &|_| {}))
            .unwrap();
        let images = std::fs::read(dir.join("images.npy")).unwrap();
        let catalog = std::fs::read(dir.join("catalog.csv")).unwrap();
        outputs.push((images, catalog));
        std::fs::remove_dir_all(&dir).unwrap();
    }
    assert!(outputs[0] == outputs[1] && outputs[1] == outputs[2]);
    // A different seed gives different maps.
    let a = simulate_map(&plan.sets[0], &plan.channels, 42, 0).pixels;
    let b = simulate_map(&plan.sets[0], &plan.channels, 43, 0).pixels;
    assert!(a != b);
}

#[test]
fn map_seeds_depend_on_seed_set_and_index_only() {
    let s = map_seed(1, "bahamas-cdm", 7);
    assert_eq!(s, map_seed(1, "bahamas-cdm", 7));
    assert_ne!(s, map_seed(2, "bahamas-cdm", 7));
    assert_ne!(s, map_seed(1, "bahamas-0.1", 7));
    assert_ne!(s, map_seed(1, "bahamas-cdm", 8));
}

#[test]
fn dataset_has_the_documented_shape_catalog_and_norms() {
    let plan = SimulationPlan {
        sets: vec![small("cdm"), small("0.3")],
        per_set: 3,
        channels: vec![Channel::Mass, Channel::Stellar],
        seed: 5,
    };
    let dir = tmp_dir("layout");
    simulate_to_dir(&plan, &dir, 2, &|_| {}).unwrap();
    let images = NpyArray::open(&dir.join("images.npy")).unwrap();
    assert_eq!(images.dims(), &[6, 2, 32, 32]);
    let pixels = images.to_vec_f32();
    for img in pixels.chunks(32 * 32) {
        let max = img.iter().cloned().fold(f32::MIN, f32::max);
        assert_eq!(max, 1.0, "each channel is divided by its maximum");
    }
    let cat = read_catalog(&dir.join("catalog.csv")).unwrap();
    assert_eq!(cat.columns, catalog_columns(&plan.channels));
    assert_eq!(cat.rows.len(), 6);
    let sets = cat.column("set").unwrap();
    assert_eq!(
        sets,
        ["bahamas-cdm"; 3]
            .iter()
            .chain(&["bahamas-0.3"; 3])
            .cloned()
            .collect::<Vec<_>>()
    );
    let sigma = cat.column("sigma").unwrap();
    assert_eq!((sigma[0], sigma[5]), ("0", "0.3"));
    for row in 0..6 {
        // The norm is the physical maximum: mass per pixel of a cluster centre.
        let norm: f64 = cat.rows[row][cat.column_index("norm_mass").unwrap()]
            .parse()
            .unwrap();
        assert!((1e10..1e14).contains(&norm), "norm_mass {norm}");
        let m200: f64 = cat.rows[row][cat.column_index("m200").unwrap()]
            .parse()
            .unwrap();
        assert!((1e14..=10f64.powf(15.3) * 1.0001).contains(&m200));
    }
    let cores = cat.column("core_kpc").unwrap();
    assert_eq!(cores[0], "0");
    assert!(cores[3].parse::<f64>().unwrap() > 0.0);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_named_set_simulates_finite_normalised_maps() {
    let channels = [Channel::Mass, Channel::Xray, Channel::Stellar];
    let names = [
        "bahamas-cdm",
        "bahamas-agn-weak",
        "bahamas-agn-strong",
        "darkskies-0.2",
    ];
    for name in names.iter().chain(SHIFTS.iter().map(|s| &s.0)) {
        let mut set = named_set(name).unwrap();
        set.apply("pixels=40").unwrap();
        let m = simulate_map(&set, &channels, 9, 0);
        assert!(
            m.pixels.iter().all(|v| v.is_finite() && *v <= 1.0),
            "{name}"
        );
        assert!(
            m.norms.iter().all(|&n| n > 0.0),
            "{name}: norms {:?}",
            m.norms
        );
    }
}

#[test]
fn pure_noise_maps_show_no_cluster_at_the_centre() {
    let mut set = named_set("shift-noise-only").unwrap();
    set.apply("pixels=40").unwrap();
    let mut centre = 0.0;
    let mut mean = 0.0;
    for i in 0..20 {
        let m = simulate_map(&set, &[Channel::Xray], 1, i);
        centre += m.pixels[20 * 40 + 20] as f64;
        mean += m.pixels.iter().map(|&v| v as f64).sum::<f64>() / 1600.0;
    }
    // Background only: the centre is as bright as the average pixel.
    assert!(
        (centre / mean - 1.0).abs() < 0.5,
        "centre {centre} vs mean {mean}"
    );
}

#[test]
fn plans_with_mixed_image_sizes_or_duplicate_names_are_rejected() {
    let mut plan = SimulationPlan {
        sets: vec![small("cdm"), small("cdm")],
        per_set: 1,
        channels: vec![Channel::Mass],
        seed: 0,
    };
    let e = validate_plan(&plan).unwrap_err().to_string();
    assert!(e.contains("twice"), "{e}");
    plan.sets[1] = named_set("bahamas-1").unwrap();
    let e = validate_plan(&plan).unwrap_err().to_string();
    assert!(e.contains("pixels"), "{e}");
}
