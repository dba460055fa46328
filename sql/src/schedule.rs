//! Refresh schedules of materialised views: `WITH (refresh = '…')`.
//!
//! Two forms:
//! * `every N unit` — `unit` one of second(s), minute(s), hour(s), day(s), week(s)
//!   (also `hourly`, `daily`, `weekly`);
//! * a cron expression, in UTC: five fields (`minute hour day-of-month month day-of-week`, as
//!   crontab) or six/seven with seconds first (and a year last), parsed by the `cron` crate.

use std::str::FromStr;

use chrono::{DateTime, Utc};

/// A parsed schedule.
#[derive(Debug, Clone)]
pub enum Schedule {
    /// A fixed interval, in microseconds.
    Every(i64),
    /// A cron expression.
    Cron(Box<cron::Schedule>),
}

impl Schedule {
    /// Parses `text`; the error says what was expected.
    pub fn parse(text: &str) -> Result<Self, String> {
        let trimmed = text.trim().to_ascii_lowercase();
        let shorthand = match trimmed.as_str() {
            "hourly" => Some("every 1 hour"),
            "daily" => Some("every 1 day"),
            "weekly" => Some("every 1 week"),
            _ => None,
        };
        let words: Vec<&str> = shorthand.unwrap_or(&trimmed).split_whitespace().collect();
        if words.first() == Some(&"every") {
            let (count, unit) = match words.as_slice() {
                [_, unit] => (1, *unit),
                [_, count, unit] => (
                    count
                        .parse::<i64>()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| format!("'{count}' is not a positive whole number"))?,
                    *unit,
                ),
                _ => return Err("expected 'every N unit', e.g. 'every 1 hour'".into()),
            };
            let seconds = match unit.trim_end_matches('s') {
                "second" | "sec" => 1,
                "minute" | "min" => 60,
                "hour" => 3600,
                "day" => 86_400,
                "week" => 604_800,
                other => {
                    return Err(format!(
                        "unknown unit '{other}' (second, minute, hour, day or week)"
                    ));
                }
            };
            return count
                .checked_mul(seconds * 1_000_000)
                .map(Schedule::Every)
                .ok_or_else(|| "the interval is too long".to_string());
        }
        let fields = text.split_whitespace().count();
        let expression = match fields {
            5 => format!("0 {}", text.trim()),
            6 | 7 => text.trim().to_string(),
            _ => {
                return Err(
                    "expected 'every N unit' (e.g. 'every 1 hour') or a cron expression \
                     (e.g. '0 * * * *')"
                        .into(),
                );
            }
        };
        cron::Schedule::from_str(&expression)
            .map(|s| Schedule::Cron(Box::new(s)))
            .map_err(|e| format!("not a valid cron expression: {e}"))
    }

    /// The first time the schedule fires after `after_us` (µs since the epoch).
    pub fn next_after_us(&self, after_us: i64) -> Option<i64> {
        match self {
            Schedule::Every(interval) => after_us.checked_add(*interval),
            Schedule::Cron(schedule) => {
                let after: DateTime<Utc> = DateTime::from_timestamp_micros(after_us)?;
                schedule.after(&after).next().map(|t| t.timestamp_micros())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn intervals_and_cron() {
        let hour = 3_600_000_000;
        assert_eq!(
            Schedule::parse("every 1 hour").unwrap().next_after_us(0),
            Some(hour)
        );
        assert_eq!(
            Schedule::parse("Every 30 Minutes")
                .unwrap()
                .next_after_us(0),
            Some(hour / 2)
        );
        assert_eq!(
            Schedule::parse("hourly").unwrap().next_after_us(5),
            Some(hour + 5)
        );
        // Five-field crontab: at minute 0 of every hour (UTC).
        let cron = Schedule::parse("0 * * * *").unwrap();
        assert_eq!(cron.next_after_us(1), Some(hour));
        assert_eq!(cron.next_after_us(hour), Some(2 * hour));
        assert!(Schedule::parse("every 0 hours").is_err());
        assert!(Schedule::parse("every 1 fortnight").is_err());
        assert!(Schedule::parse("now and then").is_err());
        assert!(Schedule::parse("61 * * * *").is_err());
    }
}
