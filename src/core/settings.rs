//! What the core needs to know, as plain values: the driver builds [`Settings`] from the
//! configuration file (the core never reads the configuration schema itself).

use std::sync::Arc;
use std::time::Duration;

use xmpp_parsers::jid::BareJid;

use super::types::Limits;

/// What the core needs from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The MUC service's domain.
    pub service: String,
    /// The bot's nick in every room.
    pub nick: String,
    /// The room name prefix.
    pub prefix: String,
    /// How many messages a room keeps as history.
    pub history: u32,
    /// The bot's bare JID (the only owner).
    pub owner: BareJid,
    /// The status text of a deliberate leave.
    pub clean_exit: String,
    /// The time limits of the room life cycle.
    pub limits: Limits,
    /// Ready rooms wanted.
    pub pool_size: u32,
    /// Live rooms at most.
    pub max_rooms: u32,
    /// Creations in flight at most (rejoins: four times as many).
    pub parallel_creations: u32,
    /// How long a request to the XMPP server may wait for its answer.
    pub request_timeout: Duration,
    /// How often the open claims are read.
    pub poll_interval: Duration,
    /// Whether message bodies are stored.
    pub transcripts: bool,
    /// Message bodies older than this many days are erased.
    pub keep_days: u32,
    /// Keep visitors' nicks, topics and JIDs after their chat or queue row ended
    /// (`privacy.keep_visitor_names`); otherwise the transcript names the client by role and the
    /// rest is erased when the chat or the row ends.
    pub keep_visitor_names: bool,
    /// The bot gives waiting visitors staffed rooms itself (`queue.assign = "auto"`).
    pub queue_auto: bool,
    /// A visitor who waited this long expires.
    pub max_wait: Duration,
    /// A visitor queued over SQL and not kept alive this long has left.
    pub visitor_timeout: Duration,
    /// A visitor whose session ended keeps their place this long (`queue.return_grace`).
    pub return_grace: Duration,
    /// The queue's pace is measured over this window (`queue.pace_window`).
    pub pace_window: Duration,
    /// At most this many visitors wait (`queue.max_length`).
    pub max_length: u32,
    /// In pick mode, a visitor nobody took within this long is announced again
    /// (`queue.reoffer_after`).
    pub reoffer_after: Duration,
    /// The opening hours; `None`: open whenever someone is on duty.
    pub hours: Option<crate::hours::Hours>,
    /// The questions before and after the chat (SPEC §14).
    pub questions: Arc<super::questions::Questions>,
    /// Who may use the staff commands, and how many chats each may hold.
    pub staff: Staff,
    /// Who may use the visitor commands.
    pub visitors: Visitors,
    /// The words visitors are told, in each language (loaded by the driver: `visitors.language`
    /// and `visitors.catalogs`).
    pub catalogs: Arc<crate::i18n::Catalogs>,
}

/// Who may use the staff commands, and how many chats each may hold.
#[derive(Debug, Clone, Default)]
pub struct Staff {
    /// Bare JIDs (`ann@example.org`) or whole domains (`*@staff.example.org`) of staff members.
    pub jids: Vec<String>,
    /// Open rooms a staff member may hold at once through the "take a chat" command.
    pub max_chats: u32,
    /// Bare JIDs of supervisors (`staff.supervisors`), each also a staff member.
    pub supervisors: Vec<String>,
    /// The staff room (`staff.room`), if any.
    pub room: Option<BareJid>,
}

impl Staff {
    /// True when `bare` (a bare JID) is a supervisor.
    pub fn supervises(&self, bare: &str) -> bool {
        self.supervisors
            .iter()
            .any(|s| s.eq_ignore_ascii_case(bare))
    }

    /// True when `bare` (a bare JID) is a staff member.
    pub fn allows(&self, bare: &str) -> bool {
        let domain = bare.rsplit_once('@').map_or(bare, |(_, d)| d);
        self.jids
            .iter()
            .any(|pattern| match pattern.strip_prefix("*@") {
                Some(d) => d.eq_ignore_ascii_case(domain) && bare.contains('@'),
                None => pattern.eq_ignore_ascii_case(bare),
            })
    }
}

/// Who may use the visitor commands.
#[derive(Debug, Clone, Default)]
pub struct Visitors {
    /// XMPP domains whose users may ask for a chat, typically an anonymous host.
    pub domains: Vec<String>,
}

impl Visitors {
    /// True when `bare` (a bare JID) is on a visitors' domain.
    pub fn allows(&self, bare: &str) -> bool {
        let domain = bare.rsplit_once('@').map_or(bare, |(_, d)| d);
        self.domains.iter().any(|d| d.eq_ignore_ascii_case(domain))
    }
}
