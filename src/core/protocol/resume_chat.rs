//! `resume-chat` (visitors): a new session of a visitor (a refresh, a dropped link) proves itself
//! with the visitor key and is invited again to its room, within the rejoin grace. A fresh client
//! claim vouches for the new session.

use xmpp_parsers::jid::BareJid;

use super::{submitted, visitor_label, Ask, Lent, Protocol, Step};
use crate::core::effects::Query;
use crate::xmpp::adhoc::{CommandRequest, Form, FormField, NoteType};

/// Asks the store for the visitor's room, or for the key first.
pub fn start(ask: Ask, command: &CommandRequest, lent: &mut Lent) {
    let Some(key) = command.field("key") else {
        let form = Form::new("form", &ask.title())
            .field(FormField::new("key", "text-private", &ask.t("label-key"), "").required());
        let note = submitted(command).then(|| ask.t("resume-need-key"));
        return ask.form(lent.out, form, note.as_deref());
    };
    let query = Query::Resume {
        label: visitor_label(key),
        jid: ask.to.to_string(),
    };
    ask.query(lent.out, query, Step::ResumeChat);
}

/// The room of the visitor's chat, if any: the new session is invited.
pub fn answered(p: &mut Protocol, ask: Ask, room: Option<String>, lent: &mut Lent) {
    let reason = ask.t("invite-resume");
    let invited = room
        .and_then(|r| BareJid::new(&r).ok())
        .filter(|r| lent.invite(&ask.to, r, &reason));
    match invited {
        Some(room) => {
            tracing::info!(room = %room, "a visitor's new session resumes its chat");
            // The fresh claim lets the room seat the new session.
            lent.check_claims(&room);
            p.room_speaks(&room, ask.words.lang(), lent);
            let form = ask
                .result("resumed")
                .value("room", &ask.t("label-room"), &room);
            let text = ask.t("resumed");
            ask.done(lent.out, NoteType::Info, &text, form)
        }
        None => {
            let text = ask.t("resume-none");
            ask.outcome(lent.out, NoteType::Warn, &text, "none")
        }
    }
}
