//! The numbers behind the `dcc inspect` mosaic (drawn by `report::mosaic`): each map
//! log-stretched over three decades below its maximum.

/// Log stretch over three decades below the plane's maximum: max → 1, max/1000 → 0.
pub fn log_stretch(plane: &[f32]) -> Vec<f32> {
    let max = plane.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if !(max > 0.0 && max.is_finite()) {
        return vec![0.0; plane.len()];
    }
    plane
        .iter()
        .map(|&v| (((v / max).max(1e-3)).log10() + 3.0) / 3.0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_stretch_maps_three_decades_to_unit_range() {
        let t = log_stretch(&[10.0, 1.0, 0.1, 0.01, 0.0, -5.0]);
        let expect = [1.0, 2.0 / 3.0, 1.0 / 3.0, 0.0, 0.0, 0.0];
        for (a, b) in t.iter().zip(expect) {
            assert!((a - b).abs() < 1e-6, "{t:?}");
        }
        assert_eq!(log_stretch(&[0.0, 0.0]), vec![0.0, 0.0]);
    }
}
