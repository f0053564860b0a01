//! Room names and passwords from the operating system's CSPRNG: at least 80 random bits in a
//! name (lower-case, a valid JID localpart), at least 128 in a password.

use rand::rngs::OsRng;
use rand::TryRngCore;

use crate::core::pool::Secrets;

/// Random characters in a room name: 20 of 32 symbols = 100 bits.
const NAME_CHARS: usize = 20;
/// Random characters in a password: 26 of 32 symbols = 130 bits.
const PASSWORD_CHARS: usize = 26;
/// Lower-case base32: valid in a JID localpart and easy to read aloud.
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// `n` random characters of [`ALPHABET`] from the operating system's CSPRNG.
fn random_text(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    OsRng
        .try_fill_bytes(&mut bytes)
        .expect("the operating system's random number generator failed");
    // 256 is a multiple of 32, so taking the low five bits keeps every symbol equally likely.
    bytes
        .iter()
        .map(|b| ALPHABET[(b & 31) as usize] as char)
        .collect()
}

/// A fresh room name `<prefix>-<100 random bits>`.
pub fn new_room_name(prefix: &str) -> String {
    format!("{prefix}-{}", random_text(NAME_CHARS))
}

/// A fresh room password of 130 random bits.
pub fn new_password() -> String {
    random_text(PASSWORD_CHARS)
}

/// Names and passwords from the operating system's CSPRNG.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsSecrets;

impl Secrets for OsSecrets {
    fn room_name(&mut self, prefix: &str) -> String {
        new_room_name(prefix)
    }

    fn password(&mut self) -> String {
        new_password()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use xmpp_parsers::jid::BareJid;

    #[test]
    fn names_are_valid_localparts_and_unique() {
        let names: HashSet<String> = (0..10_000).map(|_| new_room_name("helpim")).collect();
        assert_eq!(names.len(), 10_000);
        for n in names.iter().take(100) {
            assert!(n.starts_with("helpim-"));
            assert_eq!(n.len(), "helpim-".len() + NAME_CHARS);
            assert!(BareJid::new(&format!("{n}@conference.localhost")).is_ok());
            assert!(n
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
        }
    }

    #[test]
    fn passwords_have_at_least_128_bits() {
        let p = new_password();
        // 32 symbols = 5 bits each.
        assert!(p.len() * 5 >= 128, "{}", p.len());
        assert_ne!(p, new_password());
    }

    #[test]
    fn symbols_are_spread_evenly() {
        let text = random_text(64_000);
        let mut counts = [0usize; 32];
        for b in text.bytes() {
            counts[ALPHABET.iter().position(|a| *a == b).unwrap()] += 1;
        }
        // 2000 expected each; a biased mapping would put some far off.
        assert!(
            counts.iter().all(|c| (1700..2300).contains(c)),
            "{counts:?}"
        );
    }
}
