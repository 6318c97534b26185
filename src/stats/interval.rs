//! A confidence interval: the bounds and the confidence level they were
//! computed for, as stored in summaries and reports.

use serde::{Deserialize, Serialize};

/// A two-sided confidence interval `[low, high]` at confidence `level`
/// (0.95 for a 95% interval).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
    pub level: f64,
}

impl Interval {
    /// True when `x` lies within the closed interval.
    #[cfg(test)]
    pub(crate) fn contains(&self, x: f64) -> bool {
        self.low <= x && x <= self.high
    }

    /// `high - low`.
    #[cfg(test)]
    pub(crate) fn width(&self) -> f64 {
        self.high - self.low
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contains_is_closed_and_width_is_span() {
        let i = Interval {
            low: 1.0,
            high: 3.0,
            level: 0.95,
        };
        assert!(i.contains(1.0) && i.contains(3.0) && i.contains(2.0));
        assert!(!i.contains(0.999) && !i.contains(3.001));
        assert_eq!(i.width(), 2.0);
    }

    #[test]
    fn serializes_with_named_fields() {
        let i = Interval {
            low: 1.5,
            high: 2.5,
            level: 0.95,
        };
        let json = serde_json::to_string(&i).unwrap();
        assert_eq!(json, r#"{"low":1.5,"high":2.5,"level":0.95}"#);
        assert_eq!(serde_json::from_str::<Interval>(&json).unwrap(), i);
    }
}
