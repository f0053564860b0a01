//! The nouns the core shares with the store and the driver: time, a room's status and the reason
//! for a change, roles, claims, seats, the time limits, and the status change a room records.
//! They hold no behaviour beyond naming themselves: the room machine ([`super::room`]) decides.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};

/// A point in time (UTC).
pub type Time = DateTime<Utc>;

/// The status of a room, as stored in `rooms.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    /// Created and configured, free to hand to a staff member.
    Available,
    /// A staff member is inside, waiting for a client.
    Staffed,
    /// Staff member and client are chatting.
    Busy,
    /// One of the two has left; the chat is ending.
    Closing,
    /// Destroyed on the server; the row stays for history.
    Closed,
}

impl Status {
    /// Every status, in life-cycle order.
    pub const ALL: [Status; 5] = [
        Status::Available,
        Status::Staffed,
        Status::Busy,
        Status::Closing,
        Status::Closed,
    ];

    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Available => "available",
            Status::Staffed => "staffed",
            Status::Busy => "busy",
            Status::Closing => "closing",
            Status::Closed => "closed",
        }
    }

    /// Parses a name stored in the database.
    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a room changed status, as stored in `room_events.reason` (and `rooms.close_reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// The room was created and configured (the first event of every room).
    Created,
    /// The staff member joined after a staff claim.
    StaffJoined,
    /// The client joined after a client claim.
    ClientJoined,
    /// A staff claim was not acted on in time.
    ClaimTimeout,
    /// The staff member left before a client came.
    StaffLeft,
    /// One of the two left with the clean-exit status.
    LeftClean,
    /// One of the two dropped out (may come back within the grace period).
    LeftUnclean,
    /// The person who dropped out came back in time.
    Rejoined,
    /// Both have left.
    AllLeft,
    /// The room stayed `closing` too long.
    ClosingTimeout,
    /// Nobody wrote anything for too long.
    IdleTimeout,
    /// The room vanished, or the bot was kicked or lost ownership.
    Lost,
    /// The bot shut down and the room was unused.
    Shutdown,
    /// A colleague took the staff seat over from the first staff member (a handover).
    Handover,
}

impl Reason {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Created => "created",
            Reason::StaffJoined => "staff_joined",
            Reason::ClientJoined => "client_joined",
            Reason::ClaimTimeout => "claim_timeout",
            Reason::StaffLeft => "staff_left",
            Reason::LeftClean => "left_clean",
            Reason::LeftUnclean => "left_unclean",
            Reason::Rejoined => "rejoined",
            Reason::AllLeft => "all_left",
            Reason::ClosingTimeout => "closing_timeout",
            Reason::IdleTimeout => "idle_timeout",
            Reason::Lost => "lost",
            Reason::Shutdown => "shutdown",
            Reason::Handover => "handover",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The part a person plays in a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The help line's staff member.
    Staff,
    /// The visitor.
    Client,
}

impl Role {
    /// The name stored in `messages.role`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Staff => "staff",
            Role::Client => "client",
        }
    }
}

/// What a supervision row records (`supervision.kind`, docs/database.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Supervision {
    /// A supervisor began to watch a chat.
    Watch,
    /// A supervisor whispered to the staff member of a chat (the text goes to `notes`).
    Whisper,
    /// A staff member asked the supervisors for help with a chat.
    Help,
}

impl Supervision {
    /// The name stored in `supervision.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            Supervision::Watch => "watch",
            Supervision::Whisper => "whisper",
            Supervision::Help => "help",
        }
    }
}

/// Why the bot kicks somebody.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KickReason {
    /// Joined without an open claim for the next role (a security event).
    NoClaim,
    /// The room already has its staff member and client.
    ThirdPerson,
    /// The chat was closed by a timeout.
    Timeout,
    /// Came back in the seat of someone who dropped out, from another account, with no fresh
    /// claim vouching for them (a security event).
    Impostor,
}

impl KickReason {
    /// The catalog key of the text sent to the person kicked (src/i18n.rs).
    pub fn key(self) -> &'static str {
        match self {
            KickReason::NoClaim => "kick-no-claim",
            KickReason::ThirdPerson => "kick-third-person",
            KickReason::Timeout => "kick-ended",
            KickReason::Impostor => "kick-impostor",
        }
    }
}

/// When claims written by the web application were made; `None` when there is none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Claims {
    /// `rooms.staff_claimed_at`.
    pub staff_at: Option<Time>,
    /// `rooms.client_claimed_at`.
    pub client_at: Option<Time>,
}

/// The time limits of docs/room-states.md (`[timeouts]`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// A claim nobody acted on expires after this.
    pub claim: Duration,
    /// How long a person who dropped out may come back.
    pub rejoin_grace: Duration,
    /// How long a room may stay `closing`.
    pub closing: Duration,
    /// How long a `busy` room may stay silent.
    pub idle: Duration,
}

/// A person inside a room as the bot sees them: their nick and, when the room shows it to the
/// bot (it is a moderator), their real bare JID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occupant {
    /// The occupant's nick.
    pub nick: String,
    /// The occupant's real bare JID.
    pub jid: Option<String>,
}

/// A status change, to be written to `rooms` and `room_events`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The status before (`None` for the creation of the room).
    pub from: Option<Status>,
    /// The status after.
    pub to: Status,
    /// Why.
    pub reason: Reason,
    /// The person whose presence caused it, if any.
    pub nick: Option<String>,
    /// The real bare JID a role was bound to by this change (a join after a claim, or a rejoin
    /// a fresh claim vouched for), to be stored with the role.
    pub jid: Option<String>,
    /// When.
    pub at: Time,
}

/// A role taken: by whom (nick and real bare JID) and on which claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seat {
    /// The nick the person uses.
    pub nick: String,
    /// Their real bare JID; `None` for a seat restored from a row written before JIDs were kept.
    pub jid: Option<String>,
    /// The claim the seat was taken on; a later claim for the same role vouches for a new JID.
    pub claim: Option<Time>,
}

/// Why the help line is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    /// Outside the opening hours (`[hours]`).
    OutsideHours,
    /// Within the hours, but nobody is on duty.
    NoStaff,
}

impl Closed {
    /// As the protocol and `/status` say it.
    pub fn as_str(self) -> &'static str {
        match self {
            Closed::OutsideHours => "outside-hours",
            Closed::NoStaff => "no-staff",
        }
    }
}

/// Whether the help line takes new visitors now, and if not, why and when it opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineStatus {
    /// Why it is closed; `None` while open.
    pub closed: Option<Closed>,
    /// The next opening by the hours, while closed outside them.
    pub next_opening: Option<Time>,
    /// When the hours close it, while open.
    pub closes_at: Option<Time>,
}

impl LineStatus {
    /// True while new visitors are taken.
    pub fn open(&self) -> bool {
        self.closed.is_none()
    }
}
