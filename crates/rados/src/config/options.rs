//! Option values: durations (`secs` options), floats, unsigned integers, connection mode
//! lists, and the defaults of the options the client uses (src/common/options/*.yaml.in).

use std::time::Duration;

use msgr2::{CompressionMode, CompressionSettings, ConMode};

use crate::error::ConfigError;

/// `client_mount_timeout`: 5 minutes (librados passes it to `MonClient::authenticate`).
pub const DEFAULT_MOUNT_TIMEOUT: Duration = Duration::from_secs(300);
/// `mon_client_hunt_interval`: 3 s.
pub const DEFAULT_HUNT_INTERVAL: f64 = 3.0;
/// `mon_client_hunt_parallel`: 3.
pub const DEFAULT_HUNT_PARALLEL: usize = 3;
/// `mon_client_hunt_interval_backoff`: 1.5.
pub const DEFAULT_HUNT_BACKOFF: f64 = 1.5;
/// `mon_client_hunt_interval_min_multiple`: 1.
pub const DEFAULT_HUNT_MIN_MULTIPLE: f64 = 1.0;
/// `mon_client_hunt_interval_max_multiple`: 10.
pub const DEFAULT_HUNT_MAX_MULTIPLE: f64 = 10.0;
/// `mon_client_ping_interval`: 10 s.
pub const DEFAULT_PING_INTERVAL: f64 = 10.0;
/// `mon_client_ping_timeout`: 30 s.
pub const DEFAULT_PING_TIMEOUT: f64 = 30.0;
/// `ms_client_mode`: crc preferred (OSD and MGR connections).
pub const DEFAULT_CLIENT_MODE: &str = "crc secure";
/// `ms_mon_client_mode`: secure preferred (monitor connections).
pub const DEFAULT_MON_CLIENT_MODE: &str = "secure crc";

fn invalid(option: &str, value: &str) -> ConfigError {
    ConfigError::InvalidOption {
        option: option.to_owned(),
        value: value.to_owned(),
    }
}

/// A `secs` option (`client_mount_timeout = 300`, `5m`, `5 min`, `1.5h`, `5_min`). Zero is
/// allowed (several options read it as "no limit").
pub fn parse_duration(option: &str, value: &str) -> Result<Duration, ConfigError> {
    let v = value.trim();
    let split = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(v.len());
    let (number, unit) = v.split_at(split);
    let number: f64 = number.parse().map_err(|_| invalid(option, value))?;
    let unit = unit.trim_start_matches([' ', '_']);
    let scale = match unit {
        "" | "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
        "ms" => 0.001,
        "m" | "min" | "mins" | "minute" | "minutes" => 60.0,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3600.0,
        "d" | "day" | "days" => 86400.0,
        "w" | "wk" | "week" | "weeks" => 7.0 * 86400.0,
        _ => return Err(invalid(option, value)),
    };
    Duration::try_from_secs_f64(number * scale).map_err(|_| invalid(option, value))
}

/// A non-negative `float` option.
pub fn parse_float(option: &str, value: &str) -> Result<f64, ConfigError> {
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|f| f.is_finite() && *f >= 0.0)
        .ok_or_else(|| invalid(option, value))
}

/// A `uint` option.
pub fn parse_uint(option: &str, value: &str) -> Result<u64, ConfigError> {
    value.trim().parse().map_err(|_| invalid(option, value))
}

/// A `size` option: a number with an optional binary suffix (`100M`, `100MiB`, `4K`,
/// `1G`; Ceph's `strict_iecstrtoll`). `None` if it does not parse.
pub fn parse_size(value: &str) -> Option<u64> {
    let v = value.trim();
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (number, unit) = v.split_at(split);
    let n: u64 = number.parse().ok()?;
    let unit = unit.trim().trim_end_matches('B').trim_end_matches('i');
    let shift = match unit {
        "" => 0,
        "K" | "k" => 10,
        "M" | "m" => 20,
        "G" | "g" => 30,
        "T" | "t" => 40,
        "P" | "p" => 50,
        "E" | "e" => 60,
        _ => return None,
    };
    n.checked_mul(1u64.checked_shl(shift)?)
}

/// A connection mode list (`crc secure`, `secure`, `crc,secure`), in preference order. An
/// empty list or an unknown word is refused (Ceph would then fail every connection).
pub fn parse_modes(option: &str, value: &str) -> Result<Vec<ConMode>, ConfigError> {
    let words: Vec<&str> = value
        .split([' ', ',', ';', '\t'])
        .filter(|w| !w.is_empty())
        .collect();
    let modes = ConMode::parse_list(value);
    if modes.is_empty() || modes.len() != words.len() {
        return Err(invalid(option, value));
    }
    Ok(modes)
}

/// The receive-buffer pool shared by all OSD sessions of a client: frames of 256 KiB and
/// more (4 MiB read replies) are received into up to 6 buffers / 32 MiB in total, reused
/// once the caller drops a reply; beyond that a frame gets a one-off buffer. A buffer is
/// busy from the start of its frame's receipt until the caller drops the reply; with the
/// driver yielding to the replies' receivers after each large frame, 16 reads of 4 MiB in
/// flight over 3 OSDs had at most 5 busy when a frame started (measured), so 6 rarely
/// fall back to one-off buffers (each costs ~1,000 page faults).
pub const OSD_RECV_POOL: msgr2::RecvPoolLimits = msgr2::RecvPoolLimits {
    min_frame: 256 << 10,
    max_buffers: 6,
    max_bytes: 32 << 20,
};

/// The on-wire compression asked of OSD connections (src/msg/compressor_registry.cc):
/// `ms_osd_compress_mode` (none|passive|aggressive|force, default none; an unknown mode is
/// refused), `ms_osd_compression_algorithm` (list, default `snappy`),
/// `ms_osd_compress_min_size` (default 1024), `ms_compress_secure` (default false).
pub fn parse_osd_compression<'a>(
    get: impl Fn(&str) -> Option<&'a str>,
) -> Result<CompressionSettings, ConfigError> {
    let mut s = CompressionSettings::default();
    if let Some(v) = get("ms_osd_compress_mode") {
        s.mode = CompressionMode::from_name(v.trim())
            .ok_or_else(|| invalid("ms_osd_compress_mode", v))?;
    }
    if let Some(v) = get("ms_osd_compression_algorithm") {
        s.methods = CompressionSettings::parse_methods(v);
    }
    if let Some(v) = get("ms_osd_compress_min_size") {
        s.min_size = parse_uint("ms_osd_compress_min_size", v)?;
    }
    if let Some(v) = get("ms_compress_secure") {
        s.allow_secure = match v.trim() {
            "true" | "1" | "yes" | "on" => true,
            "false" | "0" | "no" | "off" => false,
            _ => return Err(invalid("ms_compress_secure", v)),
        };
    }
    Ok(s)
}

/// Seconds as a duration, for the `float` options counted in seconds.
pub fn secs(seconds: f64) -> Duration {
    Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let d = |v| parse_duration("t", v).unwrap();
        assert_eq!(d("300"), Duration::from_secs(300));
        assert_eq!(d("5m"), Duration::from_secs(300));
        assert_eq!(d("5 min"), Duration::from_secs(300));
        assert_eq!(d("5_min"), Duration::from_secs(300));
        assert_eq!(d("1.5"), Duration::from_millis(1500));
        assert_eq!(d("2h"), Duration::from_secs(7200));
        assert_eq!(d("0"), Duration::ZERO);
        assert!(parse_duration("t", "soon").is_err());
        assert!(parse_duration("t", "5 fortnights").is_err());
        assert!(parse_duration("t", "-1").is_err());
    }

    #[test]
    fn modes_in_preference_order() {
        assert_eq!(
            parse_modes("m", DEFAULT_MON_CLIENT_MODE).unwrap(),
            [ConMode::SECURE, ConMode::CRC]
        );
        assert_eq!(
            parse_modes("m", DEFAULT_CLIENT_MODE).unwrap(),
            [ConMode::CRC, ConMode::SECURE]
        );
        assert_eq!(parse_modes("m", "secure").unwrap(), [ConMode::SECURE]);
        assert!(parse_modes("m", "").is_err());
        assert!(parse_modes("m", "crc fast").is_err());
        assert!(parse_float("f", "-1").is_err());
        assert_eq!(parse_uint("u", " 3 ").unwrap(), 3);
        assert_eq!(parse_size("100M"), Some(100 << 20));
        assert_eq!(parse_size("100_M"), None);
        assert_eq!(parse_size("4KiB"), Some(4096));
        assert_eq!(parse_size("1024"), Some(1024));
        assert_eq!(parse_size("1G"), Some(1 << 30));
        assert_eq!(parse_size("x"), None);
    }

    #[test]
    fn osd_compression_options() {
        let none = |_: &str| None;
        assert_eq!(
            parse_osd_compression(none).unwrap(),
            CompressionSettings::default()
        );
        let set = |k: &str| match k {
            "ms_osd_compress_mode" => Some("force"),
            "ms_osd_compression_algorithm" => Some("zstd lz4"),
            "ms_osd_compress_min_size" => Some("4096"),
            "ms_compress_secure" => Some("true"),
            _ => None,
        };
        let s = parse_osd_compression(set).unwrap();
        assert_eq!(s.mode, CompressionMode::Force);
        assert_eq!(
            s.methods,
            [
                msgr2::CompressionAlgorithm::Zstd,
                msgr2::CompressionAlgorithm::Lz4
            ]
        );
        assert_eq!((s.min_size, s.allow_secure), (4096, true));
        let bad = |k: &str| (k == "ms_osd_compress_mode").then_some("always");
        assert!(parse_osd_compression(bad).is_err());
    }
}
