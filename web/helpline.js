// What the visitor page and the staff console share: one XMPP session over WebSocket
// (strophe.js), the bot's ad-hoc commands and their data forms (docs/protocol.md), invitations,
// chat rooms, and the few DOM helpers both pages use.

const { Strophe, $iq, $msg, $pres } = globalThis;

/** The help line's settings (config.js). */
export const config = globalThis.HELPIM_CONFIG;

/** The namespaces the pages read and write. */
export const NS = {
  commands: "http://jabber.org/protocol/commands",
  data: "jabber:x:data",
  conference: "jabber:x:conference",
  queue: "urn:helpim:queue:0",
  muc: "http://jabber.org/protocol/muc",
  mucUser: "http://jabber.org/protocol/muc#user",
  chatStates: "http://jabber.org/protocol/chatstates",
  delay: "urn:xmpp:delay",
  stanzas: "urn:ietf:params:xml:ns:xmpp-stanzas",
};

/** How long an answer from the bot may take before the page says so. */
const IQ_TIMEOUT_MS = 15000;

/** A random visitor key: 128 bits from the browser's CSPRNG, base64url (22 characters). */
export function randomKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The bare part of a JID. */
export function bare(jid) {
  return Strophe.getBareJidFromJid(jid || "");
}

/** The resource of a JID: in a room, the occupant's nick. */
export function resource(jid) {
  return Strophe.getResourceFromJid(jid || "") || "";
}

/** The first child element of `el` named `name` in namespace `ns`, or null. */
export function child(el, name, ns) {
  for (const c of el.children) {
    if (c.localName === name && (!ns || c.namespaceURI === ns)) return c;
  }
  return null;
}

/** The text of child `name` of `el`, or "". */
export function childText(el, name, ns) {
  const c = child(el, name, ns);
  return c ? c.textContent : "";
}

/** An answer of the bot to a command: its status, note, result fields and table rows. */
export class Reply {
  constructor(iq) {
    const command = child(iq, "command", NS.commands);
    this.state = command?.getAttribute("status") || "";
    this.session = command?.getAttribute("sessionid") || "";
    const note = command && child(command, "note", NS.commands);
    this.note = note ? note.textContent : "";
    this.fields = new Map();
    this.items = [];
    this.options = new Map();
    const form = command && child(command, "x", NS.data);
    if (!form) return;
    for (const f of form.children) {
      if (f.localName === "field") {
        const values = [...f.children].filter((c) => c.localName === "value").map((c) => c.textContent);
        this.fields.set(f.getAttribute("var"), values[0] ?? "");
        for (const o of f.children) {
          if (o.localName === "option") this.options.set(childText(o, "value"), o.getAttribute("label") || "");
        }
      } else if (f.localName === "item") {
        const row = {};
        for (const c of f.children) row[c.getAttribute("var")] = childText(c, "value");
        this.items.push(row);
      }
    }
  }

  /** The `status` field: what happened, for the page to branch on. */
  get status() {
    return this.fields.get("status") || "";
  }
}

/** Why a command failed: an XMPP error condition, or `timeout`. */
export class CommandError extends Error {
  constructor(condition, text) {
    super(text || condition);
    this.condition = condition;
  }
}

/**
 * One XMPP session over WebSocket. Handlers: `onMessage(el)`, `onPresence(el)` for every
 * message and presence, `onLost()` when the connection ends without being asked to.
 */
export class Session {
  constructor(handlers) {
    this.handlers = handlers;
    this.conn = null;
    this.closing = false;
    // Logged in and bound. Until then nothing is sent: a stanza queued while the stream restarts
    // after authentication would reach the server before the new stream header (which ends the
    // session with `invalid-namespace`).
    this.ready = false;
  }

  /** Logs in: `jid` and `password`, or a bare domain and no password for an anonymous login. */
  connect(jid, password) {
    this.closing = false;
    this.ready = false;
    const conn = new Strophe.Connection(config.websocket);
    this.conn = conn;
    conn.addHandler((el) => (this.handlers.onMessage?.(el), true), null, "message");
    conn.addHandler((el) => (this.handlers.onPresence?.(el), true), null, "presence");
    return new Promise((resolve, reject) => {
      let settled = false;
      conn.connect(jid, password, (status, condition) => {
        const S = Strophe.Status;
        if (status === S.CONNECTED) {
          settled = true;
          if (this.conn === conn) this.ready = true;
          resolve(conn.jid);
        } else if (status === S.AUTHFAIL || status === S.CONNFAIL || status === S.ERROR) {
          if (!settled) {
            settled = true;
            reject(new CommandError(status === S.AUTHFAIL ? "not-authorized" : "connection", condition));
          }
        } else if (status === S.DISCONNECTED) {
          if (this.conn === conn) this.ready = false;
          if (!settled) {
            settled = true;
            reject(new CommandError("connection", condition));
          } else if (this.conn === conn && !this.closing) {
            this.conn = null;
            this.handlers.onLost?.();
          }
        }
      });
    });
  }

  /** Ends the session (the server then tells the bot and the rooms). */
  disconnect() {
    this.closing = true;
    this.ready = false;
    if (this.conn) {
      this.conn.flush();
      this.conn.disconnect();
    }
    this.conn = null;
  }

  /** True while logged in. */
  get connected() {
    return !!this.conn && this.ready;
  }

  /** Own full JID. */
  get jid() {
    return this.conn?.jid || "";
  }

  /** Sends a stanza built with strophe's builders. */
  send(stanza) {
    if (this.connected) this.conn.send(stanza);
  }

  /** Directed presence to the bot: it then hears when this session ends (docs/protocol.md). */
  presenceToBot() {
    this.send($pres({ to: config.bot }));
  }

  /** Runs command `node` of the bot in one step with `fields` submitted (or none). */
  command(node, fields) {
    const iq = $iq({ type: "set", to: config.bot }).c("command", { xmlns: NS.commands, node, action: "execute" });
    if (fields) {
      iq.c("x", { xmlns: NS.data, type: "submit" });
      for (const [name, value] of Object.entries(fields)) {
        if (value !== undefined && value !== null && value !== "") iq.c("field", { var: name }).c("value").t(String(value)).up().up();
      }
    }
    return new Promise((resolve, reject) => {
      if (!this.connected) return reject(new CommandError("connection"));
      this.conn.sendIQ(
        iq,
        (answer) => resolve(new Reply(answer)),
        (error) => {
          if (!error) return reject(new CommandError("timeout"));
          const e = child(error, "error");
          const condition = e ? [...e.children].find((c) => c.namespaceURI === NS.stanzas && c.localName !== "text") : null;
          reject(new CommandError(condition?.localName || "error", e ? childText(e, "text", NS.stanzas) : ""));
        },
        IQ_TIMEOUT_MS,
      );
    });
  }

  /** Joins room `room` as `nick` with `password`, asking for up to `history` past messages. */
  join(room, nick, password, history = 50) {
    const p = $pres({ to: `${room}/${nick}` }).c("x", { xmlns: NS.muc });
    if (password) p.c("password").t(password).up();
    p.c("history", { maxstanzas: String(history) });
    this.send(p);
  }

  /** Leaves room `room` (as `nick`) with presence status `status`. */
  leave(room, nick, status) {
    const p = $pres({ to: `${room}/${nick}`, type: "unavailable" });
    if (status) p.c("status").t(status);
    this.send(p);
  }

  /** Says `text` in room `room`. */
  say(room, text) {
    const id = this.conn.getUniqueId("m");
    this.send(
      $msg({ to: room, type: "groupchat", id }).c("body").t(text).up().c("active", { xmlns: NS.chatStates }),
    );
    return id;
  }

  /** Tells room `room` that one is typing (`composing`) or stopped (`active`): XEP-0085. */
  chatState(room, state) {
    this.send($msg({ to: room, type: "groupchat" }).c(state, { xmlns: NS.chatStates }));
  }
}

/**
 * The invitation in message `el` (XEP-0249), when it comes from the bot: `{ room, password }`.
 * An invitation from anyone else is ignored: it could lead a visitor into a stranger's room.
 */
export function invitationFrom(el) {
  const x = child(el, "x", NS.conference);
  if (!x || el.getAttribute("from") !== config.bot) return null;
  return { room: x.getAttribute("jid"), password: x.getAttribute("password") || "" };
}

/** What a room presence `el` says: who, whether it is oneself, left or not, and why. */
export function occupant(el) {
  const from = el.getAttribute("from") || "";
  const x = child(el, "x", NS.mucUser);
  const item = x && child(x, "item");
  const codes = x ? [...x.children].filter((c) => c.localName === "status").map((c) => c.getAttribute("code")) : [];
  return {
    room: bare(from),
    nick: resource(from),
    self: codes.includes("110"),
    gone: el.getAttribute("type") === "unavailable",
    error: el.getAttribute("type") === "error" ? [...(child(el, "error")?.children || [])].map((c) => c.localName)[0] || "error" : "",
    kicked: codes.includes("307") || codes.includes("301"),
    destroyed: !!(x && child(x, "destroy")),
    status: childText(el, "status"),
    affiliation: item?.getAttribute("affiliation") || "",
    inRoom: !!x,
  };
}

/** What a room message `el` says: sender, text, when, and a key that is the same each time it arrives. */
export function roomMessage(el) {
  const from = el.getAttribute("from") || "";
  const body = child(el, "body");
  const delay = child(el, "delay", NS.delay);
  const state = [...el.children].find((c) => c.namespaceURI === NS.chatStates);
  const stamp = delay ? new Date(delay.getAttribute("stamp")) : new Date();
  const text = body ? body.textContent : null;
  const nick = resource(from);
  return {
    room: bare(from),
    nick,
    text,
    stamp,
    history: !!delay,
    chatState: state ? state.localName : "",
    // Messages come again in the history after a rejoin: their id (or, failing that, sender and
    // text) recognises them, so each is shown once.
    key: el.getAttribute("id") ? `${nick}\n${el.getAttribute("id")}` : `${nick}\n${text}`,
  };
}

/**
 * Wires a chat's message box: Enter sends (Shift+Enter is a new line), typing tells the room
 * "composing" at most every 5 s and "active" when the box is emptied (XEP-0085). `roomOf()`
 * names the room to send to, or nothing while one may not (not joined yet, or the chat ended).
 */
export function messageBox(session, form, textarea, roomOf) {
  let typingSent = 0;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const room = roomOf();
    if (!textarea.value.trim() || !room) return;
    session.say(room, textarea.value);
    typingSent = 0;
    textarea.value = "";
  });
  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  textarea.addEventListener("input", () => {
    const room = roomOf();
    if (!room) return;
    if (textarea.value && Date.now() - typingSent > 5000) {
      session.chatState(room, "composing");
      typingSent = Date.now();
    } else if (!textarea.value && typingSent) {
      session.chatState(room, "active");
      typingSent = 0;
    }
  });
}

/**
 * After a nick conflict on joining `place` (`{ jid, nick, password, tries }`): joins again as
 * `base (2)`, `base (3)`, `base (4)`. False once those are used up.
 */
export function joinWithAnotherNick(session, place, base) {
  if (place.tries >= 3) return false;
  place.tries += 1;
  place.nick = `${base} (${place.tries + 1})`;
  session.join(place.jid, place.nick, place.password);
  return true;
}

/** Shows `text` in the page's `#notice` alert (hidden when empty). */
export function notice(text) {
  const el = document.getElementById("notice");
  el.textContent = text || "";
  show(el, !!text);
}

/** Shows element `el` (or hides it with `show` false). */
export function show(el, visible = true) {
  el.hidden = !visible;
}

/** Appends one line to a message list: `who` said `text` at `stamp` (`mine` for one's own). */
export function appendLine(list, { who, text, stamp = new Date(), mine = false, system = false }) {
  const li = document.createElement("li");
  li.className = system ? "system" : mine ? "mine" : "theirs";
  const time = document.createElement("time");
  time.dateTime = stamp.toISOString();
  time.textContent = stamp.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  li.append(time, " ");
  if (!system) {
    const name = document.createElement("b");
    name.textContent = `${who}:`;
    li.append(name, " ");
  }
  const span = document.createElement("span");
  span.textContent = text;
  li.append(span);
  list.append(li);
  li.scrollIntoView({ block: "nearest" });
  return li;
}

/** Minutes and seconds in words: "about 3 minutes". */
export function waitWords(seconds) {
  if (seconds < 90) return "about a minute";
  return `about ${Math.round(seconds / 60)} minutes`;
}
