//! Configuration from environment variables, each named in `template.yaml` and read in one place.

/// A required variable is missing or unusable; the function cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// Reads a variable that must be set and non-empty.
pub fn required(name: &'static str) -> Result<String, ConfigError> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => Ok(v),
        _ => Err(ConfigError::Missing(name)),
    }
}

/// A comma-separated list (lower-cased, blanks dropped); empty when the variable is unset, as
/// an optional parameter left at its default leaves it.
pub fn list(name: &'static str) -> Vec<String> {
    std::env::var(name)
        .unwrap_or_default()
        .split(',')
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect()
}

/// The variable naming the cursor signing key's secret.
pub const CURSOR_SIGNING_KEY_SECRET_ARN: &str = "CURSOR_SIGNING_KEY_SECRET_ARN";

/// The key that signs list cursors, so a tampered cursor is refused: the secret named by
/// `CURSOR_SIGNING_KEY_SECRET_ARN` (the stack generates it), at least 32 bytes.
pub async fn cursor_signing_key() -> Result<Vec<u8>, ConfigError> {
    let key = crate::secrets::secret_string(CURSOR_SIGNING_KEY_SECRET_ARN).await?;
    signing_key(key)
}

fn signing_key(key: String) -> Result<Vec<u8>, ConfigError> {
    if key.len() < 32 {
        return Err(ConfigError::Invalid {
            name: CURSOR_SIGNING_KEY_SECRET_ARN,
            reason: "the secret must be at least 32 bytes".to_string(),
        });
    }
    Ok(key.into_bytes())
}

/// How long one sweep invocation keeps sweeping (`SWEEP_WINDOW_SECONDS`, default 50: sweeps at
/// 0, 10, 20, 30, 40 and 50 s of each minute, so a reminder waits at most 10 s for a sweep; 0
/// sweeps once, for the local cloud's faster schedule).
pub fn sweep_window() -> Result<std::time::Duration, ConfigError> {
    seconds("SWEEP_WINDOW_SECONDS", 50, 0..=u64::MAX)
}

/// The longest a sending channel waits before trying a failing far end again
/// (`CHANNEL_MAX_BACKOFF_SECONDS`, default 60; the wait doubles from a second up to it).
pub fn channel_max_backoff() -> Result<std::time::Duration, ConfigError> {
    seconds("CHANNEL_MAX_BACKOFF_SECONDS", 60, 1..=840)
}

/// The most worker invocations one reminder sweep hands a burst to (`SWEEP_WORKERS`, default
/// 0: the sweep sweeps alone), and the function they run (`SWEEP_WORKER_FUNCTION`, required
/// when there are any).
pub fn sweep_workers() -> Result<(usize, Option<String>), ConfigError> {
    let workers = whole("SWEEP_WORKERS", 0, 0..=128, "workers")?;
    let function = match workers {
        0 => None,
        _ => Some(required("SWEEP_WORKER_FUNCTION")?),
    };
    Ok((workers as usize, function))
}

/// The most reminders one sweep records itself before it hands them to workers
/// (`SWEEP_ALONE_UP_TO`, default 1,000: about what a 128 MB sweep records in 10 s).
pub fn sweep_alone_up_to() -> Result<usize, ConfigError> {
    Ok(whole("SWEEP_ALONE_UP_TO", 1_000, 1..=1_000_000, "reminders")? as usize)
}

/// A whole number of seconds from `name`, `default` when unset, within `range`.
fn seconds(
    name: &'static str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<std::time::Duration, ConfigError> {
    whole(name, default, range, "seconds").map(std::time::Duration::from_secs)
}

/// A whole number of `unit` from `name`, `default` when unset, within `range`.
fn whole(
    name: &'static str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
    unit: &str,
) -> Result<u64, ConfigError> {
    parse_whole(
        name,
        std::env::var(name).ok().as_deref(),
        default,
        range,
        unit,
    )
}

/// [`whole`] of the variable's value, `None` when it is unset.
fn parse_whole(
    name: &'static str,
    value: Option<&str>,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
    unit: &str,
) -> Result<u64, ConfigError> {
    let value = match value {
        None => default,
        Some(v) => v.trim().parse().map_err(|_| ConfigError::Invalid {
            name,
            reason: format!("a whole number of {unit}"),
        })?,
    };
    if !range.contains(&value) {
        return Err(ConfigError::Invalid {
            name,
            reason: format!("{}-{} {unit}", range.start(), range.end()),
        });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_whole_number_is_refused_when_it_is_not_one_or_out_of_its_range() {
        let workers = |v| parse_whole("SWEEP_WORKERS", v, 0, 0..=128, "workers");
        assert_eq!(workers(None).unwrap(), 0, "unset: the default");
        assert_eq!(workers(Some(" 8 ")).unwrap(), 8);
        for bad in ["eight", "-1", "129", "", "1e3", "18446744073709551616"] {
            let e = workers(Some(bad)).unwrap_err().to_string();
            assert!(e.contains("SWEEP_WORKERS"), "{bad}: {e}");
        }
    }

    #[test]
    fn a_signing_key_needs_32_bytes() {
        assert!(signing_key("k".repeat(31)).is_err());
        assert_eq!(signing_key("k".repeat(32)).unwrap().len(), 32);
    }
}
