// The staff console for a shift (SPEC §13): a login with the staff member's own account and the
// name visitors see; the help line's figures and its waiting visitors as the bot pushes them
// (`<shift/>` headlines, docs/protocol.md "Pushes to staff"), handovers first; "Take next" or
// taking a chosen visitor; one pane per chat with the visitor's topic and the time in chat,
// "End chat" and "Block" apart from Send and confirmed; handing a chat over and taking one
// handed over; whispers from a supervisor; asking for help; for supervisors, the live chats,
// watching one and whispering; the staff room as a "Team" pane. Alerts: the tab's title counts
// what is new, a generated tone plays (a louder one for a visitor re-offered, a request for
// help), and a desktop notification when the browser allows it and the tab is not in view.
//
// Nothing is polled: the console sends its presence to the bot once a minute (so that a
// restarted bot knows again who is on duty) and the bot answers it with a push; a bot that
// pushes nothing (an older one) is asked for `status` and `waiting-visitors` every 3 s instead.
// A banner says when the server (the connection lost) or the bot (a command unanswered or
// refused as absent, or no push after the presence and no answer to `status` either) cannot be
// reached, and the actions that need them are off meanwhile. A dropped connection is taken up
// again by itself; after a refresh, signing in again returns to the open chats (their rooms and
// passwords are kept in this tab's sessionStorage; the staff member's password never is).
// The sound setting is kept in localStorage: the console runs on staff's own machine.

import { Session, NS, bare, child, config } from "./session.js";
import { ChatRoom } from "./chatroom.js";
import { appendLine, drawForm, messageBox, notice, put, readForm, show } from "./helpline.js";
import { t, translate, use } from "./i18n.js";

const $ = (id) => document.getElementById(id);
const STAFF_NS = "urn:helpim:staff:0";
const SUPERVISE_NS = "urn:helpim:supervise:0";
const DISCO_ITEMS = "http://jabber.org/protocol/disco#items";
const DISCO_INFO = "http://jabber.org/protocol/disco#info";
/** A bot that does not push: how often the figures and the waiting list are asked for. */
const POLL_EVERY_MS = 3000;
const PRESENCE_EVERY_MS = 60000;
/** How long after its presence the console waits for the bot's push before asking `status`. */
const PUSH_WITHIN_MS = 10000;
/** How often the minutes waited and in chat are counted again (on the page, no request). */
const TICK_MS = 15000;
/** Error conditions that mean the bot is not there to answer. */
const ABSENT = ["timeout", "service-unavailable", "recipient-unavailable", "item-not-found", "remote-server-not-found", "remote-server-timeout"];
const STORE = "helpim-staff";
const SOUND_KEY = "helpim-staff-sound";

const session = new Session({ onInvite, onLost, onMessage });
/** Own nick in rooms. */
let myNick = "";
/**
 * The chats, by room JID: `{ jid, room (a ChatRoom; the visitor is its peer), state, words,
 * picked, typing, unread, restored, topic, since, tab, pane }`; render() draws all but the
 * conversation.
 */
const chats = new Map();
/** A chat's states (invited: pick mode's chosen visitor), and what its pane says in each. */
const STATES = {
  joining: () => t("chat.joining"),
  waiting: () => t("chat.waiting"),
  invited: (chat) => t("chat.invited", { name: chat.picked }),
  chatting: (chat) => t("chat.here", { name: chat.room.peer }),
  away: (chat) => t("chat.away", { name: chat.room.peer }),
  ended: (chat) => chat.words,
};
let selected = "";
let timers = [];
let paneCount = 0;
/** Waiters for a room of one's own without a visitor (pick mode): resolved on the join. */
let roomWaiters = [];
/** The account signed in with, kept in memory only, to reconnect after a dropped connection. */
let account = null;

/** Whether the server and the bot can be reached; what needs them is off while not. */
const reach = { server: true, bot: true };
/** The bot's pushes: seen at all (else the console polls), and when the last came. */
const pushes = { seen: false, last: 0, waitTimer: 0 };
/** The last shift pushed (or polled): `{ figures, visitors, handovers, pick }`. */
let shift = null;
/** The waiting visitors and handovers seen before (by id), to alert only for new ones. */
let known = null;
const reoffered = new Set();
/** A visitor's topic by nick, from the waiting list: shown in their chat once it opens. */
const topics = new Map();
/** Who the bot said is coming to a room whose pane is not open yet: `{ nick, topic }` by room. */
const coming = new Map();
/** Unseen new waiting visitors (the title counts them with the chats' unread lines). */
let unseenWaiting = 0;
/**
 * Chats handed over that one took from the waiting list (take-chat answered `handover`), by room:
 * the nick of the colleague who handed it over (from the list), so that their invitation is
 * accepted at once and the colleague is never taken for the visitor.
 */
const expectedHandovers = new Map();

/** The nick of whoever handed the chat in `room` back to the queue, as the waiting list has it. */
function handedOverBy(room) {
  return shift?.items.find((i) => i.handover && i.room === room)?.from || "";
}
let supervisor = false;
/** The chat watched: `{ room, staff, visitor }`, or null. */
let watching = null;
/** The team room (a ChatRoom), if the help line has one. */
let team = null;
/** Page clock minus the bot's clock, in ms, from the longest wait the bot told. */
let skew = 0;

/** Remembers the open chats in this tab, so that a refresh can return to them. */
function saveChats() {
  if (!account) return;
  const open = [...chats.values()].filter((c) => c.room.state !== "gone").map((c) => ({ room: c.jid, password: c.room.password, topic: c.topic }));
  sessionStorage.setItem(STORE, JSON.stringify({ jid: bare(account.jid), name: myNick, chats: open }));
}

/** A line of the console's own in chat `chat`'s conversation. */
function line(chat, text) {
  appendLine(chat.pane.querySelector(".messages"), { text, system: true });
}

function announce(text) {
  $("announce").textContent = text;
}

/** "under a minute", "3 min": how long since `since` (a Date), on the bot's clock. */
function duration(since) {
  const minutes = Math.floor((Date.now() - skew - since.getTime()) / 60000);
  return minutes < 1 ? t("minutes.under") : t("minutes", { n: minutes });
}

// ---------------------------------------------------------------- reaching the server and the bot

/** Marks the server or the bot (`what`) reachable or not, and draws the banner and the actions. */
function setReach(what, ok) {
  if (reach[what] === ok) return;
  reach[what] = ok;
  drawReach();
}

function drawReach() {
  const words = !reach.server ? t("banner.server") : !reach.bot ? t("banner.bot") : "";
  put($("banner"), words);
  show($("banner"), !!words);
  for (const el of document.querySelectorAll("[data-needs]")) {
    const needs = el.dataset.needs;
    el.disabled = !reach.server || (needs === "bot" && !reach.bot) || el.dataset.busy === "true";
  }
  document.body.dataset.reach = !reach.server ? "server-lost" : !reach.bot ? "bot-lost" : "ok";
  // What the console last heard may no longer hold: said so, and shown faded.
  if (shift) drawFigures(shift.figures);
}

/** Runs bot command `node`, and learns from the answer (or its absence) whether the bot is there. */
async function ask(node, fields) {
  try {
    const reply = await session.command(node, fields);
    setReach("bot", true);
    return reply;
  } catch (error) {
    if (ABSENT.includes(error.condition)) setReach("bot", false);
    throw error;
  }
}

/** Presence to the bot; it answers with a push: none within a while, and `status` is asked. */
function presenceToBot() {
  session.presenceToBot();
  clearTimeout(pushes.waitTimer);
  const sent = Date.now();
  pushes.waitTimer = setTimeout(() => {
    if (pushes.last >= sent || !session.connected) return;
    refreshStatus();
  }, PUSH_WITHIN_MS);
}

// ---------------------------------------------------------------- signing in and out

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  let jid = $("jid").value.trim();
  if (!jid.includes("@")) jid = `${jid}@${config.staffDomain}`;
  myNick = $("name").value.trim();
  if (!myNick) return $("name").focus();
  $("login-button").disabled = true;
  notice("");
  // The sign-in is a click or a key: the one moment the browser lets a page start its sound.
  unlockSound();
  $("connection").textContent = t("signin.busy");
  const attempt = { jid: `${bare(jid)}/console-${Math.random().toString(36).slice(2, 8)}`, password: $("password").value };
  try {
    await session.connect(attempt.jid, attempt.password);
  } catch (error) {
    $("connection").textContent = "";
    notice(error.condition === "not-authorized" ? t("signin.wrong") : t("signin.unreachable"));
    $("login-button").disabled = false;
    return;
  }
  account = attempt;
  $("password").value = "";
  $("login-button").disabled = false;
  $("connection").textContent = "";
  $("me").textContent = t("me", { name: myNick });
  $("me").title = bare(session.jid);
  show($("login"), false);
  show($("desk"));
  show($("me-bar"));
  drawNotify();
  onDuty();
  timers = [setInterval(presenceToBot, PRESENCE_EVERY_MS), setInterval(poll, POLL_EVERY_MS), setInterval(tick, TICK_MS)];
  // Back after a refresh: the chats this tab had open (for this account only).
  const saved = JSON.parse(sessionStorage.getItem(STORE) || "null");
  const mine = saved?.jid === bare(account.jid) ? saved.chats : [];
  for (const { room, password, topic } of mine) {
    if (!chats.has(room)) Object.assign(addChat(room, password), { restored: true, topic });
  }
  saveChats();
  findSupervisor();
  joinTeam();
  $("take-next").focus();
});

/** Presence to the server and the bot (which pushes the shift back): on sign-in and after a reconnection. */
function onDuty() {
  session.send(globalThis.$pres());
  setReach("server", true);
  presenceToBot();
  // A bot that does not push: asked at once (and then polled).
  setTimeout(() => {
    if (!pushes.seen) poll();
  }, 2000);
}

/** Only for a bot that does not push: the figures and the list, asked for. */
function poll() {
  if (pushes.seen || !session.connected) return;
  refreshStatus();
  refreshWaiting();
}

$("logout").addEventListener("click", () => {
  for (const chat of chats.values()) chat.room.leave();
  team?.leave();
  signedOut(t("signin.out"));
});

function signedOut(words) {
  timers.forEach(clearInterval);
  timers = [];
  clearTimeout(pushes.waitTimer);
  account = null;
  session.disconnect();
  for (const chat of chats.values()) removeChat(chat);
  sessionStorage.removeItem(STORE);
  Object.assign(pushes, { seen: false, last: 0 });
  shift = null;
  known = null;
  team = null;
  supervisor = false;
  setReach("server", true);
  setReach("bot", true);
  show($("desk"), false);
  show($("me-bar"), false);
  show($("login"));
  notice(words);
}

function onLost() {
  if (!account) return;
  setReach("server", false);
  session.retry(reconnect);
}

/** After a dropped connection: the same account again, back into every open chat. */
async function reconnect() {
  if (!account) return;
  try {
    await session.connect(account.jid, account.password);
  } catch (error) {
    if (error.condition === "not-authorized") return signedOut(t("signin.please"));
    return onLost();
  }
  onDuty();
  for (const chat of chats.values()) {
    if (chat.room.state !== "gone") chat.room.join();
  }
  if (team && team.state !== "gone") team.join();
}

// ---------------------------------------------------------------- the shift: figures and queue

/** The figures, in plain words, in the order shown. */
function drawFigures(f) {
  const dl = $("status");
  const open = !reach.server || !reach.bot ? t("fig.unknown") : f.open === "true" ? t("fig.yes") : f.reason === "no-staff" ? t("fig.no-staff") : f.reason === "outside-hours" ? t("fig.outside-hours") : t("fig.no");
  const longest = f["oldest-wait"] ? (Number(f["oldest-wait"]) < 60 ? t("minutes.under") : t("minutes", { n: Math.floor(Number(f["oldest-wait"]) / 60) })) : t("fig.none");
  const rows = [
    ["queue-length", t("fig.waiting"), f["queue-length"] || "0"],
    ["busy", t("fig.busy"), f.busy || "0"],
    ["staff-on-duty", t("fig.on-duty"), f["staff-on-duty"] || "0"],
    ["oldest-wait", t("fig.longest"), longest],
    ["open", t("fig.open"), open],
  ];
  const key = JSON.stringify(rows);
  if (dl.dataset.key === key) return;
  dl.dataset.key = key;
  dl.replaceChildren();
  for (const [field, label, value] of rows) {
    const div = document.createElement("div");
    div.className = field === "open" && f.open !== "true" ? "closed" : "";
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    dd.textContent = value;
    dd.dataset.field = field;
    div.append(dt, dd);
    dl.append(div);
  }
}

/** A `<shift/>` push from the bot: the figures, the handovers waiting and the visitors waiting. */
function onShift(el) {
  const figures = {};
  for (const a of el.attributes) figures[a.name] = a.value;
  const visitors = [];
  const handovers = [];
  for (const c of el.children) {
    const get = (name) => c.getAttribute(name) || "";
    if (c.localName === "visitor") {
      visitors.push({ id: get("id"), nick: get("nick"), topic: get("topic"), since: get("waiting-since"), priority: Number(get("priority") || 0), why: get("why"), reoffer: get("reoffer") === "true" });
    } else if (c.localName === "handover") {
      handovers.push({ id: `h:${get("room")}`, room: get("room"), nick: get("from"), from: get("from"), note: get("note"), topic: get("topic"), since: get("since"), handover: true });
    }
  }
  // Never more visitors than the bot counts waiting (a list read before the count changed).
  if (figures["queue-length"] !== undefined) visitors.splice(Number(figures["queue-length"]));
  pushes.seen = true;
  pushes.last = Date.now();
  // How many pushes came, for whoever looks (the idle test waits for the answer to a presence).
  document.body.dataset.pushes = String(Number(document.body.dataset.pushes || 0) + 1);
  setReach("bot", true);
  const busyBefore = shift ? Number(shift.figures.busy || 0) + Number(shift.figures.closing || 0) : -1;
  shift = { figures, items: [...handovers, ...visitors], pick: figures.mode === "pick" };
  drawShift();
  const busyNow = Number(figures.busy || 0) + Number(figures.closing || 0);
  if (supervisor && busyNow !== busyBefore) refreshLive();
}

/** Draws the figures and the waiting list, and alerts for who is new (or re-offered). */
function drawShift() {
  const { figures, items, pick } = shift;
  const first = items.find((i) => !i.handover && i.since);
  if (first && figures["oldest-wait"]) skew = Date.now() - (new Date(first.since).getTime() + Number(figures["oldest-wait"]) * 1000);
  drawFigures(figures);
  for (const item of items) if (!item.handover) topics.set(item.nick, item.topic || "");
  // Alerts: who was not there before (none on the first list: they are shown, not new).
  const ids = new Set(items.map((i) => i.id));
  if (known) {
    const fresh = items.filter((i) => !known.has(i.id));
    const again = items.filter((i) => i.reoffer && !reoffered.has(i.id));
    if (fresh.length || again.length) {
      const loud = again.length > 0 || fresh.some((i) => i.handover);
      const words = again.length ? t("queue.again") + `: ${again.map((i) => i.nick).join(", ")}` : t("queue.new", { n: fresh.length });
      alertStaff(words, fresh.concat(again).map((i) => i.nick).join(", "), { loud, count: fresh.length + again.length, waiting: true });
    }
  }
  for (const item of items) if (item.reoffer) reoffered.add(item.id);
  known = ids;
  drawWaiting(items, pick);
}

/** The waiting list: handovers first and marked, then visitors, first in line first. */
function drawWaiting(items, pick) {
  const list = $("waiting");
  const key = JSON.stringify([pick, items, Math.floor((Date.now() - skew) / 60000)]);
  // Rebuilt only when it changed: a rebuild would take the keyboard focus away.
  if (list.dataset.key === key) return;
  list.dataset.key = key;
  const focused = document.activeElement?.closest?.("#waiting li")?.dataset.id;
  list.replaceChildren();
  for (const [place, item] of items.entries()) {
    const li = document.createElement("li");
    li.dataset.id = item.id;
    li.className = [item.handover ? "handover" : "", item.reoffer ? "reoffer" : "", item.priority > 0 ? "priority" : ""].join(" ").trim();
    const name = document.createElement("p");
    name.className = "name";
    const b = document.createElement("b");
    const bdi = document.createElement("bdi");
    bdi.textContent = item.handover ? t("queue.handover", { name: item.from }) : item.nick;
    b.append(bdi);
    name.append(b);
    for (const [on, words, cls] of [[item.priority > 0, t("queue.priority"), "badge"], [item.reoffer, t("queue.again"), "badge loud"]]) {
      if (!on) continue;
      const badge = document.createElement("span");
      badge.className = cls;
      badge.textContent = words;
      name.append(" ", badge);
    }
    const topic = document.createElement("p");
    topic.className = item.topic ? "topic" : "topic none";
    topic.textContent = item.topic || t("queue.no-topic");
    topic.dir = "auto";
    li.append(name, topic);
    if (item.priority > 0 && item.why) {
      const why = document.createElement("p");
      why.className = "why";
      why.textContent = t("queue.why", { why: item.why });
      li.append(why);
    }
    if (item.note) {
      const note = document.createElement("p");
      note.className = "note";
      note.textContent = t("handover.ask-note", { note: item.note });
      li.append(note);
    }
    const foot = document.createElement("p");
    foot.className = "foot";
    const waited = document.createElement("span");
    waited.className = "waited";
    waited.textContent = item.since ? t("queue.waited", { time: duration(new Date(item.since)) }) : "";
    foot.append(waited);
    if (pick || item.handover) {
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.needs = "bot";
      button.textContent = item.handover ? t("queue.take-handover") : t("queue.take", { name: item.nick });
      button.addEventListener("click", () => (item.handover && !pick ? takeNext(button) : pickVisitor(item.id, item.nick, button)));
      foot.append(button);
    } else {
      // "Take next" takes the first; the others follow in this order.
      const turn = document.createElement("span");
      turn.className = "turn";
      turn.textContent = place === 0 ? t("queue.next") : t("queue.number", { n: place + 1 });
      foot.append(turn);
    }
    li.append(foot);
    list.append(li);
  }
  if (focused) list.querySelector(`li[data-id="${CSS.escape(focused)}"] button`)?.focus();
  show($("nobody"), items.length === 0);
  show(list, items.length > 0);
  put($("queue-count"), items.length ? `(${items.length})` : "");
  drawReach();
}

/** A bot without pushes: the figures asked for. */
async function refreshStatus() {
  let reply;
  try {
    reply = await ask("status");
  } catch (error) {
    return console.warn("status", error);
  }
  const figures = Object.fromEntries(reply.fields);
  if (pushes.seen) {
    // The bot answers but did not push after the presence: the figures only.
    if (shift) shift.figures = { ...shift.figures, ...figures };
    return drawFigures(shift ? shift.figures : figures);
  }
  shift = { figures, items: shift?.items || [], pick: shift?.pick || false };
  drawShift();
}

/** A bot without pushes: the waiting list asked for. */
async function refreshWaiting() {
  let reply;
  try {
    reply = await ask("waiting-visitors");
  } catch (error) {
    return console.warn("waiting-visitors", error);
  }
  if (pushes.seen) return;
  // The bot words the wait for people ("4 min, since 14:02"); an older one sent a time stamp.
  const since = (text) => (Number.isNaN(Date.parse(text)) ? "" : text);
  const items = reply.items.map((row) => ({ id: row.id, nick: row.nick, topic: row.topic, since: since(row.waiting), priority: Number(row.priority || 0), why: row.why || "", reoffer: false }));
  shift = { figures: shift?.figures || {}, items, pick: reply.options.size > 0 };
  drawShift();
}

/** The minutes waited and in chat, counted again on the page. */
function tick() {
  if (shift) drawWaiting(shift.items, shift.pick);
  for (const chat of chats.values()) render(chat);
}

// ---------------------------------------------------------------- taking chats

/** Asks the bot for a room of one's own; the invitation then opens its pane. */
async function takeChat() {
  // A chat handed back to the queue comes first, and its invitation may come before the answer:
  // each one listed is expected until the answer says which (if any) it was.
  const listed = (shift?.items || []).filter((i) => i.handover).map((i) => i.room);
  for (const room of listed) if (!expectedHandovers.has(room)) expectedHandovers.set(room, handedOverBy(room));
  let reply;
  try {
    reply = await ask("take-chat");
  } finally {
    const taken = reply?.status === "handover" ? reply.fields.get("room") : "";
    for (const room of listed) if (room !== taken) expectedHandovers.delete(room);
  }
  if (reply.status === "taken") return true;
  if (reply.status === "handover") {
    const room = reply.fields.get("room");
    if (!chats.has(room)) expectedHandovers.set(room, handedOverBy(room));
    return true;
  }
  notice(reply.status === "limit" ? t("take.limit") : t("take.none"));
  return false;
}

async function takeNext(button) {
  notice("");
  button.dataset.busy = "true";
  drawReach();
  try {
    await takeChat();
  } catch (error) {
    // The banner says it when the bot is away.
    if (!ABSENT.includes(error.condition)) notice(t("no-answer"));
  } finally {
    button.dataset.busy = "false";
    drawReach();
  }
}

$("take-next").addEventListener("click", () => takeNext($("take-next")));

/** Pick mode: gives visitor `id` one's open room without a visitor (taking a room first if needed). */
async function pickVisitor(id, nick, button) {
  notice("");
  button.dataset.busy = "true";
  drawReach();
  try {
    const handover = id.startsWith("h:");
    if (!handover && ![...chats.values()].some(free)) {
      const joined = new Promise((resolve) => roomWaiters.push(resolve));
      if (!(await takeChat())) return;
      await joined;
    }
    if (handover) expectedHandovers.set(id.slice(2), handedOverBy(id.slice(2)));
    const reply = await ask("waiting-visitors", { visitor: id });
    if (reply.status === "assigned") {
      const room = reply.fields.get("room");
      const chat = chats.get(room) || [...chats.values()].find(free);
      if (chat) {
        chat.picked = nick;
        if (chat.state === "waiting") chat.state = "invited";
        render(chat);
      }
    } else if (reply.status === "handover") {
      // The invitation to the chat handed over follows.
    } else if (reply.status === "taken") {
      notice(t("take.taken", { name: nick }));
    } else {
      notice(reply.note || t("take.failed"));
    }
  } catch (error) {
    notice(t("no-answer"));
  } finally {
    button.dataset.busy = "false";
    drawReach();
    poll();
  }
}

/** A chat in pick mode's room of one's own without a visitor (yet). */
function free(chat) {
  return chat.room.joined && chat.state === "waiting";
}

// ---------------------------------------------------------------- chats

/** A new pane and tab for the chat in `room` (`colleague`: the nick of whoever hands it over). */
function addChat(room, password, { colleague = "", topic = "" } = {}) {
  paneCount += 1;
  const n = paneCount;
  const pane = $("pane-template").content.firstElementChild.cloneNode(true);
  translate(pane);
  pane.id = `pane-${n}`;
  pane.setAttribute("aria-labelledby", `tab-${n}`);
  for (const el of pane.querySelectorAll("[data-id]")) el.id = `${el.dataset.id}-${n}`;
  for (const el of pane.querySelectorAll("[data-for]")) el.htmlFor = `${el.dataset.for}-${n}`;
  for (const el of pane.querySelectorAll("[data-describedby]")) el.setAttribute("aria-describedby", `${el.dataset.describedby}-${n}`);
  const tab = document.createElement("button");
  tab.type = "button";
  tab.id = `tab-${n}`;
  tab.setAttribute("role", "tab");
  tab.setAttribute("aria-controls", pane.id);
  const chat = { jid: room, room: null, state: "joining", words: "", picked: "", typing: false, unread: 0, restored: false, topic: topic || undefined, since: null, tab, pane };
  chat.room = chatRoom(chat);
  if (colleague) chat.room.colleagues.add(colleague);
  chats.set(room, chat);
  const early = coming.get(room);
  if (early) {
    coming.delete(room);
    Object.assign(chat, { picked: early.nick, topic: early.topic, about: early.about });
  }
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
  messageBox(pane.querySelector(".send"), pane.querySelector("textarea"), () => (chat.room.joined && chat.state !== "ended" && reach.server ? chat.room : null));
  pane.querySelector(".end").addEventListener("click", () => endChat(chat));
  pane.querySelector(".block").addEventListener("click", () => blockVisitor(chat));
  pane.querySelector(".handover").addEventListener("click", () => handOver(chat));
  pane.querySelector(".help").addEventListener("click", () => askForHelp(chat));
  render(chat);
  show($("no-chats"), false);
  select(room);
  chat.room.join(password);
  saveChats();
  drawReach();
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
  drawTitle();
}

function select(room) {
  selected = room;
  for (const chat of chats.values()) {
    const on = chat.jid === room;
    chat.tab.setAttribute("aria-selected", String(on));
    chat.tab.tabIndex = on ? 0 : -1;
    show(chat.pane, on);
    if (on && !document.hidden) chat.unread = 0;
    render(chat);
  }
  drawTitle();
}

/** The visitor's name as this console shows it. */
function visitorOf(chat) {
  return chat.room.peer || chat.picked || t("chat.a-visitor");
}

/** Draws chat `chat`'s tab and pane from its state. */
function render(chat) {
  const { room, pane, tab } = chat;
  const ended = chat.state === "ended";
  const who = room.peer || chat.picked || t("chat.waiting-for");
  const label = ended ? t("chat.ended-tab", { name: who }) : who;
  const tabKey = `${label}\n${chat.unread}`;
  if (tab.dataset.key !== tabKey) {
    tab.dataset.key = tabKey;
    tab.textContent = label;
    if (chat.unread) {
      const mark = document.createElement("span");
      mark.className = "unread";
      mark.textContent = t("chat.unread", { n: chat.unread });
      tab.append(" ", mark);
    }
  }
  put(pane.querySelector(".who"), t("chat.with", { name: visitorOf(chat) }));
  pane.querySelector(".messages").setAttribute("aria-label", t("chat.messages", { name: visitorOf(chat) }));
  put(pane.querySelector(".topic"), chat.topic ? t("chat.topic", { topic: chat.topic }) : chat.topic === "" && room.peer ? t("chat.no-topic") : "");
  put(pane.querySelector(".since"), chat.since && !ended ? t("chat.for", { time: duration(chat.since) }) : "");
  put(pane.querySelector(".why"), chat.about?.why ? t("chat.priority", { why: chat.about.why }) : "");
  const dl = pane.querySelector(".answers");
  if (chat.about && !dl.children.length) {
    for (const [label, text] of chat.about.answers) {
      const dt = document.createElement("dt");
      const dd = document.createElement("dd");
      dt.textContent = label;
      dd.textContent = text;
      dd.dir = "auto";
      dl.append(dt, dd);
    }
  }
  put(pane.querySelector(".state"), STATES[chat.state](chat));
  put(pane.querySelector(".typing"), chat.typing && !ended ? t("chat.typing", { name: room.peer }) : "");
  show(pane.querySelector(".send"), !ended);
  for (const cls of [".block", ".handover", ".help"]) show(pane.querySelector(cls), !ended && !!room.peer);
  const end = pane.querySelector(".end");
  put(end, ended ? t("chat.close") : t("action.end"));
  // Closing an ended chat's pane is harmless: not in the colour of what cannot be undone.
  end.classList.toggle("danger-outline", !ended);
  end.classList.toggle("secondary", ended);
}

/** Chat `chat` is over: `words` say why, in its pane and in its conversation. */
function ended(chat, words) {
  const was = chat.state;
  line(chat, words);
  chat.typing = false;
  go(chat, "ended", words);
  saveChats();
  // A chat with a visitor that ended here: its registration asked for (a handover's is not ours).
  if (was !== "ended" && chat.since && !chat.handedOver) register(chat.jid, visitorOf(chat));
}

/** Chat `chat` moves to `state` (with `words`, for ended) and is drawn again. */
function go(chat, state, words = "") {
  // An ended chat stays ended, but for words that say more.
  if (chat.state !== "ended" || state === "ended") Object.assign(chat, { state, words });
  render(chat);
}

/** The bot's invitation: a room of one's own, opened in a new pane; a handover is asked first. */
function onInvite(invitation) {
  if (chats.has(invitation.room)) return;
  const handover = invitation.el && child(invitation.el, "handover", STAFF_NS);
  const taken = expectedHandovers.has(invitation.room);
  if (!handover || taken) {
    const colleague = handover?.getAttribute("from") || expectedHandovers.get(invitation.room) || "";
    expectedHandovers.delete(invitation.room);
    const topic = handover?.getAttribute("topic") || shift?.items.find((i) => i.handover && i.room === invitation.room)?.topic || "";
    addChat(invitation.room, invitation.password, { colleague, topic });
    return announce(t("chat.ready"));
  }
  offeredHandover(invitation, handover);
}

/** The room of chat `chat`, and what the console does with what happens in it. */
function chatRoom(chat) {
  const room = new ChatRoom(session, chat.jid, myNick);
  return room
    .on("message", ({ nick, text, stamp, mine, delayed }) => {
      if (!nick) return line(chat, text);
      appendLine(chat.pane.querySelector(".messages"), { who: mine ? t("chat.you") : nick, text, stamp, mine });
      // The chat began with its first line, also one from the room's history (a handover).
      if (!mine && (!chat.since || stamp < chat.since)) chat.since = stamp;
      if (!mine && !delayed && (selected !== chat.jid || document.hidden)) {
        chat.unread += 1;
        render(chat);
        drawTitle();
        alertStaff(t("chat.new-line", { name: nick }), text, { count: 0 });
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
      ended(chat, chat.restored || room.peer ? t("chat.ended-away") : t("chat.no-join"));
    })
    .on("closed", () => ended(chat, t("chat.closed")))
    .on("arrived", ({ nick, back, peer }) => {
      if (!peer) {
        // A colleague taking the chat over.
        if (room.joined) line(chat, t("chat.joined", { name: nick }));
        return;
      }
      chat.since ||= new Date();
      // The topic as the waiting list showed it ("" when none was given); unknown if never listed.
      if (chat.topic === undefined || chat.topic === "") chat.topic = topics.has(nick) ? topics.get(nick) : chat.topic;
      if (room.joined) line(chat, back ? t("chat.back", { name: nick }) : t("chat.joined", { name: nick }));
      go(chat, "chatting");
      announce(t("chat.joined", { name: nick }));
    })
    .on("departed", ({ nick, peer, clean, kicked }) => {
      if (!peer) {
        if (clean && chat.state !== "ended") line(chat, t("chat.left", { name: nick }));
        return;
      }
      if (kicked) {
        ended(chat, t("chat.removed", { name: nick }));
      } else if (clean) {
        room.leave();
        ended(chat, t("chat.their-end", { name: nick }));
      } else {
        go(chat, "away");
        line(chat, STATES.away(chat));
      }
    });
}

// ---------------------------------------------------------------- confirmations

/**
 * Asks in the dialog: `title`, `text`, the buttons' words, which extra fields show (`block`,
 * `handover`, `note` with its label), and `run(dialog)` on OK, which returns an error to show
 * (the dialog stays) or nothing (it closes). `onCancel` runs on the cancel button only.
 */
function confirmDialog({ title, text, ok, cancel, fields = [], noteLabel = "", danger = false, run, onCancel }) {
  const dialog = $("confirm");
  put($("confirm-title"), title);
  put($("confirm-text"), text);
  $("confirm-ok").textContent = ok;
  $("confirm-cancel").textContent = cancel;
  $("confirm-ok").className = danger ? "danger" : "";
  show($("block-fields"), fields.includes("block"));
  show($("handover-fields"), fields.includes("handover"));
  show($("note-fields"), fields.includes("note"));
  put($("note-label"), noteLabel);
  for (const id of ["reason", "colleague", "note"]) $(id).value = "";
  $("duration").value = "1d";
  $("to-colleague").checked = true;
  show($("confirm-error"), false);
  dialog.onsubmit = async (event) => {
    if (event.submitter?.value !== "ok") {
      if (event.submitter?.value === "cancel") onCancel?.();
      return;
    }
    event.preventDefault();
    $("confirm-ok").disabled = true;
    const error = await run().catch(() => t("no-answer"));
    $("confirm-ok").disabled = false;
    if (error) {
      put($("confirm-error"), error);
      return show($("confirm-error"));
    }
    dialog.close("ok");
  };
  dialog.showModal();
}

function endChat(chat) {
  const finish = () => {
    // Ended here, with a visitor: its registration is asked for (once ended, it was already).
    if (chat.state !== "ended" && chat.since) register(chat.jid, visitorOf(chat));
    chat.room.leave();
    removeChat(chat);
    announce(t("chat.ended"));
  };
  if (chat.state === "ended" || !chat.room.peer) return finish();
  const name = visitorOf(chat);
  confirmDialog({ title: t("end.title", { name }), text: t("end.text", { name }), ok: t("end.ok"), cancel: t("end.keep"), danger: true, run: async () => finish() });
}

function blockVisitor(chat) {
  const name = visitorOf(chat);
  confirmDialog({
    title: t("block.title", { name }),
    text: t("block.text", { name }),
    ok: t("block.ok"),
    cancel: t("action.cancel"),
    fields: ["block"],
    danger: true,
    run: async () => {
      const reason = $("reason").value.trim();
      if (!reason) return $("reason").focus() || t("block.need-reason");
      try {
        const reply = await ask("block-visitor", { room: chat.jid, reason, duration: $("duration").value });
        line(chat, reply.status === "blocked" ? t("block.done", { name }) : reply.note || t("block.failed"));
      } catch (error) {
        line(chat, t("block.failed"));
      }
    },
  });
}

function handOver(chat) {
  const name = visitorOf(chat);
  confirmDialog({
    title: t("handover.title", { name }),
    text: t("handover.text", { name }),
    ok: t("handover.ok"),
    cancel: t("action.cancel"),
    fields: ["handover", "note"],
    noteLabel: t("handover.note"),
    run: async () => {
      let to = "queue";
      if ($("to-colleague").checked) {
        to = $("colleague").value.trim();
        if (!to) return $("colleague").focus() || t("handover.need-colleague");
        if (!to.includes("@")) to = `${to}@${config.staffDomain}`;
      }
      const reply = await ask("hand-over", { room: chat.jid, to, note: $("note").value.trim() });
      const words = { offered: t("handover.offered"), "not-on-duty": t("handover.not-on-duty"), limit: t("handover.limit"), busy: t("handover.busy") }[reply.status];
      if (reply.status !== "offered") return words || reply.note || t("take.failed");
      line(chat, words);
    },
  });
}

function askForHelp(chat) {
  confirmDialog({
    title: t("help.title"),
    text: t("help.text"),
    ok: t("help.ok"),
    cancel: t("action.cancel"),
    fields: ["note"],
    noteLabel: t("help.what"),
    run: async () => {
      const reply = await ask("ask-for-help", { room: chat.jid, text: $("note").value.trim() });
      line(chat, reply.status === "asked" ? t("help.asked") : reply.status === "no-supervisor" ? t("help.none") : reply.note || t("take.failed"));
    },
  });
}

/** A colleague hands one a chat: asked first; Accept joins, Decline tells the bot. */
function offeredHandover(invitation, handover) {
  const from = handover.getAttribute("from") || "";
  const note = handover.getAttribute("note");
  const topic = handover.getAttribute("topic");
  const text = [note && t("handover.ask-note", { note }), topic && t("handover.ask-topic", { topic })].filter(Boolean).join("\n");
  alertStaff(t("handover.ask", { name: from }), text, { loud: true, count: 0 });
  confirmDialog({
    title: t("handover.ask", { name: from }),
    text,
    ok: t("handover.accept"),
    cancel: t("handover.decline"),
    run: async () => {
      // What an earlier offer left in the notice (a decline, say) is no longer true.
      notice("");
      if (!chats.has(invitation.room)) addChat(invitation.room, invitation.password, { colleague: from, topic: topic || "" });
    },
    onCancel: () => {
      ask("decline-handover", { room: invitation.room }).catch(() => {});
      notice(t("handover.declined", { name: from }));
    },
  });
}

// ---------------------------------------------------------------- pushes other than the shift

/**
 * The bot gave this staff member's room to a visitor (`<visitor room nick topic/>`): their name
 * and topic show at once, even for a visitor no push ever listed (taken within the 2 s between
 * pushes); no `topic` means they gave none.
 */
function onComing(el, room) {
  const nick = el.getAttribute("nick") || "";
  const topic = el.getAttribute("topic") || "";
  // The answers before the chat (labels and words in the help line's default language) and why
  // the visitor has priority.
  const about = { why: el.getAttribute("priority") === "1" ? el.getAttribute("why") || t("queue.priority") : "", answers: [...el.children].filter((c) => c.localName === "answer").map((c) => [c.getAttribute("label") || c.getAttribute("question"), c.textContent]) };
  if (nick) topics.set(nick, topic);
  // No longer waiting: off the list at once (the next push agrees, within seconds).
  const id = el.getAttribute("id");
  if (shift && id && shift.items.some((i) => !i.handover && i.id === id)) {
    shift.items = shift.items.filter((i) => i.handover || i.id !== id);
    const waiting = Number(shift.figures["queue-length"] || 0);
    if (waiting > 0) shift.figures["queue-length"] = String(waiting - 1);
    drawShift();
  }
  const chat = chats.get(room);
  if (!chat) return void coming.set(room, { nick, topic, about });
  chat.topic = topic;
  chat.about = about;
  if (!chat.room.peer && nick) chat.picked = nick;
  if (chat.state === "waiting" && nick) return go(chat, "invited");
  render(chat);
  saveChats();
}

/** A message from outside the rooms: the bot's pushes (headlines) to this session. */
function onMessage(el) {
  if (bare(el.getAttribute("from")) !== bare(config.bot)) return;
  const payload = [...el.children].find((c) => c.namespaceURI === STAFF_NS || c.namespaceURI === SUPERVISE_NS);
  if (!payload) return;
  const room = payload.getAttribute("room") || "";
  const chat = chats.get(room);
  switch (payload.localName) {
    case "shift":
      return onShift(payload);
    case "handed-over":
      if (chat) {
        chat.room.leave();
        chat.handedOver = true;
        ended(chat, t("handover.done", { name: payload.getAttribute("to") || "" }));
      }
      return;
    case "handover-expired":
      if (chat) line(chat, t("handover.expired"));
      return;
    case "visitor":
      return onComing(payload, room);
    case "whisper":
      if (chat) {
        const li = appendLine(chat.pane.querySelector(".messages"), { who: t("whisper.from", { name: payload.getAttribute("from") || "" }), text: payload.textContent });
        li.className = "whisper";
        if (selected !== chat.jid || document.hidden) {
          chat.unread += 1;
          render(chat);
          drawTitle();
        }
        alertStaff(t("whisper.from", { name: payload.getAttribute("from") || "" }), payload.textContent, { count: 0 });
      }
      return;
    case "help":
      return onHelp(payload);
    case "line":
      if (watching?.room === room) {
        // The transcript names the visitor by role (`client`) unless the help line keeps names:
        // shown with the name the live chats gave.
        const role = payload.getAttribute("role");
        let who = payload.getAttribute("nick") || "";
        if (role === "client" && (!who || who === "client")) who = watching.visitor || t("super.visitor");
        if (role === "staff" && (!who || who === "staff")) who = watching.staff || t("super.staff");
        const li = appendLine($("watch-lines"), { who, text: payload.textContent || childBody(el), stamp: new Date(payload.getAttribute("at") || Date.now()) });
        li.className = role === "staff" ? "mine" : "theirs";
      }
      return;
    case "ended":
      if (watching?.room === room) appendLine($("watch-lines"), { text: t("super.ended"), system: true });
      return;
  }
}

/** A `<line/>` carries its text in the body ("[Kim] hello"): the text after the name. */
function childBody(el) {
  return (child(el, "body")?.textContent || "").replace(/^\[[^\]]*\] /, "");
}

// ---------------------------------------------------------------- supervision

/** The bot lists the commands one may run: `live-chats` among them makes one a supervisor. */
async function findSupervisor() {
  const iq = globalThis.$iq({ type: "get", to: config.bot }).c("query", { xmlns: DISCO_ITEMS, node: NS.commands });
  const nodes = await new Promise((resolve) => {
    session.conn.sendIQ(iq, (answer) => resolve([...answer.getElementsByTagName("item")].map((i) => i.getAttribute("node"))), () => resolve([]), 15000);
  });
  // Which commands the bot offers, for whoever looks (a test, a help line's own script).
  document.body.dataset.commands = nodes.join(" ");
  supervisor = nodes.includes("live-chats");
  registering = nodes.includes("register-chat");
  remind();
  show($("supervise"), supervisor);
  if (supervisor) refreshLive();
}

$("live-refresh").addEventListener("click", refreshLive);

/** The live chats, asked for when the figures change (not polled) or on Refresh. */
async function refreshLive() {
  let reply;
  try {
    reply = await ask("live-chats");
  } catch (error) {
    return console.warn("live-chats", error);
  }
  const body = $("live");
  body.replaceChildren();
  for (const row of reply.items) {
    const tr = document.createElement("tr");
    // The bot words the start for people ("12 min, since 14:02"); an older one sent a time stamp.
    const started = Number.isNaN(Date.parse(row.since)) ? row.since : duration(new Date(row.since));
    for (const text of [row.staff, row.visitor, row.topic || "–", started || "–"]) {
      const td = document.createElement("td");
      td.textContent = text;
      td.dir = "auto";
      tr.append(td);
    }
    const action = document.createElement("td");
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.needs = "bot";
    button.className = "secondary";
    button.textContent = t("super.watch-short");
    button.setAttribute("aria-label", t("super.watch", { staff: row.staff, visitor: row.visitor }));
    button.addEventListener("click", () => watch(row.room, row.staff, row.visitor));
    action.append(button);
    tr.append(action);
    body.append(tr);
  }
  show($("live-table"), reply.items.length > 0);
  show($("live-none"), reply.items.length === 0);
  drawReach();
}

/** Starts watching `room` (the lines come as `<line/>` pushes, the earlier ones first). */
async function watch(room, staff, visitor) {
  if (watching) await stopWatching();
  let reply;
  try {
    reply = await ask("watch-chat", { room, action: "start" });
  } catch (error) {
    return notice(t("no-answer"));
  }
  if (reply.status !== "watching") return notice(t("super.no-chat"));
  watching = { room, staff, visitor };
  $("watch-lines").replaceChildren();
  put($("watch-title"), t("super.watching", { staff, visitor }));
  put($("whisper-label"), t("super.whisper", { name: staff }));
  show($("watch"));
  $("whisper-text").focus();
}

async function stopWatching() {
  if (!watching) return;
  const { room } = watching;
  watching = null;
  show($("watch"), false);
  await ask("watch-chat", { room, action: "stop" }).catch(() => {});
}

$("watch-stop").addEventListener("click", stopWatching);

$("whisper-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = $("whisper-text").value.trim();
  if (!text || !watching) return;
  try {
    // Signed with the name given at sign-in, not the address.
    const reply = await ask("whisper", { room: watching.room, text, name: myNick });
    if (reply.status === "sent") {
      appendLine($("watch-lines"), { text: t("super.whispered", { name: watching.staff, text }), system: true });
      $("whisper-text").value = "";
    } else notice(t("super.no-chat"));
  } catch (error) {
    notice(t("no-answer"));
  }
});

/** A staff member asks for help: alerted loudly, with a button to watch that chat. */
function onHelp(el) {
  const staff = el.getAttribute("staff") || "";
  const room = el.getAttribute("room") || "";
  const li = document.createElement("li");
  const p = document.createElement("p");
  const b = document.createElement("b");
  b.textContent = t("super.help", { name: staff });
  p.append(b);
  li.append(p);
  const topic = el.getAttribute("topic");
  for (const text of [topic && t("chat.topic", { topic }), el.textContent && `“${el.textContent}”`]) {
    if (!text) continue;
    const more = document.createElement("p");
    more.textContent = text;
    more.dir = "auto";
    li.append(more);
  }
  const button = document.createElement("button");
  button.type = "button";
  button.dataset.needs = "bot";
  button.textContent = t("super.help-watch");
  button.addEventListener("click", () => {
    li.remove();
    show($("help"), $("help-requests").children.length > 0);
    watch(room, staff, "");
  });
  li.append(button);
  show($("help"));
  $("help-requests").append(li);
  alertStaff(t("super.help", { name: staff }), el.textContent, { loud: true, count: 1, waiting: true });
}

// ---------------------------------------------------------------- registration after a chat

/** Whether the bot has `register-chat` (an older one has not: no form, no reminder). */
let registering = false;
const ROOM_AND_QUESTIONS = (f) => f.name === "room" || f.name.startsWith("q-");

/** "Not registered yet: N", from `register-chat` asked without a form (its `unregistered` count). */
function drawReminder(reply) {
  const n = Number(reply.fields.get("unregistered") ?? reply.form.find((f) => f.name === "room")?.options.length ?? 0) || 0;
  put($("reminder"), t("register.reminder", { n }));
  show($("reminder"), n > 0);
}

async function remind() {
  if (!registering) return;
  const reply = await ask("register-chat").catch(() => null);
  if (reply) drawReminder(reply);
}

/**
 * The registration form (`register-chat`'s, its room pre-selected: `room`, the chat `name` had),
 * beside the chats; it takes no focus (one may be typing in another chat) and can wait ("Later").
 */
async function register(room = "", name = "") {
  if (!registering) return;
  // One at a time: a form being filled in is not replaced; the reminder counts the rest.
  if (!$("register").hidden) return remind();
  const reply = await ask("register-chat").catch(() => null);
  if (!reply) return;
  drawReminder(reply);
  if (!reply.executing) return;
  const form = reply.form.map((f) => ({ ...f, required: f.name === "room" || f.required }));
  const rooms = form.find((f) => f.name === "room");
  // The bot may not have closed the room yet: it is submitted all the same, and checked then.
  if (room && rooms && !rooms.options.some(([value]) => value === room)) rooms.options.unshift([room, t("chat.with", { name })]);
  drawForm($("register-q"), form, t("register.optional"), { room }, ROOM_AND_QUESTIONS);
  show($("register-error"), false);
  show($("register"));
  if (!room) $("register-q").querySelector("input")?.focus();
}

$("register-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const values = readForm($("register-q"));
  const reply = await ask("register-chat", values).catch(() => null);
  // Not stored (a chat no longer one's own to register, say): the form stays, with the bot's note.
  if (!reply || reply.executing || !["registered", "already"].includes(reply.status)) {
    if (reply?.executing) drawForm($("register-q"), reply.form, t("register.optional"), values, ROOM_AND_QUESTIONS);
    put($("register-error"), reply?.note || t("no-answer"));
    return show($("register-error"));
  }
  show($("register"), false);
  const words = reply.status === "already" ? t("register.already") : t("register.done");
  announce(words);
  const chat = chats.get(values.room);
  if (chat) line(chat, words);
  remind();
});

$("register-later").addEventListener("click", () => {
  show($("register"), false);
  $("reminder").focus();
});
$("reminder").addEventListener("click", () => register());

// ---------------------------------------------------------------- the team room

/** Joins the staff room (config.js `staffRoom`) if the server has it, and shows it as "Team". */
async function joinTeam() {
  const jid = config.staffRoom;
  if (!jid) return;
  // Only a room that exists: joining one that does not would create it, owned by this console.
  const exists = await new Promise((resolve) => {
    session.conn.sendIQ(globalThis.$iq({ type: "get", to: jid }).c("query", { xmlns: DISCO_INFO }), () => resolve(true), () => resolve(false), 15000);
  });
  if (!exists || !account) return;
  team = new ChatRoom(session, jid, myNick)
    .on("joined", () => show($("team")))
    .on("message", ({ nick, text, stamp, mine }) => {
      const who = !nick || nick === team.owner ? t("team.bot") : mine ? t("chat.you") : nick;
      appendLine($("team-lines"), { who, text, stamp, mine });
    })
    .on("failed", () => show($("team"), false));
  team.join("");
  messageBox($("team-form"), $("team-text"), () => (team?.joined && reach.server ? team : null));
}

// ---------------------------------------------------------------- alerts

let audio = null;

function soundOn() {
  return localStorage.getItem(SOUND_KEY) !== "off";
}

$("sound").checked = soundOn();
$("sound").addEventListener("change", () => {
  localStorage.setItem(SOUND_KEY, $("sound").checked ? "on" : "off");
  if ($("sound").checked) unlockSound();
});

/** The browser lets a page make sound once the person has clicked or typed: made ready then. */
function unlockSound() {
  if (!soundOn() || !globalThis.AudioContext) return;
  audio ||= new AudioContext();
  audio.resume?.();
}

/** A generated tone (no audio file): two soft notes, or three louder higher ones. */
function beep(loud) {
  const played = Number(document.body.dataset.sounds || 0) + 1;
  document.body.dataset.sounds = String(played);
  document.body.dataset.lastSound = loud ? "loud" : "soft";
  if (!audio) return;
  const start = audio.currentTime + 0.01;
  const notes = loud ? [880, 1175, 880] : [660, 880];
  for (const [i, hz] of notes.entries()) {
    const at = start + i * 0.22;
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = hz;
    gain.gain.setValueAtTime(0.0001, at);
    gain.gain.exponentialRampToValueAtTime(loud ? 0.6 : 0.2, at + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.2);
    osc.connect(gain).connect(audio.destination);
    osc.start(at);
    osc.stop(at + 0.21);
  }
}

/**
 * Something needs staff: `title` and `body` for a desktop notification (only while the console
 * is not in view), a tone (if on), and `count` more in the tab's title while it is hidden
 * (`waiting`: counted with the waiting visitors; a chat's lines count themselves).
 */
function alertStaff(title, body, { loud = false, count = 0, waiting = false } = {}) {
  if (soundOn()) beep(loud);
  const away = document.hidden || !document.hasFocus();
  if (waiting && document.hidden) unseenWaiting += count;
  drawTitle();
  if (away && globalThis.Notification?.permission === "granted") {
    try {
      new Notification(title, { body: body || "", tag: loud ? "helpim-loud" : "helpim" });
    } catch (error) {
      console.warn("notification", error);
    }
  }
}

/** The tab's title: what is new (waiting visitors unseen, chat lines unread) counted. */
function drawTitle() {
  const n = unseenWaiting + [...chats.values()].reduce((sum, c) => sum + c.unread, 0);
  const title = n ? t("title.count", { n }) : t("title");
  if (document.title !== title) document.title = title;
}

document.addEventListener("visibilitychange", () => {
  if (document.hidden) return;
  unseenWaiting = 0;
  const chat = chats.get(selected);
  if (chat) {
    chat.unread = 0;
    render(chat);
  }
  drawTitle();
});

/** The button that asks for desktop notifications: shown while the browser has not been asked. */
function drawNotify() {
  show($("notify"), globalThis.Notification?.permission === "default");
}

$("notify").addEventListener("click", async () => {
  try {
    await Notification.requestPermission();
  } finally {
    drawNotify();
  }
});

// ---------------------------------------------------------------- start

await use("en", "i18n/staff");
translate();
document.title = t("title");
// After a refresh: the address and name again, and a word about the chats waiting.
const before = JSON.parse(sessionStorage.getItem(STORE) || "null");
if (before) {
  $("jid").value = before.jid || "";
  $("name").value = before.name || "";
  if (before.chats?.length) notice(t("signin.again"));
}
