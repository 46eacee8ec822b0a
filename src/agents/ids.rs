//! Session ids the runner chooses itself, and the UTC date that session stores need (Codex files
//! its rollouts under `YYYY/MM/DD` in UTC). A UUIDv4 is 16 bytes from the system's
//! random source (`getrandom`), shaped and formatted by the `uuid` crate.

use std::time::SystemTime;

/// The length of a hyphenated UUID (`8-4-4-4-12` hex digits).
const HYPHENATED_LEN: usize = 36;

/// A new random UUIDv4, lowercase and hyphenated. Fails only if the system's random source
/// cannot be read.
pub fn new_session_id() -> std::io::Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(format_uuid_v4(bytes))
}

/// Formats 16 random bytes as a UUIDv4 (sets the version and variant bits).
pub fn format_uuid_v4(bytes: [u8; 16]) -> String {
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .to_string()
}

/// True for the 8-4-4-4-12 hex shape (any version).
pub fn is_uuid(text: &str) -> bool {
    // `try_parse` also takes the simple, braced and URN forms; only the hyphenated one is 36 long.
    text.len() == HYPHENATED_LEN && uuid::Uuid::try_parse(text).is_ok()
}

/// `YYYY/MM/DD` of `t` in UTC, the layout of Codex's session folders.
pub fn date_path(t: SystemTime) -> String {
    crate::state::format_utc(t, time::macros::format_description!("[year]/[month]/[day]"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn uuid_v4_bits() {
        let id = format_uuid_v4([0xff; 16]);
        assert_eq!(id, "ffffffff-ffff-4fff-bfff-ffffffffffff");
        assert!(is_uuid(&id));
        let fresh = new_session_id().unwrap();
        assert!(is_uuid(&fresh));
        assert_eq!(&fresh[14..15], "4");
        assert!(!is_uuid("not-a-uuid"));
        assert!(is_uuid("0193A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B"));
        for other_form in [
            "ffffffffffff4fffbfffffffffffffff",
            "{ffffffff-ffff-4fff-bfff-ffffffffffff}",
            "urn:uuid:ffffffff-ffff-4fff-bfff-ffffffffffff",
            "ffffffff-ffff-4fff-bfff-fffffffffffg",
            "ffffffff-ffff-4fff-bfff-ffffffffffff-",
        ] {
            assert!(!is_uuid(other_form), "{other_form}");
        }
    }

    #[test]
    fn utc_dates() {
        let at = |secs: u64| UNIX_EPOCH + std::time::Duration::from_secs(secs);
        assert_eq!(date_path(at(0)), "1970/01/01");
        // 2026-11-21T09:06:59Z
        assert_eq!(date_path(at(1_795_252_019)), "2026/11/21");
        // 2024-02-29T23:59:59Z (leap day), then the next second.
        assert_eq!(date_path(at(1_709_251_199)), "2024/02/29");
        assert_eq!(date_path(at(1_709_251_200)), "2024/03/01");
    }
}
