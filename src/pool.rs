//! The pool of ready rooms: how many to create, random names and passwords, and the creation
//! procedure (join, check 201, fetch the owner form, submit it).

use rand::rngs::OsRng;
use rand::TryRngCore;
use xmpp_parsers::jid::BareJid;

use crate::xmpp::stanza::{self, RoomSettings, STATUS_CREATED};
use crate::xmpp::{IqError, Session};

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

/// How many room creations to start now.
///
/// `ready` rooms are `available` and unclaimed, `live` rooms are not `closed`; `creating` are in
/// flight. The pool wants `size` ready rooms, never more than `max_rooms` live ones, and at most
/// `parallel` creations at once.
pub fn creations_to_start(
    size: u32,
    max_rooms: u32,
    parallel: u32,
    ready: usize,
    live: usize,
    creating: usize,
) -> usize {
    let missing = (size as usize).saturating_sub(ready + creating);
    let room_left = (max_rooms as usize).saturating_sub(live + creating);
    let slots = (parallel as usize).saturating_sub(creating);
    missing.min(room_left).min(slots)
}

/// A room that was created and configured, with the bot inside as owner.
#[derive(Debug, Clone)]
pub struct CreatedRoom {
    /// The room's JID.
    pub jid: BareJid,
    /// Its password.
    pub password: String,
}

/// Why a creation failed.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// Every name tried already existed.
    #[error("{0} room names in a row already existed")]
    NamesTaken(usize),
    /// The server refused the join (e.g. `not-allowed`: the bot may not create rooms).
    #[error("joining the new room failed: {0}")]
    Join(IqError),
    /// The owner form could not be fetched or submitted.
    #[error("configuring {room} failed: {error}")]
    Configure {
        /// The room.
        room: BareJid,
        /// What went wrong.
        error: IqError,
    },
    /// The configured name does not make a JID.
    #[error("invalid room JID: {0}")]
    Jid(String),
}

/// What the creation procedure needs from the configuration.
#[derive(Debug, Clone)]
pub struct CreateSettings {
    /// The MUC service domain.
    pub service: String,
    /// The bot's nick.
    pub nick: String,
    /// Room name prefix.
    pub prefix: String,
    /// History length.
    pub history: u32,
    /// The bot's bare JID.
    pub owner: BareJid,
}

/// Creates one room: a new name, join with the password, insist on status 201, configure.
///
/// A name that already existed is left at once and another is tried: the bot never takes over a
/// room it did not create.
pub async fn create_room(
    session: &Session,
    s: &CreateSettings,
) -> Result<CreatedRoom, CreateError> {
    const ATTEMPTS: usize = 5;
    for _ in 0..ATTEMPTS {
        let jid = BareJid::new(&format!("{}@{}", new_room_name(&s.prefix), s.service))
            .map_err(|e| CreateError::Jid(e.to_string()))?;
        if let Some(created) = try_create(session, s, jid).await? {
            return Ok(created);
        }
    }
    Err(CreateError::NamesTaken(ATTEMPTS))
}

/// Creates and configures the room `jid`; `None` when it already existed (the bot left it).
pub async fn try_create(
    session: &Session,
    s: &CreateSettings,
    jid: BareJid,
) -> Result<Option<CreatedRoom>, CreateError> {
    let password = new_password();
    let join =
        stanza::join(&jid, &s.nick, &password).map_err(|e| CreateError::Jid(e.to_string()))?;
    let joined = session
        .join(jid.clone(), join)
        .await
        .map_err(CreateError::Join)?;
    if !joined.own.has(STATUS_CREATED) {
        tracing::warn!(room = %jid, "room name already existed; leaving it and trying another");
        if let Ok(leave) = stanza::leave(&jid, &s.nick) {
            session.send(leave);
        }
        return Ok(None);
    }
    configure(session, &jid, &password, s).await?;
    Ok(Some(CreatedRoom { jid, password }))
}

/// Fetches the owner form of `room` and submits the bot's settings with `password`.
pub async fn configure(
    session: &Session,
    room: &BareJid,
    password: &str,
    s: &CreateSettings,
) -> Result<(), CreateError> {
    let err = |error| CreateError::Configure {
        room: room.clone(),
        error,
    };
    let form = session
        .iq(stanza::config_request(room, String::new()))
        .await
        .map_err(err)?;
    let offered = form
        .as_ref()
        .map(stanza::offered_fields)
        .unwrap_or_default();
    if !offered.iter().any(|f| f.var == "muc#roomconfig_roomsecret") {
        tracing::warn!(room = %room, "the server's room form has no password field; relying on the password given at creation");
    }
    let settings = RoomSettings {
        password,
        history: s.history,
        owner: &s.owner,
    };
    session
        .iq(stanza::config_submit(
            room,
            String::new(),
            &offered,
            &settings,
        ))
        .await
        .map_err(err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

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

    #[test]
    fn creations_fill_to_size_within_limits() {
        // Empty pool of 5, max 100, 4 in parallel: start 4.
        assert_eq!(creations_to_start(5, 100, 4, 0, 0, 0), 4);
        // Then 1 more once those are in flight.
        assert_eq!(creations_to_start(5, 100, 8, 0, 0, 4), 1);
        // Full pool: nothing.
        assert_eq!(creations_to_start(5, 100, 4, 5, 9, 0), 0);
        // max_rooms caps live + creating.
        assert_eq!(creations_to_start(5, 10, 4, 2, 9, 0), 1);
        assert_eq!(creations_to_start(5, 10, 4, 2, 10, 0), 0);
    }
}
