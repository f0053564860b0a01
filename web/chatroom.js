// A chat room joined through a Session (session.js): the join with the invitation's password,
// another nick after a conflict, the peer (the other person; the bot, the room's owner, is not
// one) and their typing (XEP-0085), each message once (a rejoin's history repeats them), a clean
// leave told from a dropped connection. Nothing of the page: it hears `room.on(type, handler)`:
//   joined                                   in the room (again, after a rejoin)
//   message  { nick, text, stamp, mine, delayed }  no nick: the room's own line (the bot's);
//                                            delayed: from the room's history
//   typing   { composing }                   the peer types, or stopped
//   arrived  { nick, isNew, back, peer }     someone new, or back after a drop; peer: it is the peer
//   departed { nick, peer, clean, kicked, others }  clean: with the clean-exit status; others:
//                                            how many other people are still in the room
// The peer is the first other person in (a visitor's counsellor, a counsellor's visitor); during
// a handover a second counsellor comes in: to the visitor the first one's clean leave then hands
// the peer on to the one still there, and to the counsellor's console the colleague
// (`colleagues`: nicks told by the handover) is never the peer.
//   closed   { kicked, destroyed }           put out of the room, or the room is gone
//   failed   { condition }                   the join did not succeed

import { NS, child, childText, config, resource } from "./session.js";

const { $msg, $pres } = globalThis;

/** How often "composing" is told at most while one types. */
const COMPOSING_EVERY_MS = 5000;
/** How many other nicks are tried after a conflict: `name (2)` up to `name (4)`. */
const OTHER_NICKS = 3;

export class ChatRoom extends EventTarget {
  /** Room `jid` in `session`, as `nick`; routed to from now on (until `close()`). */
  constructor(session, jid, nick) {
    super();
    this.session = session;
    this.jid = jid;
    this.base = nick;
    this.nick = nick;
    this.password = "";
    this.tries = 0;
    /** joining, joined, or gone (left, put out, or never in). */
    this.state = "joining";
    /** The peer's nick once seen, and whether their connection dropped. */
    this.peer = "";
    this.away = false;
    /** Everyone else in the room but the bot: nick → whether their connection dropped. */
    this.occupants = new Map();
    /** Nicks of colleagues (a handover's first counsellor): never this console's peer. */
    this.colleagues = new Set();
    /** The room owner's nick (the bot), once seen. */
    this.owner = "";
    this.seen = new Set();
    this.typingSent = 0;
    session.rooms.set(jid, this);
  }

  /** Hears event `type` (see the top of this file) with `handler(detail)`. */
  on(type, handler) {
    this.addEventListener(type, (event) => handler(event.detail));
    return this;
  }

  emit(type, detail = {}) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  get joined() {
    return this.state === "joined";
  }

  /**
   * Joins, asking for up to 50 past messages. With a `password` (an invitation), as the nick
   * first asked for; without, again as before (after a dropped connection).
   */
  join(password) {
    if (password !== undefined) {
      this.password = password;
      this.nick = this.base;
      this.tries = 0;
    }
    this.state = "joining";
    const p = $pres({ to: `${this.jid}/${this.nick}` }).c("x", { xmlns: NS.muc });
    if (this.password) p.c("password").t(this.password).up();
    p.c("history", { maxstanzas: "50" });
    this.session.send(p);
  }

  /** The session's connection dropped: no longer in the room until joined again. */
  lost() {
    if (this.joined) this.state = "joining";
  }

  /** Leaves with the clean-exit status ("End chat"), unless already out; then hears no more. */
  leave() {
    if (this.state !== "gone") {
      this.session.send($pres({ to: `${this.jid}/${this.nick}`, type: "unavailable" }).c("status").t(config.cleanExit));
    }
    this.state = "gone";
    this.close();
  }

  /** Hears no more of this room (its stanzas are no longer routed here). */
  close() {
    if (this.session.rooms.get(this.jid) === this) this.session.rooms.delete(this.jid);
  }

  /** Says `text` in the room. */
  say(text) {
    const id = this.session.conn?.getUniqueId("m");
    this.session.send($msg({ to: this.jid, type: "groupchat", id }).c("body").t(text).up().c("active", { xmlns: NS.chatStates }));
    this.typingSent = 0;
  }

  /**
   * One's message box changed (`typing`: it holds text): tells the room "composing" at most
   * every 5 s, and "active" once it is emptied.
   */
  typed(typing) {
    const now = Date.now();
    if (typing ? now - this.typingSent <= COMPOSING_EVERY_MS : !this.typingSent) return;
    this.typingSent = typing ? now : 0;
    this.session.send($msg({ to: this.jid, type: "groupchat" }).c(typing ? "composing" : "active", { xmlns: NS.chatStates }));
  }

  /** A groupchat message from this room. */
  message(el) {
    if (child(el, "subject")) return;
    const nick = resource(el.getAttribute("from"));
    // The bot's word that someone who left without the clean status (a standard client) left
    // on purpose: their session still answered. Told as their clean leave, once they are away.
    const left = child(el, "left", NS.left);
    if (left && nick && nick === this.owner) {
      const who = left.getAttribute("nick");
      if (this.occupants.get(who) === true) this.departed(who, true, false);
      return;
    }
    const body = child(el, "body");
    if (!body) {
      const state = [...el.children].find((c) => c.namespaceURI === NS.chatStates);
      if (nick && nick === this.peer) this.emit("typing", { composing: state?.localName === "composing" });
      return;
    }
    const text = body.textContent;
    // Messages come again in the history after a rejoin: their id (or, failing that, sender and
    // text) recognises them, so each is told once.
    const id = el.getAttribute("id");
    const key = `${nick}\n${id || text}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    const delay = child(el, "delay", NS.delay);
    const mine = !!nick && nick === this.nick;
    if (nick && !mine) this.emit("typing", { composing: false });
    this.emit("message", { nick, text, stamp: delay ? new Date(delay.getAttribute("stamp")) : new Date(), mine, delayed: !!delay });
  }

  /** A presence from this room: one's own, an error, the bot's, or the peer's. */
  presence(el) {
    const type = el.getAttribute("type");
    const x = child(el, "x", NS.mucUser);
    if (type === "error") {
      const condition = [...(child(el, "error")?.children || [])].map((c) => c.localName)[0] || "error";
      // Someone in the room has this name (or one's old session has not left yet): another one.
      if (condition === "conflict" && this.tries < OTHER_NICKS) {
        this.tries += 1;
        this.nick = `${this.base} (${this.tries + 1})`;
        return this.join();
      }
      this.state = "gone";
      return this.emit("failed", { condition });
    }
    if (!x) return;
    const codes = [...x.children].filter((c) => c.localName === "status").map((c) => c.getAttribute("code"));
    const gone = type === "unavailable";
    const kicked = codes.includes("307") || codes.includes("301");
    const destroyed = !!child(x, "destroy");
    const nick = resource(el.getAttribute("from"));
    if (codes.includes("110")) {
      if (!gone && !this.joined) {
        this.state = "joined";
        this.emit("joined");
      } else if (gone && (kicked || destroyed)) {
        this.state = "gone";
        this.emit("closed", { kicked, destroyed });
      }
      return;
    }
    if (child(x, "item")?.getAttribute("affiliation") === "owner") {
      this.owner = nick; // the bot
      return;
    }
    if (!gone) {
      const before = this.occupants.get(nick);
      const back = (before === true) || (this.away && nick === this.peer);
      const isNew = before === undefined && nick !== this.peer;
      this.occupants.set(nick, false);
      if (!this.colleagues.has(nick) && (!this.peer || !this.occupants.has(this.peer))) this.peer = nick;
      if (nick === this.peer) this.away = false;
      this.emit("arrived", { nick, isNew, back, peer: nick === this.peer });
    } else {
      this.departed(nick, childText(el, "status") === config.cleanExit, kicked);
    }
  }

  /** `nick` left: `clean` on purpose, `kicked` put out, else their connection dropped. */
  departed(nick, clean, kicked) {
    const peer = nick === this.peer;
    if (clean || kicked) this.occupants.delete(nick);
    else this.occupants.set(nick, true);
    const others = [...this.occupants].filter(([, away]) => !away).map(([n]) => n);
    if (peer) {
      this.away = !clean && !kicked;
      this.emit("typing", { composing: false });
      // A handover: the first counsellor left cleanly, the colleague is still here.
      const next = others.find((n) => !this.colleagues.has(n));
      if ((clean || kicked) && next) this.peer = next;
    }
    this.emit("departed", { nick, peer, clean, kicked, others: others.length });
  }
}
