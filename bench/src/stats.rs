//! Figures of repeated runs: median and spread (min–max), the ratio of two medians, and the median of
//! paired runs' ratios.

/// The values of one figure over repeated runs, in its unit.
#[derive(Debug, Clone)]
pub struct Figure {
    pub values: Vec<f64>,
    pub unit: &'static str,
}

impl Figure {
    pub fn new(unit: &'static str) -> Self {
        Self {
            values: Vec::new(),
            unit,
        }
    }

    pub fn push(&mut self, value: f64) {
        self.values.push(value);
    }

    pub fn median(&self) -> f64 {
        let mut sorted = self.values.clone();
        sorted.sort_by(f64::total_cmp);
        match sorted.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => sorted[n / 2],
            n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
        }
    }

    pub fn min(&self) -> f64 {
        self.values.iter().copied().fold(f64::INFINITY, f64::min)
    }

    pub fn max(&self) -> f64 {
        self.values
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max)
    }

    /// `median unit [min–max] ×n`.
    pub fn describe(&self) -> String {
        if self.values.len() == 1 {
            return format!("{} {} (n=1)", number(self.median()), self.unit);
        }
        format!(
            "{} {} [{}–{}] n={}",
            number(self.median()),
            self.unit,
            number(self.min()),
            number(self.max()),
            self.values.len()
        )
    }
}

/// The median of the ratios of runs made side by side: the subject's `i`th run to the baseline's `i`th.
/// Steadier than the ratio of the medians when the machine's pace drifts from one pair of runs to the
/// next, as each pair shares it.
pub fn paired_ratio(subject: &Figure, baseline: &Figure) -> f64 {
    let mut ratios = Figure::new("×");
    for (s, b) in subject.values.iter().zip(&baseline.values) {
        ratios.push(s / b);
    }
    ratios.median()
}

/// The ratio of the subject's median to the baseline's.
pub fn ratio(subject: &Figure, baseline: &Figure) -> f64 {
    subject.median() / baseline.median()
}

/// The `p`-th percentile, in milliseconds, of latencies in microseconds sorted in ascending order.
pub fn percentile_ms(sorted_us: &[u64], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted_us.len() - 1) as f64).round() as usize;
    sorted_us[rank] as f64 / 1000.0
}

/// Three significant figures, without exponent notation for the magnitudes we print.
pub fn number(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude >= 100.0 {
        format!("{value:.0}")
    } else if magnitude >= 10.0 {
        format!("{value:.1}")
    } else if magnitude >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_spread_of_odd_and_even_runs() {
        let mut f = Figure::new("x");
        for v in [5.0, 1.0, 3.0] {
            f.push(v);
        }
        assert_eq!((f.median(), f.min(), f.max()), (3.0, 1.0, 5.0));
        f.push(4.0);
        assert_eq!(f.median(), 3.5);
    }
}
