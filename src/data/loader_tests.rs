use super::*;
use crate::data::augment::AugmentConfig;
use crate::data::dataset::tests::make_dataset;
use crate::data::dataset::OpenOptions;
use crate::data::npy::tests::tempdir::Dir;

fn open(sets: &[(&str, Option<f64>)], per_set: usize, chw: [usize; 3]) -> (Dir, Arc<Dataset>) {
    let d = Dir::new("loader");
    make_dataset(d.path(), sets, per_set, chw);
    let ds = Dataset::open(d.path(), &OpenOptions::default()).unwrap();
    (d, Arc::new(ds))
}

fn three_sets() -> Vec<(&'static str, Option<f64>)> {
    vec![
        ("CDM", Some(0.0)),
        ("SIDM0.1", Some(0.1)),
        ("SIDM1", Some(1.0)),
    ]
}

fn collect(loader: &Loader, split: Split, epoch: u64) -> Vec<Batch> {
    loader.epoch(split, epoch).collect()
}

#[test]
fn split_is_stratified_by_set_and_disjoint() {
    let d = Dir::new("loader");
    // Sets of 10, 10, 10 plus a bigger one written as a second dataset is not needed:
    // make_dataset gives equal sets, so check per-set counts directly.
    make_dataset(d.path(), &three_sets(), 25, [1, 4, 4]);
    let ds = Arc::new(Dataset::open(d.path(), &OpenOptions::default()).unwrap());
    let cfg = LoaderConfig {
        validation_fraction: 0.2,
        ..LoaderConfig::default()
    };
    let l = Loader::new(ds.clone(), cfg).unwrap();
    let (t, v) = (l.indices(Split::Train), l.indices(Split::Validation));
    assert_eq!((t.len(), v.len()), (60, 15));
    for k in 0..3 {
        assert_eq!(
            v.iter().filter(|&&i| ds.set_of(i) == Some(k)).count(),
            5,
            "set {k}"
        );
    }
    let mut all: Vec<usize> = t.iter().chain(v).copied().collect();
    all.sort();
    assert_eq!(all, (0..75).collect::<Vec<_>>());
    // The split depends on the seed only.
    let l2 = Loader::new(
        ds.clone(),
        LoaderConfig {
            threads: 4,
            ..LoaderConfig::default()
        },
    )
    .unwrap();
    assert_eq!(l2.indices(Split::Validation), v);
    let l3 = Loader::new(
        ds,
        LoaderConfig {
            seed: 7,
            ..LoaderConfig::default()
        },
    )
    .unwrap();
    assert_ne!(l3.indices(Split::Validation), v);
}

#[test]
fn batches_depend_only_on_seed_and_epoch_not_on_threads() {
    let (_d, ds) = open(&three_sets(), 12, [2, 10, 10]);
    let base = LoaderConfig {
        batch_size: 7,
        mixup: Some(MixUp {
            probability: 0.5,
            weight: 0.5,
        }),
        ..LoaderConfig::default()
    };
    let runs: Vec<Vec<Batch>> = [(1, 1), (2, 4), (3, 2), (5, 9)]
        .iter()
        .map(|&(threads, prefetch)| {
            let l = Loader::new(
                ds.clone(),
                LoaderConfig {
                    threads,
                    prefetch,
                    ..base.clone()
                },
            )
            .unwrap();
            collect(&l, Split::Train, 3)
        })
        .collect();
    for r in &runs[1..] {
        assert_eq!(r.len(), runs[0].len());
        for (a, b) in r.iter().zip(&runs[0]) {
            assert_eq!(a.indices, b.indices);
            assert_eq!(a.mix, b.mix);
            assert_eq!(a.images.data(), b.images.data());
        }
    }
    let l = Loader::new(ds, base).unwrap();
    let other = collect(&l, Split::Train, 4);
    assert_ne!(
        other[0].indices, runs[0][0].indices,
        "epochs shuffle differently"
    );
    let again = collect(&l, Split::Train, 3);
    assert_eq!(again[2].images.data(), runs[0][2].images.data());
}

#[test]
fn every_delivered_channel_has_maximum_one() {
    let (_d, ds) = open(&three_sets(), 4, [3, 9, 11]);
    let cfg = LoaderConfig {
        batch_size: 5,
        mixup: Some(MixUp {
            probability: 0.5,
            weight: 0.5,
        }),
        ..LoaderConfig::default()
    };
    let l = Loader::new(ds, cfg).unwrap();
    for b in collect(&l, Split::Train, 0) {
        for plane in b.images.data().chunks(99) {
            assert_eq!(plane.iter().copied().fold(f32::MIN, f32::max), 1.0);
        }
    }
}

#[test]
fn channel_selection_and_validation_deliver_unaugmented_raw_channels() {
    let (_d, ds) = open(&three_sets(), 5, [3, 4, 6]);
    let cfg = LoaderConfig {
        batch_size: 4,
        channels: Some(vec![2, 0]),
        normalise: false,
        validation_fraction: 0.4,
        ..LoaderConfig::default()
    };
    let l = Loader::new(ds.clone(), cfg).unwrap();
    assert_eq!(l.image_dims(), [2, 4, 6]);
    let batches = collect(&l, Split::Validation, 0);
    assert_eq!(batches.iter().map(Batch::len).sum::<usize>(), 6);
    let b = &batches[0];
    assert_eq!(b.images.dims(), &[4, 2, 4, 6]);
    assert_eq!(b.indices, l.indices(Split::Validation)[..4].to_vec());
    let raw = ds.image(b.indices[1]).unwrap();
    let row = &b.images.data()[48..96];
    assert_eq!(&row[..24], &raw[48..72]);
    assert_eq!(&row[24..], &raw[..24]);
    assert_eq!(b.set_index[1], ds.set_of(b.indices[1]).unwrap());
}

#[test]
fn mixup_pairs_different_sets_and_averages_images() {
    let (_d, ds) = open(&three_sets(), 6, [1, 5, 5]);
    let cfg = LoaderConfig {
        batch_size: 50,
        validation_fraction: 0.0,
        augment: AugmentConfig::none(),
        normalise: false,
        mixup: Some(MixUp {
            probability: 1.0,
            weight: 0.5,
        }),
        ..LoaderConfig::default()
    };
    let l = Loader::new(ds.clone(), cfg).unwrap();
    let b = collect(&l, Split::Train, 1).remove(0);
    assert_eq!(b.len(), 18);
    for r in 0..b.len() {
        let m = b.mix[r].expect("probability 1 mixes every row");
        assert_ne!(m.set_b, b.set_index[r]);
        assert_eq!(ds.set_of(m.index_b), Some(m.set_b));
        let (a, c) = (
            ds.image(b.indices[r]).unwrap(),
            ds.image(m.index_b).unwrap(),
        );
        let got = &b.images.data()[r * 25..(r + 1) * 25];
        for p in 0..25 {
            assert!((got[p] - 0.5 * (a[p] + c[p])).abs() < 1e-5);
        }
    }
    // Labels: log10 σ/m with CDM at 0.01.
    let labels = [-2.0, -1.0, 0.0];
    let t = b.targets(&labels);
    let m = b.mix[0].unwrap();
    let expect = ((10f64.powf(labels[b.set_index[0]]) + 10f64.powf(labels[m.set_b])) / 2.0).log10();
    assert!((t[0] - expect).abs() < 1e-12);
}

#[test]
fn stats_count_images_and_batches_and_accumulate() {
    let (_d, ds) = open(&three_sets(), 10, [1, 8, 8]);
    let cfg = LoaderConfig {
        batch_size: 7,
        validation_fraction: 0.0,
        drop_last: true,
        ..LoaderConfig::default()
    };
    let l = Loader::new(ds, cfg).unwrap();
    assert_eq!(l.batches_per_epoch(Split::Train), 4);
    let mut e = l.epoch(Split::Train, 0);
    assert_eq!(e.len(), 4);
    let n: usize = e.by_ref().map(|b| b.len()).sum();
    assert_eq!(n, 28);
    assert_eq!((e.stats().batches, e.stats().images), (4, 28));
    drop(e);
    // An epoch dropped early stops its threads and still counts what it delivered.
    let mut e = l.epoch(Split::Train, 1);
    e.next().unwrap();
    drop(e);
    let s = l.stats();
    assert_eq!((s.batches, s.images), (5, 35));
}

#[test]
fn bad_configs_are_refused() {
    let (_d, ds) = open(&[("A", Some(0.1))], 4, [2, 4, 6]);
    let err = |cfg: LoaderConfig| Loader::new(ds.clone(), cfg).err().unwrap().to_string();
    let e = err(LoaderConfig {
        channels: Some(vec![2]),
        ..LoaderConfig::default()
    });
    assert!(
        e.contains("channel 2 selected") && e.contains("has 2 channels"),
        "{e}"
    );
    let e = err(LoaderConfig {
        augment: AugmentConfig {
            rot90: true,
            ..AugmentConfig::paper()
        },
        ..LoaderConfig::default()
    });
    assert!(e.contains("square images") && e.contains("4×6"), "{e}");
    let e = err(LoaderConfig {
        mixup: Some(MixUp {
            probability: 0.5,
            weight: 0.5,
        }),
        ..LoaderConfig::default()
    });
    assert!(e.contains("at least two sets"), "{e}");
    let e = err(LoaderConfig {
        batch_size: 0,
        ..LoaderConfig::default()
    });
    assert!(e.contains("batch_size"), "{e}");
    let e = err(LoaderConfig {
        validation_fraction: 1.0,
        ..LoaderConfig::default()
    });
    assert!(e.contains("validation_fraction"), "{e}");
}

#[test]
fn set_selection_leaves_other_sets_out_of_both_splits() {
    let d = Dir::new("loader-sets");
    make_dataset(d.path(), &three_sets(), 10, [1, 4, 4]);
    let ds = Arc::new(Dataset::open(d.path(), &OpenOptions::default()).unwrap());
    let cfg = LoaderConfig {
        sets: Some(vec![0, 2]),
        ..LoaderConfig::default()
    };
    let l = Loader::new(ds.clone(), cfg).unwrap();
    for split in [Split::Train, Split::Validation] {
        assert!(l.indices(split).iter().all(|&i| ds.set_of(i) != Some(1)));
    }
    assert_eq!(
        l.indices(Split::Train).len() + l.indices(Split::Validation).len(),
        20
    );
    let bad = LoaderConfig {
        sets: Some(vec![5]),
        ..LoaderConfig::default()
    };
    assert!(Loader::new(ds, bad)
        .err()
        .unwrap()
        .to_string()
        .contains("set 5"));
}

#[test]
fn a_restreamed_loader_keeps_the_split_and_draws_its_own_orders_and_augmentations() {
    let (_d, ds) = open(&three_sets(), 20, [1, 8, 8]);
    let l = Loader::new(
        ds,
        LoaderConfig {
            batch_size: 6,
            seed: 3,
            ..LoaderConfig::default()
        },
    )
    .unwrap();
    let same = l.restreamed(3);
    let other = l.restreamed(99);
    assert_eq!(other.indices(Split::Train), l.indices(Split::Train));
    assert_eq!(
        other.indices(Split::Validation),
        l.indices(Split::Validation)
    );
    let pixels = |l: &Loader| -> Vec<Vec<f32>> {
        collect(l, Split::Train, 2)
            .iter()
            .map(|b| b.images.data().to_vec())
            .collect()
    };
    assert_eq!(
        l.epoch_order(Split::Train, 2),
        same.epoch_order(Split::Train, 2)
    );
    assert_eq!(
        pixels(&l),
        pixels(&same),
        "the config's own seed reproduces the loader"
    );
    assert_ne!(
        l.epoch_order(Split::Train, 2),
        other.epoch_order(Split::Train, 2)
    );
    // Same images, other augmentation draws: the pixels differ even image for image.
    let mut a = l.epoch_order(Split::Train, 2);
    let mut b = other.epoch_order(Split::Train, 2);
    a.sort_unstable();
    b.sort_unstable();
    assert_eq!(a, b);
    assert_ne!(pixels(&l), pixels(&other));
}
