//! LEGEND's file naming convention:
//! `tier/{tier}/{datatype}/{period}/{run}/{exp}-{period}-{run}-{datatype}-{timestamp}-tier_{tier}.lh5`.
//!
//! The file name alone carries every key (the folders repeat them), so a file matching
//! `{exp}-{period}-{run}-{datatype}-{timestamp}-tier_{tier}.lh5` is recognised wherever it
//! lies; [`PARTITION_COLUMNS`] are the keys that become partition columns.

/// The partition columns LEGEND file names provide, in table order.
pub const PARTITION_COLUMNS: [&str; 4] = ["period", "run", "datatype", "timestamp"];

/// The keys of one LEGEND file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegendName {
    /// Experiment (`l200`).
    pub exp: String,
    /// Period (`p03`).
    pub period: String,
    /// Run (`r001`).
    pub run: String,
    /// Data type (`cal`, `phy`, `ath`, …).
    pub datatype: String,
    /// Start timestamp (`20230318T012144Z`).
    pub timestamp: String,
    /// Tier (`raw`, `dsp`, `hit`, `tcm`, `evt`, …).
    pub tier: String,
}

impl LegendName {
    /// Parses a file name (or a path: only its last segment is read).
    pub fn parse(path: &str) -> Option<LegendName> {
        let file = path.rsplit('/').next()?;
        let stem = file.strip_suffix(".lh5")?;
        let (keys, tier) = stem.rsplit_once("-tier_")?;
        let parts: Vec<&str> = keys.split('-').collect();
        let [exp, period, run, datatype, timestamp] = parts.as_slice() else {
            return None;
        };
        let ok =
            |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        let period_ok = period
            .strip_prefix('p')
            .is_some_and(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()));
        let run_ok = run
            .strip_prefix('r')
            .is_some_and(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()));
        let ts_ok = timestamp.len() == 16
            && timestamp.ends_with('Z')
            && timestamp.as_bytes().get(8) == Some(&b'T');
        if !(ok(exp) && period_ok && run_ok && ok(datatype) && ts_ok && ok(tier)) {
            return None;
        }
        Some(LegendName {
            exp: (*exp).to_string(),
            period: (*period).to_string(),
            run: (*run).to_string(),
            datatype: (*datatype).to_string(),
            timestamp: (*timestamp).to_string(),
            tier: tier.to_string(),
        })
    }

    /// The partition values, in [`PARTITION_COLUMNS`] order.
    pub fn partition_values(&self) -> [&str; 4] {
        [&self.period, &self.run, &self.datatype, &self.timestamp]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_legend_names() {
        let n = LegendName::parse(
            "tier/hit/cal/p03/r001/l200-p03-r001-cal-20230318T012144Z-tier_hit.lh5",
        );
        assert_eq!(
            n,
            Some(LegendName {
                exp: "l200".into(),
                period: "p03".into(),
                run: "r001".into(),
                datatype: "cal".into(),
                timestamp: "20230318T012144Z".into(),
                tier: "hit".into(),
            })
        );
        for bad in [
            "hpge-drift-time-maps.lh5",
            "l200-p03-r001-cal-20230318T012144Z-tier_hit.root",
            "l200-x03-r001-cal-20230318T012144Z-tier_hit.lh5",
            "l200-p03-r001-cal-2023-tier_hit.lh5",
            "L200-comm-20211130-phy-spms.lh5",
        ] {
            assert_eq!(LegendName::parse(bad), None, "{bad}");
        }
    }
}
