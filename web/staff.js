// The staff console: a login with the staff member's own XMPP account, the help line's figures
// and its waiting visitors (asked of the bot every few seconds), "Take next" or taking a chosen
// visitor, and one pane per chat with unread marks, "End chat" and "Block visitor"
// (docs/protocol.md). The console repeats its presence to the bot every minute, so that a
// restarted bot knows again who is on duty. A dropped connection is taken up again by itself;
// after a refresh, signing in again returns to the open chats (their rooms and passwords are
// kept in this tab's sessionStorage; the staff member's password never is).

import { Session, bare, config } from "./session.js";
import { ChatRoom } from "./chatroom.js";
import { appendLine, messageBox, notice, put, show } from "./helpline.js";

const $ = (id) => document.getElementById(id);
/** How often the figures and the waiting list are asked for (and at once after a change). */
const REFRESH_EVERY_MS = 3000;
const PRESENCE_EVERY_MS = 60000;

/** The figures of the `status` command, in the order shown. */
const FIGURES = [
  ["open", "Open"],
  ["staff-on-duty", "Staff on duty"],
  ["queue-length", "Visitors waiting"],
  ["oldest-wait", "Longest wait"],
  ["available", "Rooms ready"],
  ["staffed", "Staffed rooms waiting for a visitor"],
  ["busy", "Chats"],
  ["closing", "Chats ending"],
];

const session = new Session({ onInvite, onLost });
/** Own nick in rooms. */
let myNick = "";
/**
 * The chats, by room JID: `{ jid, room (a ChatRoom; the visitor is its peer), state, words,
 * picked, typing, unread, restored, tab, pane }`; render() draws all but the conversation.
 */
const chats = new Map();
/** A chat's states (invited: pick mode's chosen visitor), and what its pane says in each. */
const STATES = {
  joining: () => "Joining the room…",
  waiting: () => "Waiting for a visitor to join…",
  invited: (chat) => `${chat.picked} is invited and should join in a moment.`,
  chatting: (chat) => `${chat.room.peer} is here.`,
  away: (chat) => `${chat.room.peer}'s connection dropped. They may come back in a moment.`,
  ended: (chat) => chat.words,
};
let selected = "";
let timers = [];
let lastWaiting = "";
let paneCount = 0;
/** Waiters for a room of one's own without a visitor (pick mode): resolved on the join. */
let roomWaiters = [];
/** The account signed in with, kept in memory only, to reconnect after a dropped connection. */
let account = null;
const STORE = "helpim-staff";

/** Remembers the open chats in this tab, so that a refresh can return to them. */
function saveChats() {
  if (!account) return;
  const open = [...chats.values()].filter((c) => c.room.state !== "gone").map((c) => ({ room: c.jid, password: c.room.password }));
  sessionStorage.setItem(STORE, JSON.stringify({ jid: bare(account.jid), name: myNick, chats: open }));
}

/** A line of the console's own in chat `chat`'s conversation. */
function line(chat, text) {
  appendLine(chat.pane.querySelector(".messages"), { text, system: true });
}

function announce(text) {
  $("announce").textContent = text;
}

let soonTimer = 0;
/** Asks for the figures and the list again shortly: something changed in one's chats. */
function refreshSoon() {
  clearTimeout(soonTimer);
  soonTimer = setTimeout(() => {
    refreshStatus();
    refreshWaiting();
  }, 300);
}

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  let jid = $("jid").value.trim();
  if (!jid.includes("@")) jid = `${jid}@${config.staffDomain}`;
  myNick = $("name").value.trim() || jid.split("@")[0];
  $("login-button").disabled = true;
  notice("");
  $("connection").textContent = "Signing in…";
  const attempt = { jid: `${bare(jid)}/console-${Math.random().toString(36).slice(2, 8)}`, password: $("password").value };
  try {
    await session.connect(attempt.jid, attempt.password);
  } catch (error) {
    $("connection").textContent = "";
    notice(error.condition === "not-authorized" ? "That address or password is wrong." : "We could not reach the server. Please try again.");
    $("login-button").disabled = false;
    return;
  }
  account = attempt;
  $("password").value = "";
  $("login-button").disabled = false;
  $("connection").textContent = "";
  $("me").textContent = bare(session.jid);
  show($("login"), false);
  show($("desk"));
  onDuty();
  timers = [
    setInterval(() => {
      refreshStatus();
      refreshWaiting();
    }, REFRESH_EVERY_MS),
    setInterval(() => session.presenceToBot(), PRESENCE_EVERY_MS),
  ];
  // Back after a refresh: the chats this tab had open (for this account only).
  const saved = JSON.parse(sessionStorage.getItem(STORE) || "null");
  const mine = saved?.jid === bare(account.jid) ? saved.chats : [];
  for (const { room, password } of mine) {
    if (!chats.has(room)) addChat(room, password).restored = true;
  }
  saveChats();
  $("take-next").focus();
});

/** Presence to the server and the bot, and fresh figures: on sign-in and after a reconnection. */
function onDuty() {
  session.send(globalThis.$pres());
  session.presenceToBot();
  refreshStatus();
  refreshWaiting();
}

$("logout").addEventListener("click", () => {
  for (const chat of chats.values()) chat.room.leave();
  signedOut("You are signed out.");
});

function signedOut(words) {
  timers.forEach(clearInterval);
  timers = [];
  account = null;
  session.disconnect();
  for (const chat of chats.values()) removeChat(chat);
  sessionStorage.removeItem(STORE);
  lastWaiting = "";
  show($("desk"), false);
  show($("login"));
  notice(words);
}

function onLost() {
  if (!account) return;
  notice("The connection to the server was lost. Reconnecting…");
  session.retry(reconnect);
}

/** After a dropped connection: the same account again, back into every open chat. */
async function reconnect() {
  if (!account) return;
  try {
    await session.connect(account.jid, account.password);
  } catch (error) {
    if (error.condition === "not-authorized") return signedOut("Please sign in again.");
    return onLost();
  }
  notice("");
  onDuty();
  for (const chat of chats.values()) {
    if (chat.room.state !== "gone") chat.room.join();
  }
}

async function refreshStatus() {
  let reply;
  try {
    reply = await session.command("status");
  } catch (error) {
    return console.warn("status", error);
  }
  const dl = $("status");
  dl.replaceChildren();
  for (const [field, label] of FIGURES) {
    let value = reply.fields.get(field) ?? "";
    if (field === "open") value = value === "true" ? "yes" : "no";
    if (field === "oldest-wait") value = !value ? "–" : Number(value) < 60 ? "under a minute" : `${Math.round(Number(value) / 60)} min`;
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    dd.textContent = value;
    dd.dataset.field = field;
    dl.append(dt, dd);
  }
}

async function refreshWaiting() {
  let reply;
  try {
    reply = await session.command("waiting-visitors");
  } catch (error) {
    return console.warn("waiting-visitors", error);
  }
  const pick = reply.options.size > 0;
  const key = JSON.stringify([pick, reply.items]);
  // Rebuilt only when it changed: a rebuild would take the keyboard focus away.
  if (key === lastWaiting) return;
  lastWaiting = key;
  const body = $("waiting");
  body.replaceChildren();
  for (const [place, row] of reply.items.entries()) {
    const tr = document.createElement("tr");
    const since = new Date(row.waiting);
    for (const text of [row.nick, row.topic || "–", since.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })]) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.append(td);
    }
    const action = document.createElement("td");
    if (pick) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = `Take ${row.nick}`;
      button.addEventListener("click", () => pickVisitor(row.id, row.nick, button));
      action.append(button);
    } else {
      // "Take next" takes the first; the others follow in this order.
      action.textContent = place === 0 ? "next in turn" : `number ${place + 1} in line`;
    }
    tr.append(action);
    body.append(tr);
  }
  show($("nobody"), reply.items.length === 0);
  show($("waiting-table"), reply.items.length > 0);
}

/** Asks the bot for a room of one's own; the invitation then opens its pane. */
async function takeChat() {
  const reply = await session.command("take-chat");
  if (reply.status === "taken") return true;
  notice(
    reply.status === "limit"
      ? "You have as many open chats as you may have. End one first."
      : "No chat room is ready yet. Please try again in a moment.",
  );
  return false;
}

$("take-next").addEventListener("click", async () => {
  notice("");
  $("take-next").disabled = true;
  try {
    await takeChat();
  } catch (error) {
    notice("The help line did not answer. Please try again.");
  } finally {
    $("take-next").disabled = false;
  }
});

/** Pick mode: gives visitor `id` one's open room without a visitor (taking a room first if needed). */
async function pickVisitor(id, nick, button) {
  notice("");
  button.disabled = true;
  try {
    if (![...chats.values()].some(free)) {
      const joined = new Promise((resolve) => roomWaiters.push(resolve));
      if (!(await takeChat())) return;
      await joined;
    }
    const reply = await session.command("waiting-visitors", { visitor: id });
    if (reply.status === "assigned") {
      const room = reply.fields.get("room");
      const chat = chats.get(room) || [...chats.values()].find(free);
      if (chat) {
        chat.picked = nick;
        if (chat.state === "waiting") chat.state = "invited";
        render(chat);
      }
    } else if (reply.status === "taken") {
      notice(`Another counsellor has already taken ${nick}.`);
    } else {
      notice(reply.note || "That did not work. Please try again.");
    }
  } catch (error) {
    notice("The help line did not answer. Please try again.");
  } finally {
    button.disabled = false;
    refreshWaiting();
  }
}

/** A chat in pick mode's room of one's own without a visitor (yet). */
function free(chat) {
  return chat.room.joined && chat.state === "waiting";
}

/** A new pane and tab for the chat in `room`. */
function addChat(room, password) {
  paneCount += 1;
  const n = paneCount;
  const pane = $("pane-template").content.firstElementChild.cloneNode(true);
  pane.id = `pane-${n}`;
  pane.setAttribute("aria-labelledby", `tab-${n}`);
  for (const el of pane.querySelectorAll("[data-id]")) el.id = `${el.dataset.id}-${n}`;
  for (const el of pane.querySelectorAll("[data-for]")) el.htmlFor = `${el.dataset.for}-${n}`;
  for (const el of pane.querySelectorAll("[data-describedby]")) el.setAttribute("aria-describedby", `${el.dataset.describedby}-${n}`);
  // The list scrolls in a long chat: focusable and named, so a keyboard can scroll it.
  pane.querySelector(".messages").setAttribute("aria-label", `Messages of chat ${n}`);
  const tab = document.createElement("button");
  tab.type = "button";
  tab.id = `tab-${n}`;
  tab.setAttribute("role", "tab");
  tab.setAttribute("aria-controls", pane.id);
  const chat = { jid: room, room: null, state: "joining", words: "", picked: "", typing: false, unread: 0, restored: false, tab, pane };
  chat.room = chatRoom(chat);
  chats.set(room, chat);
  tab.addEventListener("click", () => select(room));
  tab.addEventListener("keydown", (event) => {
    // Arrow keys move between the tabs, as in any tab list.
    if (event.key !== "ArrowRight" && event.key !== "ArrowLeft") return;
    const rooms = [...chats.keys()];
    const next = rooms[(rooms.indexOf(room) + (event.key === "ArrowRight" ? 1 : rooms.length - 1)) % rooms.length];
    select(next);
    chats.get(next).tab.focus();
  });
  $("tabs").append(tab);
  $("panes").append(pane);
  messageBox(pane.querySelector(".send"), pane.querySelector("textarea"), () => (chat.room.joined && chat.state !== "ended" ? chat.room : null));
  pane.querySelector(".end").addEventListener("click", () => {
    chat.room.leave();
    removeChat(chat);
    announce("Chat ended.");
  });
  pane.querySelector(".block-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const reason = pane.querySelector("input[id^=reason]").value.trim();
    const duration = pane.querySelector("select").value;
    if (!reason) return;
    try {
      const reply = await session.command("block-visitor", { room, reason, duration });
      line(chat, reply.note || `Blocked (${reply.status}).`);
      pane.querySelector("details").open = false;
    } catch (error) {
      line(chat, "The block did not go through. Please try again.");
    }
  });
  render(chat);
  show($("no-chats"), false);
  select(room);
  chat.room.join(password);
  saveChats();
  return chat;
}

function removeChat(chat) {
  chat.room.close();
  chat.tab.remove();
  chat.pane.remove();
  chats.delete(chat.jid);
  saveChats();
  if (selected === chat.jid) {
    selected = "";
    const first = chats.keys().next();
    if (!first.done) select(first.value);
  }
  show($("no-chats"), chats.size === 0);
}

function select(room) {
  selected = room;
  for (const chat of chats.values()) {
    const on = chat.jid === room;
    chat.tab.setAttribute("aria-selected", String(on));
    chat.tab.tabIndex = on ? 0 : -1;
    show(chat.pane, on);
    if (on) chat.unread = 0;
    render(chat);
  }
}

/** Draws chat `chat`'s tab and pane from its state. */
function render(chat) {
  const { room, pane, tab } = chat;
  const ended = chat.state === "ended";
  const who = room.peer || chat.picked || "Waiting for a visitor";
  tab.textContent = ended ? `${who} (ended)` : who;
  if (chat.unread) {
    const mark = document.createElement("span");
    mark.className = "unread";
    mark.textContent = `${chat.unread} unread`;
    tab.append(" ", mark);
  }
  put(pane.querySelector(".who"), room.peer || "a visitor");
  put(pane.querySelector(".state"), STATES[chat.state](chat));
  put(pane.querySelector(".typing"), chat.typing && !ended ? `${room.peer} is typing…` : "");
  show(pane.querySelector(".send"), !ended);
  show(pane.querySelector(".block"), !ended);
  put(pane.querySelector(".end"), ended ? "Close" : "End chat");
}

/** Chat `chat` is over: `words` say why, in its pane and in its conversation. */
function ended(chat, words) {
  line(chat, words);
  chat.typing = false;
  go(chat, "ended", words);
  saveChats();
}

/** Chat `chat` moves to `state` (with `words`, for ended) and is drawn again. */
function go(chat, state, words = "") {
  // An ended chat stays ended, but for words that say more.
  if (chat.state !== "ended" || state === "ended") Object.assign(chat, { state, words });
  render(chat);
}

/** The bot's invitation: a room of one's own, opened in a new pane. */
function onInvite(invitation) {
  if (!chats.has(invitation.room)) addChat(invitation.room, invitation.password);
  announce("A chat room is ready for you.");
}

/** The room of chat `chat`, and what the console does with what happens in it. */
function chatRoom(chat) {
  const room = new ChatRoom(session, chat.jid, myNick);
  return room
    .on("message", ({ nick, text, stamp, mine }) => {
      if (!nick) return line(chat, text);
      appendLine(chat.pane.querySelector(".messages"), { who: mine ? "You" : nick, text, stamp, mine });
      if (!mine && (selected !== chat.jid || document.hidden)) {
        chat.unread += 1;
        render(chat);
        announce(`New message from ${nick}.`);
      }
    })
    .on("typing", ({ composing }) => {
      chat.typing = composing;
      render(chat);
    })
    .on("joined", () => {
      go(chat, room.peer ? "chatting" : chat.picked ? "invited" : "waiting");
      roomWaiters.forEach((resolve) => resolve(chat));
      roomWaiters = [];
    })
    .on("failed", () => {
      // The room is gone: its chat ended while this console was away.
      ended(chat, chat.restored || room.peer ? "This chat ended while you were away." : "Could not join this room.");
    })
    .on("closed", () => ended(chat, "This chat is closed."))
    .on("arrived", ({ nick, back }) => {
      refreshSoon();
      if (room.joined) line(chat, back ? `${nick} is back.` : `${nick} has joined the chat.`);
      go(chat, "chatting");
      announce(`${nick} has joined a chat.`);
    })
    .on("departed", ({ nick, peer, clean, kicked }) => {
      refreshSoon();
      if (!peer) return;
      if (kicked) {
        ended(chat, `${nick} was removed from the chat.`);
      } else if (clean) {
        room.leave();
        ended(chat, `${nick} has ended the chat.`);
      } else {
        go(chat, "away");
        line(chat, STATES.away(chat));
      }
    });
}

// After a refresh: the address and name again, and a word about the chats waiting.
const before = JSON.parse(sessionStorage.getItem(STORE) || "null");
if (before) {
  $("jid").value = before.jid || "";
  $("name").value = before.name || "";
  if (before.chats?.length) notice("Sign in again to return to your open chats.");
}
