//! The stanzas of the bot's own protocol (docs/protocol.md): XEP-0050 ad-hoc commands addressed
//! to the bot's JID and their data-form replies, the XEP-0030 list of commands, XEP-0249 direct
//! invitations, and the queue updates pushed to waiting visitors. xmpp-parsers 0.23 has none of
//! these (data forms aside), so they are read and built here with minidom, in one place.

use std::collections::BTreeMap;

use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::{BareJid, FullJid, Jid};
use xmpp_parsers::message::{Message, MessageType};
use xmpp_parsers::minidom::Element;
use xmpp_parsers::stanza_error::{DefinedCondition, ErrorType, StanzaError};

use super::stanza::{with_attr, NS_DATA};
use crate::i18n::Words;

/// XEP-0050 ad-hoc commands.
pub const NS_COMMANDS: &str = "http://jabber.org/protocol/commands";
/// XEP-0030 service discovery, items.
pub const NS_DISCO_ITEMS: &str = "http://jabber.org/protocol/disco#items";
/// XEP-0030 service discovery, information.
pub const NS_DISCO_INFO: &str = "http://jabber.org/protocol/disco#info";
/// XEP-0249 direct MUC invitations.
pub const NS_CONFERENCE: &str = "jabber:x:conference";
/// The bot's queue updates to waiting visitors.
pub const NS_QUEUE: &str = "urn:helpim:queue:0";
/// The namespace of `xml:lang`.
const NS_XML: &str = "http://www.w3.org/XML/1998/namespace";
/// The `FORM_TYPE` of every form the bot sends.
pub const FORM_TYPE: &str = "urn:helpim:command:0";

/// A request addressed to the bot itself rather than to a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    /// Who asks (a full JID: the answer goes back to that session).
    pub from: FullJid,
    /// The IQ's id, for the answer.
    pub id: String,
    /// The bot's session the request was sent to (the IQ's `to`), when a full JID: the list of
    /// commands names it, because clients send each command to the JID of its item.
    pub to: Option<FullJid>,
    /// What is asked.
    pub kind: IncomingKind,
}

/// What an [`Incoming`] request asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IncomingKind {
    /// XEP-0030 items of the commands node: which commands this person may run.
    ListCommands,
    /// XEP-0050: run (or continue, or cancel) a command.
    Command(CommandRequest),
}

/// An XEP-0050 `<command/>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandRequest {
    /// The command's node, e.g. `request-chat`.
    pub node: String,
    /// `execute`, `next`, `complete`, `prev` or `cancel` (absent means `execute`).
    pub action: String,
    /// The session id of a command in several steps.
    pub session: Option<String>,
    /// The values of a submitted form (`<x type='submit'>`), by field; `None` without one.
    pub fields: Option<BTreeMap<String, Vec<String>>>,
    /// The language of the request: the `<command/>`'s `xml:lang` (the IQ's own is not kept by
    /// the parser, so visitors' pages put it on the command).
    pub lang: Option<String>,
}

impl CommandRequest {
    /// The first value of field `var` of the submitted form, trimmed; `None` when empty.
    pub fn field(&self, var: &str) -> Option<&str> {
        let value = self.fields.as_ref()?.get(var)?.first()?.trim();
        (!value.is_empty()).then_some(value)
    }
}

/// Reads an IQ get or set addressed to the bot: a command, or the list of commands. `None` for
/// anything else (the session answers that itself).
pub fn read_request(iq: &Iq) -> Option<Incoming> {
    let (from, to, id, payload, set) = match iq {
        Iq::Get {
            from,
            to,
            id,
            payload,
        } => (from, to, id, payload, false),
        Iq::Set {
            from,
            to,
            id,
            payload,
        } => (from, to, id, payload, true),
        _ => return None,
    };
    let from = from.as_ref()?.try_as_full().ok()?.clone();
    let kind =
        if !set && payload.is("query", NS_DISCO_ITEMS) && payload.attr("node") == Some(NS_COMMANDS)
        {
            IncomingKind::ListCommands
        } else if set && payload.is("command", NS_COMMANDS) {
            let fields = payload
                .get_child("x", NS_DATA)
                .filter(|x| x.attr("type") == Some("submit"))
                .map(|x| {
                    x.children()
                        .filter(|f| f.is("field", NS_DATA))
                        .filter_map(|f| {
                            let values = f
                                .children()
                                .filter(|v| v.is("value", NS_DATA))
                                .map(Element::text)
                                .collect();
                            Some((f.attr("var")?.to_string(), values))
                        })
                        .collect()
                });
            IncomingKind::Command(CommandRequest {
                node: payload.attr("node")?.to_string(),
                action: payload.attr("action").unwrap_or("execute").to_string(),
                session: payload.attr("sessionid").map(str::to_string),
                fields,
                lang: payload.attr_ns(NS_XML, "lang").map(str::to_string),
            })
        } else {
            return None;
        };
    Some(Incoming {
        from,
        id: id.clone(),
        to: to.as_ref().and_then(|to| to.try_as_full().ok()).cloned(),
        kind,
    })
}

/// Where a command is after a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandStatus {
    /// Done.
    Completed,
    /// Waiting for the form to be filled in and submitted.
    Executing,
    /// Cancelled by its caller.
    Canceled,
}

/// How a note of a reply reads: `info`, `warn` or `error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteType {
    /// All went well.
    Info,
    /// Done, but not as asked (the queue is full, the help line closed).
    Warn,
    /// Refused.
    Error,
}

/// A data-form field the bot sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormField {
    /// `var`.
    pub var: String,
    /// `type`: `text-single`, `list-single`, `hidden`, `fixed`, …
    pub type_: &'static str,
    /// A label for people.
    pub label: String,
    /// The values.
    pub values: Vec<String>,
    /// For list fields: (label, value).
    pub options: Vec<(String, String)>,
    /// Whether the field must be filled in.
    pub required: bool,
}

impl FormField {
    /// A field of `type_` with one value (none when `value` is empty).
    pub fn new(var: &str, type_: &'static str, label: &str, value: &str) -> FormField {
        FormField {
            var: var.into(),
            type_,
            label: label.into(),
            values: if value.is_empty() {
                Vec::new()
            } else {
                vec![value.into()]
            },
            options: Vec::new(),
            required: false,
        }
    }

    /// The same field, required.
    pub fn required(mut self) -> FormField {
        self.required = true;
        self
    }

    /// The same field with these (label, value) options.
    pub fn options(mut self, options: Vec<(String, String)>) -> FormField {
        self.options = options;
        self
    }

    /// A choice the person must make themselves (which chat, which colleague): with several
    /// options and no value, an empty first option "Choose…", because clients (Converse.js)
    /// show a list without a value as its first option chosen, and one press of "Complete"
    /// would block or hand over the wrong chat; with one option, that one.
    pub fn choice(mut self) -> FormField {
        if self.values.is_empty() {
            match self.options.len() {
                0 => {}
                1 => self.values = vec![self.options[0].1.clone()],
                _ => self.options.insert(0, ("Choose…".into(), String::new())),
            }
        }
        self
    }
}

/// A data form: a form to fill in (`form`) or a result (`result`), optionally with a table
/// (`reported` columns and `items` rows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Form {
    /// `form` or `result`.
    pub type_: &'static str,
    /// The title.
    pub title: String,
    /// What to do, for a form to fill in.
    pub instructions: Option<String>,
    /// The fields.
    pub fields: Vec<FormField>,
    /// Column (var, label) of a table.
    pub reported: Vec<(String, String)>,
    /// Rows of a table: (var, value) each.
    pub items: Vec<Vec<(String, String)>>,
}

impl Form {
    /// A form of `type_` with a title and nothing else yet.
    pub fn new(type_: &'static str, title: &str) -> Form {
        Form {
            type_,
            title: title.into(),
            instructions: None,
            fields: Vec::new(),
            reported: Vec::new(),
            items: Vec::new(),
        }
    }

    /// Adds a field.
    pub fn field(mut self, field: FormField) -> Form {
        self.fields.push(field);
        self
    }

    /// Adds a read-only value (`text-single` in a result).
    pub fn value(self, var: &str, label: &str, value: impl ToString) -> Form {
        self.field(FormField::new(
            var,
            "text-single",
            label,
            &value.to_string(),
        ))
    }

    fn element(&self) -> Element {
        let mut x = with_attr(Element::builder("x", NS_DATA), "type", self.type_)
            .append(Element::builder("title", NS_DATA).append(self.title.clone()));
        if let Some(i) = &self.instructions {
            x = x.append(Element::builder("instructions", NS_DATA).append(i.clone()));
        }
        x = x.append(field_element(&FormField::new(
            "FORM_TYPE",
            "hidden",
            "",
            FORM_TYPE,
        )));
        for f in &self.fields {
            x = x.append(field_element(f));
        }
        if !self.reported.is_empty() {
            let mut reported = Element::builder("reported", NS_DATA);
            for (var, label) in &self.reported {
                reported = reported.append(with_attr(
                    with_attr(Element::builder("field", NS_DATA), "var", var.clone()),
                    "label",
                    label.clone(),
                ));
            }
            x = x.append(reported);
            for row in &self.items {
                let mut item = Element::builder("item", NS_DATA);
                for (var, value) in row {
                    item = item.append(
                        with_attr(Element::builder("field", NS_DATA), "var", var.clone())
                            .append(Element::builder("value", NS_DATA).append(value.clone())),
                    );
                }
                x = x.append(item);
            }
        }
        x.build()
    }
}

fn field_element(f: &FormField) -> Element {
    let mut b = with_attr(
        with_attr(Element::builder("field", NS_DATA), "var", f.var.clone()),
        "type",
        f.type_,
    );
    if !f.label.is_empty() {
        b = with_attr(b, "label", f.label.clone());
    }
    if f.required {
        b = b.append(Element::builder("required", NS_DATA));
    }
    for v in &f.values {
        b = b.append(Element::builder("value", NS_DATA).append(v.clone()));
    }
    for (label, value) in &f.options {
        b = b.append(
            with_attr(Element::builder("option", NS_DATA), "label", label.clone())
                .append(Element::builder("value", NS_DATA).append(value.clone())),
        );
    }
    b.build()
}

/// The bot's answer to a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandReply {
    /// The command's node.
    pub node: String,
    /// The session id (the caller's, or a new one).
    pub session: String,
    /// Where the command is.
    pub status: CommandStatus,
    /// Text for people.
    pub note: Option<(NoteType, String)>,
    /// The form to fill in, or the result.
    pub form: Option<Form>,
}

/// The IQ result that carries `reply` to `to`.
pub fn command_result(to: &FullJid, id: &str, reply: &CommandReply) -> Iq {
    let status = match reply.status {
        CommandStatus::Completed => "completed",
        CommandStatus::Executing => "executing",
        CommandStatus::Canceled => "canceled",
    };
    let mut command = with_attr(
        with_attr(
            with_attr(
                Element::builder("command", NS_COMMANDS),
                "node",
                reply.node.clone(),
            ),
            "sessionid",
            reply.session.clone(),
        ),
        "status",
        status,
    );
    if reply.status == CommandStatus::Executing {
        command = command.append(
            with_attr(
                Element::builder("actions", NS_COMMANDS),
                "execute",
                "complete",
            )
            .append(Element::builder("complete", NS_COMMANDS)),
        );
    }
    if let Some((kind, text)) = &reply.note {
        let kind = match kind {
            NoteType::Info => "info",
            NoteType::Warn => "warn",
            NoteType::Error => "error",
        };
        command = command.append(
            with_attr(Element::builder("note", NS_COMMANDS), "type", kind).append(text.clone()),
        );
    }
    if let Some(form) = &reply.form {
        command = command.append(form.element());
    }
    Iq::Result {
        from: None,
        to: Some(Jid::from(to.clone())),
        id: id.to_string(),
        payload: Some(command.build()),
    }
}

/// The XEP-0030 items of the commands node: the commands (node, name) `to` may run on `bot`.
/// `bot` is the bot's full JID: XEP-0050 clients (Converse.js, Gajim) send each command to the
/// JID of its item, and the server answers a command sent to the bare JID itself.
pub fn command_list(to: &FullJid, id: &str, bot: &Jid, commands: &[(&str, &str)]) -> Iq {
    let mut query = with_attr(
        Element::builder("query", NS_DISCO_ITEMS),
        "node",
        NS_COMMANDS,
    );
    for (node, name) in commands {
        query = query.append(with_attr(
            with_attr(
                with_attr(
                    Element::builder("item", NS_DISCO_ITEMS),
                    "jid",
                    bot.to_string(),
                ),
                "node",
                *node,
            ),
            "name",
            *name,
        ));
    }
    Iq::Result {
        from: None,
        to: Some(Jid::from(to.clone())),
        id: id.to_string(),
        payload: Some(query.build()),
    }
}

/// The XEP-0030 information about the bot: a bot that runs commands and answers pings.
pub fn disco_info(payload: &Element) -> Option<Element> {
    if !payload.is("query", NS_DISCO_INFO) || payload.attr("node").is_some() {
        return None;
    }
    let mut query = Element::builder("query", NS_DISCO_INFO).append(with_attr(
        with_attr(
            with_attr(
                Element::builder("identity", NS_DISCO_INFO),
                "category",
                "client",
            ),
            "type",
            "bot",
        ),
        "name",
        "helpim-bot",
    ));
    for feature in [NS_DISCO_INFO, NS_COMMANDS, super::stanza::NS_PING] {
        query = query.append(with_attr(
            Element::builder("feature", NS_DISCO_INFO),
            "var",
            feature,
        ));
    }
    Some(query.build())
}

/// An IQ error answering `id` from `to`, with a text for people in language `lang`.
pub fn error(to: &FullJid, id: &str, condition: DefinedCondition, lang: &str, text: &str) -> Iq {
    let type_ = match condition {
        DefinedCondition::BadRequest | DefinedCondition::NotAcceptable => ErrorType::Modify,
        DefinedCondition::Forbidden | DefinedCondition::NotAllowed => ErrorType::Auth,
        DefinedCondition::ResourceConstraint | DefinedCondition::InternalServerError => {
            ErrorType::Wait
        }
        _ => ErrorType::Cancel,
    };
    Iq::Error {
        from: None,
        to: Some(Jid::from(to.clone())),
        id: id.to_string(),
        error: StanzaError::new(type_, condition, lang, text),
        payload: None,
    }
}

/// An XEP-0249 direct invitation to `room`, with its password (the client joins without asking
/// the person for anything).
pub fn invitation(to: &FullJid, room: &BareJid, password: &str, reason: &str) -> Message {
    let mut m = Message::new(Some(Jid::from(to.clone())));
    m.type_ = MessageType::Normal;
    m.payloads.push(
        with_attr(
            with_attr(
                with_attr(
                    Element::builder("x", NS_CONFERENCE),
                    "jid",
                    room.to_string(),
                ),
                "password",
                password,
            ),
            "reason",
            reason,
        )
        .build(),
    );
    m
}

/// What a waiting visitor hears of their place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Place {
    /// Their place in line (1 is next).
    pub position: i64,
    /// The estimated wait in seconds, only when the recent pace makes it credible.
    pub estimate: Option<i64>,
    /// A counsellor is free and about to invite them.
    pub soon: bool,
    /// The help line closes in this many seconds (within the hours' warning).
    pub closes_in: Option<i64>,
}

/// A queue update pushed to a waiting visitor: `<queue xmlns='urn:helpim:queue:0'
/// position='…' [estimate='…'] [soon='true'] [closes-in='…']/>` and the same in `words`.
pub fn queue_update(to: &FullJid, place: &Place, words: &Words) -> Message {
    let mut m = Message::new(Some(Jid::from(to.clone())));
    m.type_ = MessageType::Headline;
    let mut x = with_attr(
        Element::builder("queue", NS_QUEUE),
        "position",
        place.position.to_string(),
    );
    if let Some(e) = place.estimate {
        x = with_attr(x, "estimate", e.to_string());
    }
    if place.soon {
        x = with_attr(x, "soon", "true");
    }
    if let Some(s) = place.closes_in {
        x = with_attr(x, "closes-in", s.to_string());
    }
    m.payloads.push(x.build());
    m.bodies
        .insert(Default::default(), place_text(words, place));
    m
}

/// A wait in words, with an honest range: "a few minutes", "about 10 minutes", "about half an
/// hour", "more than half an hour".
pub fn wait_words(words: &Words, seconds: i64) -> String {
    let minutes = (seconds + 30) / 60;
    match minutes {
        ..=5 => words.get("wait-few"),
        6..=27 => words.with(
            "wait-about",
            &[("minutes", (((minutes + 2) / 5) * 5).into())],
        ),
        28..=44 => words.get("wait-half-hour"),
        _ => words.get("wait-more"),
    }
}

/// A visitor's place in `words`.
pub fn place_text(words: &Words, place: &Place) -> String {
    let mut text = if place.soon {
        words.get("place-soon")
    } else {
        let wait = place.estimate.map(|s| wait_words(words, s));
        let key = match (place.position <= 1, &wait) {
            (true, None) => "place-next",
            (true, Some(_)) => "place-next-wait",
            (false, None) => "place-number",
            (false, Some(_)) => "place-number-wait",
        };
        words.with(
            key,
            &[
                ("position", place.position.into()),
                ("ahead", (place.position - 1).max(0).into()),
                ("wait", wait.unwrap_or_default().into()),
            ],
        )
    };
    if let Some(s) = place.closes_in {
        let minutes = (s + 59) / 60;
        text.push(' ');
        text.push_str(&words.with("place-closing", &[("minutes", minutes.into())]));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::english;
    use std::str::FromStr;

    fn parse(xml: &str) -> Iq {
        Iq::try_from(Element::from_str(xml).unwrap()).unwrap()
    }

    #[test]
    fn a_command_with_a_submitted_form_is_read_with_its_fields() {
        let iq = parse(
            "<iq xmlns='jabber:client' type='set' id='c1' from='x@anon.localhost/web' to='bot@localhost'>
               <command xmlns='http://jabber.org/protocol/commands' node='request-chat' action='complete'>
                 <x xmlns='jabber:x:data' type='submit'>
                   <field var='nick'><value> Sam </value></field>
                   <field var='topic'><value></value></field>
                 </x></command></iq>",
        );
        let r = read_request(&iq).unwrap();
        assert_eq!(r.from.to_string(), "x@anon.localhost/web");
        let IncomingKind::Command(c) = r.kind else {
            panic!("a command")
        };
        assert_eq!(
            (c.node.as_str(), c.action.as_str()),
            ("request-chat", "complete")
        );
        assert_eq!(c.field("nick"), Some("Sam"));
        assert_eq!(c.field("topic"), None);
        assert_eq!(c.field("key"), None);
        assert_eq!(c.lang, None);
    }

    #[test]
    fn the_language_of_a_command_is_its_xml_lang() {
        let iq = parse(
            "<iq xmlns='jabber:client' type='set' id='c2' from='x@anon.localhost/web' to='bot@localhost'>
               <command xmlns='http://jabber.org/protocol/commands' node='line-status' xml:lang='nl-BE'/></iq>",
        );
        let IncomingKind::Command(c) = read_request(&iq).unwrap().kind else {
            panic!("a command")
        };
        assert_eq!(c.lang.as_deref(), Some("nl-BE"));
    }

    #[test]
    fn the_commands_node_is_listed_and_other_requests_are_not_read() {
        let list = parse(
            "<iq xmlns='jabber:client' type='get' id='d1' from='a@localhost/x'>
               <query xmlns='http://jabber.org/protocol/disco#items' node='http://jabber.org/protocol/commands'/></iq>",
        );
        assert_eq!(
            read_request(&list).unwrap().kind,
            IncomingKind::ListCommands
        );
        let other = parse(
            "<iq xmlns='jabber:client' type='get' id='d2' from='a@localhost/x'>
               <query xmlns='http://jabber.org/protocol/disco#items'/></iq>",
        );
        assert_eq!(read_request(&other), None);
        let bare = parse(
            "<iq xmlns='jabber:client' type='set' id='d3' from='a@localhost'>
               <command xmlns='http://jabber.org/protocol/commands' node='status'/></iq>",
        );
        assert_eq!(
            read_request(&bare),
            None,
            "an answer needs a session to go to"
        );
    }

    #[test]
    fn an_invitation_carries_the_room_and_its_password() {
        let to = FullJid::from_str("v@anon.localhost/web").unwrap();
        let room = BareJid::from_str("helpim-1@conference.localhost").unwrap();
        let xml = String::from(&Element::from(invitation(
            &to,
            &room,
            "s3cret",
            "Your chat",
        )));
        assert!(xml.contains("<x xmlns='jabber:x:conference' jid='helpim-1@conference.localhost' password='s3cret' reason='Your chat'/>"), "{xml}");
    }

    #[test]
    fn a_queue_update_has_the_place_and_the_wait_in_words() {
        let to = FullJid::from_str("v@anon.localhost/web").unwrap();
        let place = Place {
            position: 3,
            estimate: Some(600),
            ..Place::default()
        };
        let xml = String::from(&Element::from(queue_update(&to, &place, &english())));
        assert!(
            xml.contains("<queue xmlns='urn:helpim:queue:0' estimate='600' position='3'/>"),
            "{xml}"
        );
        assert!(
            xml.contains("You are number 3 in the queue (estimated wait: about 10 minutes)."),
            "{xml}"
        );
        let next = Place {
            position: 1,
            ..Place::default()
        };
        assert_eq!(place_text(&english(), &next), "You are next in the queue.");
        let soon = Place { soon: true, ..next };
        assert_eq!(
            place_text(&english(), &soon),
            "A counsellor is free and about to join you."
        );
        let closing = Place {
            closes_in: Some(540),
            ..next
        };
        assert!(place_text(&english(), &closing)
            .ends_with("closes in 9 minutes; you will still be helped."));
    }

    #[test]
    fn a_choice_of_several_starts_unchosen_and_a_choice_of_one_is_made() {
        let option = |n: &str| (n.to_string(), format!("room-{n}@conference.localhost"));
        let several = FormField::new("room", "list-single", "Chat", "")
            .options(vec![option("Ana"), option("Ben")])
            .choice();
        assert_eq!(several.values, Vec::<String>::new());
        assert_eq!(several.options[0], ("Choose…".to_string(), String::new()));
        assert_eq!(several.options.len(), 3);
        let one = FormField::new("room", "list-single", "Chat", "")
            .options(vec![option("Ana")])
            .choice();
        assert_eq!(one.values, ["room-Ana@conference.localhost"]);
        assert_eq!(one.options.len(), 1);
        // A value already there (the form shown again) is kept, with no empty option added.
        let kept = FormField::new(
            "room",
            "list-single",
            "Chat",
            "room-Ben@conference.localhost",
        )
        .options(vec![option("Ana"), option("Ben")])
        .choice();
        assert_eq!(kept.options.len(), 2);
    }

    #[test]
    fn waits_are_worded_in_honest_ranges() {
        let words: Vec<String> = [60, 290, 420, 600, 1500, 1700, 2600, 2800, 7200]
            .into_iter()
            .map(|s| wait_words(&english(), s))
            .collect();
        assert_eq!(
            words,
            [
                "a few minutes",
                "a few minutes",
                "about 5 minutes",
                "about 10 minutes",
                "about 25 minutes",
                "about half an hour",
                "about half an hour",
                "more than half an hour",
                "more than half an hour",
            ]
        );
    }
}
