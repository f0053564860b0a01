// The XMPP session of both pages (strophe.js over WebSocket): login, anonymous or with a password;
// reconnection with back-off; the bot's commands and their data forms, with a time limit
// (docs/protocol.md); invitations, only from the bot; each room's stanzas to its ChatRoom.

const { Strophe, $iq, $pres } = globalThis;

/** The help line's settings (config.js). */
export const config = globalThis.HELPIM_CONFIG;

/** The namespaces the pages read and write. */
export const NS = {
  commands: "http://jabber.org/protocol/commands",
  data: "jabber:x:data",
  conference: "jabber:x:conference",
  queue: "urn:helpim:queue:0",
  left: "urn:helpim:left:0",
  muc: "http://jabber.org/protocol/muc",
  mucUser: "http://jabber.org/protocol/muc#user",
  chatStates: "http://jabber.org/protocol/chatstates",
  delay: "urn:xmpp:delay",
  stanzas: "urn:ietf:params:xml:ns:xmpp-stanzas",
};

/** How long an answer from the bot may take before the page says so. */
const IQ_TIMEOUT_MS = 15000;
/** The wait before a try to reconnect: the first, and the longest it doubles up to. */
const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 10000;

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

/**
 * An answer of the bot to a command: its status, note, result fields and table rows; `executing`
 * when it asks (again) for a form, whose fields are `form`: `{ name, type, label, required, value,
 * options: [[value, label]] }`.
 */
class Reply {
  constructor(iq) {
    const command = child(iq, "command", NS.commands);
    const note = command && child(command, "note", NS.commands);
    this.note = note ? note.textContent : "";
    this.executing = command?.getAttribute("status") === "executing";
    this.fields = new Map();
    this.items = [];
    this.options = new Map();
    this.form = [];
    const form = command && child(command, "x", NS.data);
    if (!form) return;
    for (const f of form.children) {
      if (f.localName === "field") {
        const values = [...f.children].filter((c) => c.localName === "value").map((c) => c.textContent);
        const name = f.getAttribute("var");
        this.fields.set(name, values[0] ?? "");
        const field = { name, type: f.getAttribute("type"), label: f.getAttribute("label") || "", required: !!child(f, "required"), value: values[0] ?? "", options: [] };
        this.form.push(field);
        for (const o of f.children) {
          if (o.localName !== "option") continue;
          this.options.set(childText(o, "value"), o.getAttribute("label") || "");
          field.options.push([childText(o, "value"), o.getAttribute("label") || ""]);
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
class CommandError extends Error {
  constructor(condition, text) {
    super(text || condition);
    this.condition = condition;
  }
}

/**
 * One XMPP session over WebSocket. Handlers: `onInvite({ room, password, el })`, an invitation from
 * the bot (XEP-0249; anyone else's could lead a visitor into a stranger's room; `el`, the message,
 * carries a handover's payload), `onMessage(el)`,
 * a message not of a room, `onLost()`, the connection ended without being asked to.
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
    /** The joined rooms (ChatRoom), by room JID. */
    this.rooms = new Map();
    this.retryDelay = RETRY_FIRST_MS;
    /** The language the bot is asked to answer in (`xml:lang` on each command), or "". */
    this.lang = "";
  }

  /** Logs in: `jid` and `password`, or a bare domain and no password for an anonymous login. */
  connect(jid, password) {
    this.closing = false;
    this.ready = false;
    const conn = new Strophe.Connection(config.websocket);
    this.conn = conn;
    conn.addHandler((el) => (this.message(el), true), null, "message");
    conn.addHandler((el) => (this.rooms.get(bare(el.getAttribute("from")))?.presence(el), true), null, "presence");
    return new Promise((resolve, reject) => {
      let settled = false;
      conn.connect(jid, password, (status, condition) => {
        const S = Strophe.Status;
        if (status === S.CONNECTED) {
          settled = true;
          if (this.conn === conn) this.ready = true;
          this.retryDelay = RETRY_FIRST_MS;
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
            for (const room of this.rooms.values()) room.lost();
            this.handlers.onLost?.();
          }
        }
      });
    });
  }

  /** Runs `attempt` (a reconnection) after a wait: 1 s, twice as long after each try, at most 10 s. */
  retry(attempt) {
    setTimeout(attempt, this.retryDelay);
    this.retryDelay = Math.min(this.retryDelay * 2, RETRY_MAX_MS);
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
    const attrs = { type: "set", to: config.bot };
    const command = { xmlns: NS.commands, node, action: "execute" };
    // On the IQ and on the command (XEP-0050): servers and libraries may drop the IQ's.
    if (this.lang) attrs["xml:lang"] = command["xml:lang"] = this.lang;
    const iq = $iq(attrs).c("command", command);
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

  /** A message: an invitation from the bot, a room's, or anything else. */
  message(el) {
    const from = el.getAttribute("from") || "";
    const x = child(el, "x", NS.conference);
    if (x) {
      if (from === config.bot) this.handlers.onInvite?.({ room: x.getAttribute("jid"), password: x.getAttribute("password") || "", el });
      return;
    }
    const room = el.getAttribute("type") === "groupchat" && this.rooms.get(bare(from));
    if (room) room.message(el);
    else this.handlers.onMessage?.(el);
  }
}
