//! Pull progress in exactly the shape of Docker's JSON progress messages
//! (`jsonmessage.JSONMessage`), so the daemon can stream them to clients unchanged.

use serde::{Deserialize, Serialize};

/// `progressDetail`: `{}` for status-only layer events, `{current,total}` for transfers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressDetail {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
}

/// `errorDetail` of the final error message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<i64>,
    pub message: String,
}

/// One Docker JSON progress message. Field order matches Docker's output.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(
        rename = "progressDetail",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub progress_detail: Option<ProgressDetail>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(
        rename = "errorDetail",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub error_detail: Option<ErrorDetail>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Docker shows layers by the first 12 hex digits of their (compressed) digest.
pub fn short_id(digest: &str) -> String {
    let hex = digest.split_once(':').map_or(digest, |(_, h)| h);
    hex.chars().take(12).collect()
}

impl Progress {
    /// A message with only `status` (e.g. `Digest: sha256:…`, `Status: …`).
    pub fn status(status: impl Into<String>) -> Self {
        Progress {
            status: Some(status.into()),
            ..Default::default()
        }
    }

    /// `{"status":"Pulling from library/busybox","id":"latest"}`
    pub fn pulling_from(repository: &str, tag_or_digest: &str) -> Self {
        Progress {
            status: Some(format!("Pulling from {repository}")),
            id: Some(tag_or_digest.to_string()),
            ..Default::default()
        }
    }

    /// The last line of a pull: `Status: Downloaded newer image for NAME` when the pull
    /// created or moved a reference (`newer`), `Status: Image is up to date for NAME` when
    /// every reference already pointed where it points now.
    pub fn pull_status(name: &str, newer: bool) -> Self {
        Progress::status(if newer {
            format!("Status: Downloaded newer image for {name}")
        } else {
            format!("Status: Image is up to date for {name}")
        })
    }

    /// A layer event with an empty `progressDetail` (`Pulling fs layer`, `Verifying Checksum`,
    /// `Download complete`, `Pull complete`, `Already exists`, `Waiting`).
    pub fn layer(status: &str, id: &str) -> Self {
        Progress {
            status: Some(status.to_string()),
            progress_detail: Some(ProgressDetail::default()),
            id: Some(id.to_string()),
            ..Default::default()
        }
    }

    /// A byte-count event (`Downloading`, `Extracting`) with Docker's progress bar text.
    pub fn transfer(status: &str, id: &str, current: u64, total: u64) -> Self {
        let bar = progress_bar(current, total);
        Progress {
            status: Some(status.to_string()),
            progress_detail: Some(ProgressDetail {
                current: Some(current),
                total: (total > 0).then_some(total),
            }),
            progress: (!bar.is_empty()).then_some(bar),
            id: Some(id.to_string()),
            ..Default::default()
        }
    }

    /// The final error message: `{"errorDetail":{"message":m},"error":m}`.
    pub fn error(message: impl Into<String>) -> Self {
        let message = message.into();
        Progress {
            error_detail: Some(ErrorDetail {
                code: None,
                message: message.clone(),
            }),
            error: Some(message),
            ..Default::default()
        }
    }

    /// Serialises to one JSON line (without the trailing newline).
    pub fn to_json(&self) -> String {
        // A struct of strings and integers cannot fail to serialise.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Docker's `JSONProgress.String()` at its server-side width (200 columns): a 50-wide
/// bar then `current/total` in decimal units, e.g. `[==>   ]  1.2MB/3.4MB`.
pub fn progress_bar(current: u64, total: u64) -> String {
    if total == 0 {
        return if current == 0 {
            String::new()
        } else {
            format!("{:>8}", human_size(current))
        };
    }
    let pct = ((current as f64 / total as f64 * 100.0) as u64 / 2).min(50) as usize;
    let bar = format!("[{}>{}] ", "=".repeat(pct), " ".repeat(50 - pct));
    let numbers = if current > total {
        String::new()
    } else {
        format!("{:>8}/{}", human_size(current), human_size(total))
    };
    bar + &numbers
}

/// go-units `HumanSize`: decimal units with 4 significant digits (`%.4g`).
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1000.0 && i < UNITS.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    format!("{}{}", format_g4(v), UNITS[i])
}

/// `%.4g` for 0 <= v < 1000: four significant digits, trailing zeros trimmed.
fn format_g4(v: f64) -> String {
    if v == 0.0 {
        return "0".to_string();
    }
    let exp = v.abs().log10().floor() as i32;
    let decimals = (3 - exp).max(0) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_match_docker() {
        assert_eq!(
            Progress::pulling_from("library/busybox", "latest").to_json(),
            r#"{"status":"Pulling from library/busybox","id":"latest"}"#
        );
        assert_eq!(
            Progress::layer("Pulling fs layer", "0123456789ab").to_json(),
            r#"{"status":"Pulling fs layer","progressDetail":{},"id":"0123456789ab"}"#
        );
        assert_eq!(
            Progress::status("Digest: sha256:abc").to_json(),
            r#"{"status":"Digest: sha256:abc"}"#
        );
        assert_eq!(
            Progress::error("boom").to_json(),
            r#"{"errorDetail":{"message":"boom"},"error":"boom"}"#
        );
        let d = Progress::transfer("Downloading", "0123456789ab", 1_200_000, 3_400_000);
        assert_eq!(
            d.to_json(),
            format!(
                r#"{{"status":"Downloading","progressDetail":{{"current":1200000,"total":3400000}},"progress":"[{}>{}]    1.2MB/3.4MB","id":"0123456789ab"}}"#,
                "=".repeat(17),
                " ".repeat(33)
            )
        );
    }

    #[test]
    fn round_trips() {
        let p = Progress::transfer("Extracting", "abc", 5, 10);
        let back: Progress = serde_json::from_str(&p.to_json()).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(512), "512B");
        assert_eq!(human_size(1000), "1kB");
        assert_eq!(human_size(2_229_000), "2.229MB");
        assert_eq!(human_size(2_228_999), "2.229MB");
        assert_eq!(human_size(32_500), "32.5kB");
        assert_eq!(human_size(123_456_789), "123.5MB");
    }

    #[test]
    fn full_bar() {
        let b = progress_bar(10, 10);
        assert!(b.starts_with(&format!("[{}>] ", "=".repeat(50))), "{b}");
        assert!(b.ends_with("10B/10B"));
        assert_eq!(short_id("sha256:0123456789abcdef"), "0123456789ab");
    }
}
