//! Who is there: staff members come on and off duty by presence (directed at the bot, or their
//! ordinary presence once the bot is in their roster: it approves their subscription request and
//! asks for theirs; anyone else's is refused); a visitor whose
//! session ends leaves the queue at once; a supervisor's watches end with their session; after a
//! new session, the staff sessions present before are pinged, and one that bounces is gone.

use xmpp_parsers::jid::{BareJid, FullJid};
use xmpp_parsers::presence::Type as PresenceType;

use super::{probe, Lent, Protocol};
use crate::core::effects::Write;
use crate::core::outbox::Outbox;
use crate::xmpp::stanza::{self, PresenceKind, RoomPresence};

impl Protocol {
    /// A presence someone sent to the bot itself.
    pub fn on_direct_presence(&mut self, p: RoomPresence, lent: &mut Lent) {
        if p.kind == PresenceKind::Subscribe {
            return subscription_asked(&p.room, lent);
        }
        let Ok(full) = p.room.with_resource_str(&p.nick) else {
            return;
        };
        let bare = p.room.to_string();
        match p.kind {
            PresenceKind::Available => {
                if lent.settings.staff.allows(&bare) {
                    if self.staff_present.insert(full.clone()) {
                        tracing::info!(staff = %bare, "a staff member is on duty");
                    }
                    // Every directed presence (a console signing in) gets the shift at once.
                    self.shift_arrived(full, lent.out, lent.now);
                }
            }
            PresenceKind::Unavailable => {
                if self.staff_present.remove(&full) {
                    tracing::info!(staff = %bare, "a staff member's session went off duty");
                    self.shift_left(&full);
                }
                self.watcher_gone(&full);
                if lent.settings.visitors.allows(&bare) {
                    lent.out.write(Write::VisitorGone {
                        visitor: full.to_string(),
                    });
                }
            }
            PresenceKind::Error(_) | PresenceKind::Subscribe => {}
        }
    }

    /// After a new session: each staff session present before is pinged, and the waiting
    /// visitors are pinged after the next sweep (their end may have gone unseen).
    pub fn session_started(&mut self, out: &mut Outbox) {
        self.probe = true;
        let present: Vec<FullJid> = self.staff_present.iter().cloned().collect();
        for jid in present {
            probe(out, jid);
        }
    }

    /// A probed session bounced: a staff member is off duty, a waiting visitor has left.
    pub fn session_gone(&mut self, jid: &FullJid, condition: &str, out: &mut Outbox) {
        self.watcher_gone(jid);
        if self.staff_present.remove(jid) {
            tracing::info!(staff = %jid, %condition, "a staff member's session is gone");
            self.shift_left(jid);
        } else {
            tracing::info!(%condition, "a waiting visitor's session is gone");
            tracing::debug!(visitor = %jid, "the session gone");
            out.write(Write::VisitorGone {
                visitor: jid.to_string(),
            });
        }
    }
}

/// `from` asks to see the bot's presence. A staff member is approved and asked for theirs in
/// turn, so that their client's ordinary presence reaches the bot and puts them on duty (what a
/// standard client sends; README, "Standard clients as the staff console"). Anyone else is
/// refused: a visitor's presence in the bot's roster would tell them nothing and cost a roster
/// entry each.
fn subscription_asked(from: &BareJid, lent: &mut Lent) {
    let bare = from.to_string();
    let staff = &lent.settings.staff;
    if staff.allows(&bare) || staff.supervises(&bare) {
        tracing::info!(staff = %bare, "a staff member asked for the bot's presence: approved, and theirs asked for");
        lent.out
            .send(stanza::subscription(from, PresenceType::Subscribed));
        lent.out
            .send(stanza::subscription(from, PresenceType::Subscribe));
    } else {
        tracing::warn!(target: "helpim_bot::security", domain = %from.domain(), "refusing a subscription request from someone who is not staff");
        lent.out
            .send(stanza::subscription(from, PresenceType::Unsubscribed));
    }
}
