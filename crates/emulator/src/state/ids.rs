//! Salesforce record ids: 15-character case-sensitive base-62 ids and their 18-character
//! case-insensitive form (salesforce-api.md §16).
//!
//! Invariant: every id this emulator hands out is 18 characters, starts with its object's key
//! prefix, and its last 3 characters are the checksum of the first 15.

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const SUFFIX: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";

/// The 3-character suffix of a 15-character id: one character per 5-character chunk, whose bit
/// *i* says whether the chunk's *i*-th character is an uppercase letter.
pub fn checksum(id15: &str) -> String {
    let bytes = id15.as_bytes();
    let mut out = String::with_capacity(3);
    for chunk in bytes.chunks(5).take(3) {
        let mut n = 0usize;
        for (i, b) in chunk.iter().enumerate() {
            if b.is_ascii_uppercase() {
                n |= 1 << i;
            }
        }
        out.push(SUFFIX[n] as char);
    }
    out
}

/// The 18-character form of a 15-character id.
pub fn to18(id15: &str) -> String {
    format!("{id15}{}", checksum(id15))
}

/// Builds the 15-character id for `prefix` and a sequence number: prefix, a fixed 2-character
/// "pod" part, then the number in base 62 padded to 10 characters.
pub fn make_id15(prefix: &str, seq: u64) -> String {
    let mut digits = [b'0'; 10];
    let mut n = seq;
    for slot in digits.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    let mut s = String::with_capacity(15);
    s.push_str(prefix);
    s.push_str("Kg");
    s.push_str(std::str::from_utf8(&digits).unwrap_or("0000000000"));
    s
}

/// Normalises a caller-supplied id (15 or 18 characters) to its 15-character key, checking the
/// alphabet and, for 18-character ids, the suffix (case-insensitively, as Salesforce does).
/// Returns `None` for anything that is not a well-formed id.
pub fn normalize(id: &str) -> Option<&str> {
    if !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    match id.len() {
        15 => Some(id),
        18 => {
            let (head, tail) = id.split_at(15);
            checksum(head).eq_ignore_ascii_case(tail).then_some(head)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_matches_published_vectors() {
        assert_eq!(to18("00558000001N0Ke"), "00558000001N0KeAAK");
        assert_eq!(to18("001x00000012Q9P"), "001x00000012Q9PAAU");
    }

    #[test]
    fn generated_ids_carry_prefix_and_valid_suffix() {
        let id = to18(&make_id15("00Q", 123_456));
        assert_eq!(id.len(), 18);
        assert!(id.starts_with("00QKg"));
        assert_eq!(normalize(&id), Some(&id[..15]));
    }

    #[test]
    fn malformed_ids_are_refused() {
        assert_eq!(normalize("00Q"), None);
        assert_eq!(normalize("00Q-000000000000"), None);
        assert_eq!(normalize("00558000001N0KeAAA"), None);
        assert_eq!(normalize("00558000001N0Keaak"), Some("00558000001N0Ke"));
    }
}
