//! People with XMPP clients: staff members, clients, strangers, and the admin who inspects
//! the server; and the two steps of a chat that many tests take (staff in, client in).

use std::str::FromStr;
use std::time::{Duration, Instant};

use helpim_bot::store::{ClaimKind, ClaimedRoom, RoomRow, Store};
use helpim_bot::xmpp::adhoc::{NS_COMMANDS, NS_CONFERENCE, NS_QUEUE};
use helpim_bot::xmpp::stanza::NS_DATA;
use helpim_bot::xmpp::stanza::{self, RoomPresence, STATUS_SELF};
use helpim_bot::xmpp::{ConnectSettings, IqError, Joined, Session, SessionEvent};
use tokio::sync::mpsc;
use xmpp_parsers::iq::Iq;
use xmpp_parsers::jid::{BareJid, FullJid, Jid};
use xmpp_parsers::message::Message;
use xmpp_parsers::minidom::Element;
use xmpp_parsers::presence::{Presence, Type as PresenceType};

use super::{claim, wait_status, XmppServer, PASSWORD};
use helpim_bot::core::types::Status;

/// A person with an XMPP client: staff member, client, or stranger.
pub struct Person {
    pub session: Session,
    pub events: mpsc::UnboundedReceiver<SessionEvent>,
    pub user: String,
    /// The full JID the server bound (for an anonymous visitor: one it made up).
    pub jid: Jid,
}

impl Person {
    /// Logs `user` in on `prosody`.
    pub async fn connect(prosody: &XmppServer, user: &str) -> Person {
        Person::connect_as(prosody, user, "test").await
    }

    /// Logs `user` in on `prosody` with `resource` (one account, several connections).
    pub async fn connect_as(prosody: &XmppServer, user: &str, resource: &str) -> Person {
        let jid = FullJid::new(&format!("{user}@localhost/{resource}")).unwrap();
        Person::connect_jid(prosody, jid, user).await
    }

    /// A visitor: an anonymous login (SASL ANONYMOUS) on the visitors' host `anon.localhost`,
    /// with a JID the server makes up.
    pub async fn visitor(server: &XmppServer, name: &str) -> Person {
        let jid = FullJid::new("anon.localhost/web").unwrap();
        Person::connect_jid(server, jid, name).await
    }

    async fn connect_jid(prosody: &XmppServer, jid: FullJid, user: &str) -> Person {
        let settings = ConnectSettings {
            jid,
            password: PASSWORD.into(),
            server: Some(("127.0.0.1".into(), prosody.port)),
            tls: helpim_bot::config::TlsMode::Plain,
            iq_timeout: Duration::from_secs(10),
            ping_interval: Duration::from_secs(30),
        };
        let (session, mut events) = Session::start(settings);
        let deadline = Instant::now() + Duration::from_secs(10);
        let jid = loop {
            match tokio::time::timeout_at(deadline.into(), events.recv()).await {
                Ok(Some(SessionEvent::Online { jid, .. })) => break jid,
                Ok(Some(SessionEvent::ConnectFailed { error, fatal: true })) => {
                    panic!(
                        "{user} cannot log in: {error}; server log:\n{}",
                        prosody.log()
                    )
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => {
                    panic!("{user} did not get online; Prosody log:\n{}", prosody.log())
                }
            }
        };
        Person {
            session,
            events,
            user: user.into(),
            jid,
        }
    }

    /// Tells the bot this session is there (directed presence): a staff member comes on duty; a
    /// visitor's queue place then ends with the session.
    pub fn present_to_bot(&self) {
        let mut p = Presence::available();
        p.to = Some(Jid::from_str(BOT).unwrap());
        self.session.send(p);
    }

    /// Runs the bot's command `node` in one step, with a submitted form of `fields`; returns
    /// the `<command/>` of the answer, or the error's condition.
    pub async fn command(&self, node: &str, fields: &[(&str, &str)]) -> Result<Element, IqError> {
        self.command_in(None, node, fields).await
    }

    /// The commands the bot lists for this person (XEP-0030 items of the commands node, asked
    /// of the bot's full JID), as (item JID, node) pairs.
    pub async fn commands_listed(&self) -> Vec<(String, String)> {
        let iq = Iq::Get {
            from: None,
            to: Some(Jid::from_str(BOT).unwrap()),
            id: String::new(),
            payload: Element::builder("query", "http://jabber.org/protocol/disco#items")
                .attr(name("node"), NS_COMMANDS)
                .build(),
        };
        let items = self.session.iq(iq).await.unwrap().unwrap();
        items
            .children()
            .map(|i| {
                let attr = |a| i.attr(a).unwrap_or_default().to_string();
                (attr("jid"), attr("node"))
            })
            .collect()
    }

    /// [`Person::command`] in language `lang`: the `xml:lang` of the `<command/>`, as the
    /// visitor page sends it.
    pub async fn command_in(
        &self,
        lang: Option<&str>,
        node: &str,
        fields: &[(&str, &str)],
    ) -> Result<Element, IqError> {
        self.command_to(BOT, lang, node, fields).await
    }

    /// [`Person::command_in`] sent to `to` (the JID of a listed command, say).
    pub async fn command_to(
        &self,
        to: &str,
        lang: Option<&str>,
        node: &str,
        fields: &[(&str, &str)],
    ) -> Result<Element, IqError> {
        let mut command = Element::builder("command", NS_COMMANDS)
            .attr(name("node"), node)
            .attr(name("action"), "execute");
        if let Some(lang) = lang {
            command = command.attr_ns(
                xmpp_parsers::minidom::rxml::Namespace::XML,
                name("lang"),
                lang,
            );
        }
        if !fields.is_empty() {
            let mut x = Element::builder("x", NS_DATA).attr(name("type"), "submit");
            for (var, value) in fields {
                x = x.append(
                    Element::builder("field", NS_DATA)
                        .attr(name("var"), *var)
                        .append(Element::builder("value", NS_DATA).append(value.to_string())),
                );
            }
            command = command.append(x);
        }
        let iq = Iq::Set {
            from: None,
            to: Some(Jid::from_str(to).unwrap()),
            id: String::new(),
            payload: command.build(),
        };
        Ok(self
            .session
            .iq(iq)
            .await?
            .expect("a command answer has a payload"))
    }

    /// Asks the bot for a chat with `fields` (nick, key, topic) until the help line is open (a
    /// staff member's presence may still be on its way); returns the answer, which must say
    /// `queued`.
    pub async fn queue_up(&self, fields: &[(&str, &str)]) -> Element {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let answer = self.command("request-chat", fields).await.unwrap();
            match field(&answer, "status").as_deref() {
                Some("queued") => return answer,
                Some("closed") if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(20)).await
                }
                other => panic!("{} not queued: {other:?} ({})", self.user, note(&answer)),
            }
        }
    }

    /// Waits for an XEP-0249 invitation; returns the room and its password.
    pub async fn invited(&mut self) -> (String, String) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            match tokio::time::timeout_at(deadline.into(), self.events.recv()).await {
                Ok(Some(SessionEvent::OtherMessage(m))) => {
                    if let Some(x) = m.payloads.iter().find(|p| p.is("x", NS_CONFERENCE)) {
                        return (
                            x.attr("jid").unwrap().to_string(),
                            x.attr("password").unwrap_or_default().to_string(),
                        );
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => panic!("{} was never invited", self.user),
            }
        }
    }

    /// Waits for a queue update from the bot; returns the place in line and the wait estimate.
    pub async fn place_update(&mut self) -> (i64, Option<i64>) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            match tokio::time::timeout_at(deadline.into(), self.events.recv()).await {
                Ok(Some(SessionEvent::OtherMessage(m))) => {
                    if let Some(q) = m.payloads.iter().find(|p| p.is("queue", NS_QUEUE)) {
                        let position = q.attr("position").unwrap().parse().unwrap();
                        return (position, q.attr("estimate").map(|e| e.parse().unwrap()));
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => panic!("{} never heard of a new place in line", self.user),
            }
        }
    }

    /// Joins `room` as `nick` with `password`; events from before the join are dropped.
    pub async fn join(
        &mut self,
        room: &str,
        nick: &str,
        password: &str,
    ) -> Result<Joined, IqError> {
        while self.events.try_recv().is_ok() {}
        let room = BareJid::from_str(room).unwrap();
        let presence = stanza::join(&room, nick, password, None).unwrap();
        self.session.join(room, presence).await
    }

    /// Sends a groupchat message.
    pub fn say(&self, room: &str, text: &str) {
        let m = Message::groupchat(Jid::from_str(room).unwrap())
            .with_body(xmpp_parsers::message::Lang::default(), text.into());
        self.session.send(m);
    }

    /// Waits until the room echoes `body` back: the server has then handled the message, and
    /// everyone in the room got it before anything the server handles later.
    pub async fn heard(&mut self, room: &str, body: &str) {
        let room = BareJid::from_str(room).unwrap();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            match tokio::time::timeout_at(deadline.into(), self.events.recv()).await {
                Ok(Some(SessionEvent::Message(msg))) => {
                    if msg.room == room && msg.body == body {
                        return;
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => panic!("{} never heard {body:?} in {room}", self.user),
            }
        }
    }

    /// Waits for `body` from anyone in `room`; false after `limit` (for tests that count what
    /// failed rather than stop at it).
    pub async fn hears_within(&mut self, room: &str, body: &str, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(SessionEvent::Message(msg))) => {
                    if msg.room.as_str() == room && msg.body == body {
                        return true;
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => return false,
            }
        }
    }

    /// Forgets every event received so far.
    pub fn drain(&mut self) {
        while self.events.try_recv().is_ok() {}
    }

    /// Waits until `nick` is seen leaving `room`.
    pub async fn sees_leave(&mut self, room: &str, nick: &str) {
        self.sees(room, nick, stanza::PresenceKind::Unavailable, "leave")
            .await
    }

    /// Waits until `nick` is seen (re)entering `room`.
    pub async fn sees_enter(&mut self, room: &str, nick: &str) {
        self.sees(room, nick, stanza::PresenceKind::Available, "enter")
            .await
    }

    /// Waits (20 s at most) for a presence of `kind` from `room/nick`.
    async fn sees(&mut self, room: &str, nick: &str, kind: stanza::PresenceKind, what: &str) {
        let room = BareJid::from_str(room).unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match tokio::time::timeout_at(deadline.into(), self.events.recv()).await {
                Ok(Some(SessionEvent::RoomPresence(p)))
                    if p.room == room && p.nick == nick && p.kind == kind =>
                {
                    return
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => panic!("{} never saw {nick} {what} {room}", self.user),
            }
        }
    }

    /// Leaves `room` with the presence status text `status`.
    pub fn leave(&self, room: &str, nick: &str, status: &str) {
        let mut p = Presence::new(PresenceType::Unavailable);
        p.to = Some(Jid::from(
            BareJid::from_str(room)
                .unwrap()
                .with_resource_str(nick)
                .unwrap(),
        ));
        p.statuses
            .insert(xmpp_parsers::message::Lang::default(), status.into());
        self.session.send(p);
    }

    /// Leaves `room` without a status text, as a standard client (Converse.js, Gajim) does; the
    /// session stays.
    pub fn leave_without_status(&self, room: &str, nick: &str) {
        let mut p = Presence::new(PresenceType::Unavailable);
        p.to = Some(Jid::from(
            BareJid::from_str(room)
                .unwrap()
                .with_resource_str(nick)
                .unwrap(),
        ));
        self.session.send(p);
    }

    /// Waits for the room to remove this person (kick or destroy); returns that presence.
    pub async fn removed_from(&mut self, room: &str) -> RoomPresence {
        let room = BareJid::from_str(room).unwrap();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            match tokio::time::timeout_at(deadline.into(), self.events.recv()).await {
                // ejabberd's presence for a destroyed room carries no 110.
                Ok(Some(SessionEvent::RoomPresence(p)))
                    if p.room == room
                        && (p.has(STATUS_SELF) || p.destroyed)
                        && p.kind == stanza::PresenceKind::Unavailable =>
                {
                    return p
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => panic!("{} was not removed from {room}", self.user),
            }
        }
    }

    /// Waits until this person's client notices that its link is dead.
    pub async fn goes_offline(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            match tokio::time::timeout_at(deadline.into(), self.events.recv()).await {
                Ok(Some(SessionEvent::Offline)) => return,
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => panic!("{} never noticed its link was dead", self.user),
            }
        }
    }

    /// After the link was lost: waits until this person's session is online again; true when
    /// it is a new session (room presences gone), false when the stream was resumed.
    pub async fn back_online(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match tokio::time::timeout_at(deadline.into(), self.events.recv()).await {
                Ok(Some(SessionEvent::Online { fresh, .. })) => return fresh,
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => panic!("{} never came back online", self.user),
            }
        }
    }

    /// Ends the session.
    pub async fn quit(self) {
        self.session.close().await;
    }
}

/// The bot's full JID in every test: commands go to a session, not to the account (an IQ to a
/// bare JID is answered by the server itself).
pub const BOT: &str = "bot@localhost/helpim-bot";

fn name(s: &str) -> xmpp_parsers::minidom::rxml::NcName {
    xmpp_parsers::minidom::rxml::NcName::try_from(s).unwrap()
}

/// The value of field `var` in the form of a command's answer.
pub fn field(command: &Element, var: &str) -> Option<String> {
    command
        .get_child("x", NS_DATA)?
        .children()
        .find(|f| f.is("field", NS_DATA) && f.attr("var") == Some(var))?
        .get_child("value", NS_DATA)
        .map(Element::text)
}

/// The text of the note in a command's answer.
pub fn note(command: &Element) -> String {
    command
        .get_child("note", NS_COMMANDS)
        .map(Element::text)
        .unwrap_or_default()
}

/// Claims a room for `staff` as the web app does (label `claim-<nick>`) and lets them in as
/// `nick`; returns the room and its `staffed` row.
pub async fn staff_in(store: &Store, staff: &mut Person, nick: &str) -> (ClaimedRoom, RoomRow) {
    let room = claim(store, ClaimKind::Staff, &format!("claim-{nick}")).await;
    staff
        .join(&room.jid, nick, &room.password)
        .await
        .expect("staff joins");
    let row = wait_status(store, &room.jid, Status::Staffed).await;
    (room, row)
}

/// Claims the longest-waiting staffed room for `client` (label `claim-<nick>`), checks it is
/// `room`, lets them in as `nick`; returns the `busy` row.
pub async fn client_in(
    store: &Store,
    client: &mut Person,
    room: &ClaimedRoom,
    nick: &str,
) -> RoomRow {
    let c = claim(store, ClaimKind::Client, &format!("claim-{nick}")).await;
    assert_eq!(
        c.jid, room.jid,
        "the client gets the longest-waiting staffed room"
    );
    client
        .join(&c.jid, nick, &c.password)
        .await
        .expect("client joins");
    wait_status(store, &room.jid, Status::Busy).await
}
