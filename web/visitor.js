// The visitor page: on arrival, whether the help line is open (`line-status`); an anonymous login,
// a request for a chat, the place in the queue while waiting, the chat the bot's invitation leads
// to, and the way back into it after a refresh or a dropped connection (docs/protocol.md).
//
// Shared devices (SPEC §12). What the tab keeps, in sessionStorage only and only while the visitor
// waits or chats: the visitor key, the name and topic typed, and which room the chat is in (never
// a message); and the language and sound chosen. A refresh (or a tab the browser discarded and
// brings back) resumes; a tab *reopened* after it was closed, which gets its sessionStorage back,
// or the page opened anew, starts afresh and clears it. "End chat", any ending and the quick exit
// clear it too; the quick exit ("Exit this page", or Shift 3 times) leaves cleanly and replaces
// the page with a neutral one, so that Back does not return.

import { Session, config, child, NS } from "./session.js";
import { ChatRoom } from "./chatroom.js";
import { appendLine, drawForm, messageBox, put, readForm, show } from "./helpline.js";
import { choose, language, languages, local, t, translate, use } from "./i18n.js";

const $ = (id) => document.getElementById(id);
const STORE = "helpim-visitor";
/** While closed, how often the page asks again whether the help line has opened. */
const RECHECK_MS = 60000;
/**
 * The "connection dropped" line of the counsellor's last leave without the clean status, taken
 * back if the bot then says they left on purpose: a standard client (Converse.js) leaves without
 * the status, and the bot asks its session first (LEAVE_CHECK, src/core/mod.rs). The visitor
 * does not read "connection dropped" and "has ended the chat" for one and the same leave.
 */
let droppedLine = null;

/** Set by the quick exit: from then on nothing is drawn or stored. */
let exiting = false;

/** A random visitor key: 128 bits from the browser's CSPRNG, base64url (22 characters). */
function randomKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * True when this load continues the tab's own page: a refresh, or a tab the browser itself
 * discarded in the background (a phone) and loads again. A tab reopened after being closed
 * (Ctrl+Shift+T: `back_forward`), Back/Forward to it, or the address opened again (`navigate`)
 * is not: whoever holds the device then must not find the chat.
 */
function continuesTab() {
  const navigation = performance.getEntriesByType("navigation")[0];
  return navigation?.type === "reload" || document.wasDiscarded === true;
}

/** What survives a refresh of this tab: `{ key, nick, topic, phase, room, lang, sound }`. */
let saved = JSON.parse(sessionStorage.getItem(STORE) || "null");
if (saved && !continuesTab()) {
  sessionStorage.clear();
  saved = null;
}
saved ||= {};
/** The key lives as long as the page (a block holds for the tab), in storage only while needed. */
const key = saved.key || randomKey();

/** Writes what a refresh needs: all of it while waiting or chatting, else only the choices. */
function save() {
  if (exiting) return;
  if (view.phase === "ended") return sessionStorage.removeItem(STORE);
  const keep = view.phase === "waiting" || view.phase === "chatting";
  const stored = keep ? { ...saved, key, phase: view.phase } : { lang: saved.lang, sound: saved.sound };
  if (!keep && !stored.lang && !stored.sound) sessionStorage.removeItem(STORE);
  else sessionStorage.setItem(STORE, JSON.stringify(stored));
}

/** Forgets the chat in this tab: storage, name, topic and room (the choices stay in memory). */
function forget() {
  sessionStorage.clear();
  saved = { lang: saved.lang, sound: saved.sound };
  $("nick").value = "";
  $("topic").value = "";
}

/** The chat's room once invited (a ChatRoom: its counsellor is its `peer`). */
let room = null;
/**
 * The questions before the chat (the bot's form, in the visitor's language) and the answers
 * given: in the page's memory only, never stored (a refresh asks them again, if the bot must).
 */
let asked = [];
let answers = {};
/** The room of the chat the feedback questions are about. */
let feedbackRoom = "";

const session = new Session({ onInvite, onMessage, onLost });

/**
 * The page's state: `go()` changes it, `render()` draws the page from it and nothing else (but
 * the conversation, a log that only grows). `phase` is where the visitor is:
 *   arriving                asking whether the help line is open (the start page, no form yet)
 *   start                   the form
 *   closed, busy, blocked   refused (on arrival, or asking): calm words, the opening hours and
 *                           the other ways to get help; `reason` and `next` say why and until when
 *   error                   something went wrong: the form again, `notice` says what
 *   waiting                 in line; `place`, `wait` and `closing` say where and how long
 *   chatting                in the chat (or on the way back into it: `connection` says so)
 *   ended                   the conversation stays in view, `ended` says why, and what next
 * Beside it, what the page says: `notice` (an alert: errors and a lost connection only),
 * `connection` and `typing`. Words are kept as catalog keys and values, and put in the visitor's
 * language when drawn, so that a change of language redraws everything.
 */
const view = {
  phase: "arriving",
  notice: null,
  connection: null,
  queue: null,
  typing: false,
  ended: null,
  reason: "",
  next: "",
  statusKnown: false,
};

function go(changes) {
  if (exiting) return;
  Object.assign(view, changes);
  save();
  render();
}

/** A catalog key with its values (`[key, vars]`), or a key alone, in words. */
function words(said) {
  if (!said) return "";
  if (said.text) return said.text;
  return Array.isArray(said) ? t(said[0], said[1]) : t(said);
}

const REFUSED = {
  closed: { title: "closed.title", again: "closed.again" },
  busy: { title: "busy.title", why: "busy.text", again: "busy.again" },
  blocked: { title: "blocked.title", why: "blocked.text" },
};

function render() {
  const { phase } = view;
  document.body.dataset.phase = phase;
  if (!document.hidden) document.title = t("title");
  const refused = REFUSED[phase];
  show($("start"), phase === "arriving" || phase === "start" || phase === "error");
  show($("start-form"), phase === "start" || phase === "error");
  put($("checking"), phase === "arriving" ? t("checking") : "");
  put($("privacy"), local(config.privacy) || t("privacy", { days: config.transcriptDays ?? 90 }));
  show($("refused"), !!refused);
  if (refused) {
    put($("refused-title"), t(refused.title));
    const why = phase === "closed" ? (view.reason === "outside-hours" ? "closed.outside-hours" : "closed.no-staff") : refused.why;
    put($("refused-why"), t(why));
    put($("next-opening"), phase === "closed" && view.next ? opening(view.next) : "");
    show($("again"), !!refused.again);
    put($("again"), refused.again ? t(refused.again) : "");
  }
  const hours = local(config.hours);
  show($("hours-box"), !!hours);
  put($("hours"), hours);
  show($("elsewhere"), !!refused || phase === "ended");
  put($("emergency"), config.emergency ? t("emergency", { number: config.emergency }) : "");
  show($("waiting"), phase === "waiting");
  const q = view.queue || {};
  put($("place"), q.position ? (q.position === 1 ? t("place.next") : t("place.n", { n: q.position })) : "");
  put($("wait"), q.soon ? t("wait.soon") : q.estimate ? waitWords(q.estimate) : "");
  put($("closing"), q.closesIn ? t("closing", { n: Math.ceil(q.closesIn / 60) }) : "");
  show($("chat"), phase === "chatting" || phase === "ended");
  show($("send-form"), phase === "chatting");
  show($("end"), phase === "chatting");
  show($("sound-choice"), phase === "waiting" || phase === "chatting");
  $("sound").checked = !!saved.sound;
  show($("after"), phase === "ended");
  put($("ended-words"), words(view.ended));
  show($("feedback"), phase === "ended" && view.feedback === "asked");
  put($("feedback-done"), phase === "ended" ? words(view.feedback?.text && view.feedback) : "");
  put($("notice"), words(view.notice));
  show($("notice"), !!view.notice);
  $("notice").classList.toggle("error", phase === "error");
  put($("connection"), words(view.connection));
  put($("typing"), view.typing && phase === "chatting" ? t("chat.typing") : "");
}

/** Links `items` (config.js: `{ label, href }`) into list `ul`. */
function links(ul, items = []) {
  ul.replaceChildren(
    ...items.map(({ label, href }) => {
      const li = document.createElement("li");
      const a = document.createElement("a");
      a.href = href;
      a.textContent = local(label);
      li.append(a);
      return li;
    }),
  );
}

/** The language's words for everything the page shows that does not change with the state. */
function translateAll() {
  translate();
  const select = $("language");
  if (!select.options.length) {
    for (const { code, name } of languages()) {
      const option = document.createElement("option");
      option.value = code;
      option.lang = code;
      option.textContent = name;
      select.append(option);
    }
  }
  select.value = language();
  links($("alternatives"), config.alternatives);
  links($("resources"), config.resources);
  session.lang = language();
  // The conversation's own lines ("You are in the chat") stay in the language they were said in.
  for (const you of document.querySelectorAll("#messages li.mine bdi")) you.textContent = t("chat.you");
}

$("language").addEventListener("change", async () => {
  saved.lang = $("language").value;
  await use(saved.lang);
  translateAll();
  if (view.phase === "start" || view.phase === "error") loadQuestions();
  save();
  render();
});

/** The next opening (RFC 3339) in the visitor's words and time zone: "We open again on Monday at 18:00." */
function opening(stamp) {
  const date = new Date(stamp);
  if (Number.isNaN(date.getTime())) return "";
  const day = new Intl.DateTimeFormat(language(), { weekday: "long" }).format(date);
  const time = new Intl.DateTimeFormat(language(), { hour: "numeric", minute: "2-digit" }).format(date);
  return t("closed.next", { day, time });
}

/**
 * An honest wait in words: under 5 minutes "a few minutes"; up to 25 "about N minutes" (N in
 * fives); up to 45 "about half an hour"; beyond, "more than half an hour".
 */
export function waitWords(seconds) {
  const minutes = seconds / 60;
  if (minutes < 5) return t("wait.few");
  if (minutes <= 25) return t("wait.minutes", { n: Math.min(25, Math.max(5, Math.round(minutes / 5) * 5)) });
  if (minutes <= 45) return t("wait.half-hour");
  return t("wait.more");
}

/** A line of the page's own (a catalog key, or `[key, vars]`), or the room's (`raw` text). */
function systemLine(said, raw = "") {
  return appendLine($("messages"), { text: raw || words(said), system: true, locale: language() });
}

async function ensureConnected() {
  if (session.connected) return;
  go({ connection: "connecting" });
  await session.connect(config.visitorDomain);
  session.presenceToBot();
  go({ connection: null });
}

/** A place in line from a request's answer or a push: position, estimate, soon, closes-in. */
function queueFrom(get) {
  const number = (name) => {
    const value = Number(get(name));
    return get(name) && Number.isFinite(value) && value > 0 ? value : 0;
  };
  return { position: number("position"), estimate: number("estimate"), soon: get("soon") === "true", closesIn: number("closes-in") };
}

let recheckTimer = 0;

/**
 * On arrival (and while closed): is the help line open? A bot without `line-status` answers
 * item-not-found: the form then, and a closed line is told when asking for a chat.
 */
async function checkLine() {
  clearTimeout(recheckTimer);
  let reply;
  try {
    await ensureConnected();
    reply = await session.command("line-status");
  } catch (error) {
    if (error.condition !== "item-not-found") console.warn("line-status", error);
    view.statusKnown = false;
    go({ phase: "start", connection: null });
    return loadQuestions();
  }
  view.statusKnown = true;
  if (reply.fields.get("open") === "false") {
    go({ phase: "closed", reason: reply.fields.get("reason") || "", next: reply.fields.get("next-opening") || "" });
    recheckTimer = setTimeout(() => view.phase === "closed" && checkLine(), RECHECK_MS);
  } else {
    go({ phase: "start" });
    await loadQuestions();
  }
}

/** The help line's questions before the chat: the form of `request-chat`, asked without one. */
async function loadQuestions() {
  try {
    const reply = await session.command("request-chat");
    if (reply.executing) asked = reply.form;
  } catch (error) {
    console.warn("request-chat form", error);
  }
  drawForm($("questions"), asked, t("start.optional"));
  $("questions").dataset.loaded = "";
}

async function requestChat() {
  const reply = await session.command("request-chat", { ...answers, nick: saved.nick, topic: saved.topic, key });
  if (room) return; // the invitation was quicker than the answer
  if (reply.executing) {
    // Something to correct (or answer again after a refresh): the form again, and what is wrong.
    asked = reply.form;
    drawForm($("questions"), asked, t("start.optional"), answers);
    go({ phase: "error", notice: { text: reply.note || t("error.other") } });
    // On a phone the note is above the fold: brought into view, so the press is seen to answer.
    return $("notice").scrollIntoView({ block: "start" });
  }
  if (reply.status === "queued") {
    return go({ phase: "waiting", notice: null, queue: queueFrom((f) => reply.fields.get(f)) });
  }
  session.disconnect();
  if (REFUSED[reply.status]) return refused(reply.status);
  go({ phase: "error", notice: "error.other" });
}

/** A refusal: calm words, the hours and the other ways, and the focus on its heading. */
function refused(phase) {
  go({ phase, notice: null, reason: "", next: "" });
  $("refused-title").focus();
}

$("start-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  saved.nick = $("nick").value.trim();
  saved.topic = $("topic").value.trim();
  answers = readForm($("questions"));
  if (!saved.nick) return;
  $("start-button").disabled = true;
  try {
    go({ notice: null });
    await ensureConnected();
    await requestChat();
  } catch (error) {
    go({ phase: "error", connection: null, notice: "error.reach" });
    console.warn("request-chat", error);
  } finally {
    $("start-button").disabled = false;
  }
});

$("again").addEventListener("click", () => {
  if (view.phase === "closed" && view.statusKnown) {
    go({ phase: "arriving" });
    return checkLine();
  }
  go({ phase: "start", notice: null });
  $("nick").focus();
});

$("leave").addEventListener("click", async () => {
  try {
    await session.command("leave-queue");
  } catch (error) {
    console.warn("leave-queue", error);
  }
  session.disconnect();
  forget();
  go({ phase: "start", notice: null, queue: null, connection: "waiting.left" });
});

messageBox($("send-form"), $("text"), () => (room?.joined ? room : null));

$("end").addEventListener("click", () => {
  room?.leave();
  ended("ended.you");
});

$("new-chat").addEventListener("click", () => {
  $("messages").replaceChildren();
  answers = {};
  go({ phase: "arriving", ended: null, notice: null, connection: null, feedback: null });
  checkLine().then(() => view.phase === "start" && $("nick").focus());
});

/** The chat is over: say why, keep the conversation readable, offer what next; forget it here. */
function ended(said) {
  const chatted = view.phase === "chatting" && room?.jid;
  systemLine(said);
  room?.close();
  room = null;
  forget();
  go({ phase: "ended", ended: said, notice: null, connection: null, typing: false, feedback: null });
  $("after-title").focus();
  if (chatted) askFeedback(chatted);
  else session.disconnect();
}

/** After a chat: the help line's feedback questions, if it has any (skippable); then goodbye. */
async function askFeedback(jid) {
  const reply = await session.command("feedback").catch(() => null);
  if (!reply?.form.some((f) => f.name.startsWith("q-")) || view.phase !== "ended") return session.disconnect();
  feedbackRoom = jid;
  // All of it may be left open ("No, thank you"): nothing marked optional.
  drawForm($("feedback-q"), reply.form, "", {});
  go({ feedback: "asked" });
}

$("feedback").addEventListener("submit", async (event) => {
  event.preventDefault();
  const reply = await session.command("feedback", { ...readForm($("feedback-q")), key, room: feedbackRoom }).catch(() => null);
  if (reply?.executing) return go({ feedback: "asked", notice: { text: reply.note } });
  session.disconnect();
  go({ feedback: reply?.note ? { text: reply.note } : null, notice: null });
  $("after-title").focus();
});

$("feedback-skip").addEventListener("click", () => {
  session.disconnect();
  go({ feedback: null });
});

/** The quick exit: nothing left on the screen at once, a clean leave, no storage, a neutral page. */
function quickExit() {
  if (exiting) return;
  exiting = true;
  document.body.replaceChildren();
  document.title = "";
  try {
    if (room) room.leave();
    else if (view.phase === "waiting") session.command("leave-queue").catch(() => {});
    session.disconnect();
  } catch (error) {
    // Leaving anyway.
  }
  sessionStorage.clear();
  try {
    localStorage.clear();
  } catch (error) {
    // Storage may be off; nothing to clear then.
  }
  // A moment for the leave to be on its way; `replace`, so that Back does not come here.
  setTimeout(() => {
    sessionStorage.clear();
    location.replace(config.quickExitUrl || "away.html");
  }, 100);
}

$("exit").addEventListener("click", quickExit);

// Shift pressed 3 times within 2 seconds, alone, with no other key between (capitals do not count).
let shifts = [];
let shiftTimer = 0;
/** Shift went down and nothing else since (a Shift held for a capital is no press). */
let shiftAlone = false;
document.addEventListener("keydown", (event) => {
  shiftAlone = event.key === "Shift";
  if (!shiftAlone) shifts = [];
});
document.addEventListener("keyup", (event) => {
  if (event.key !== "Shift" || !shiftAlone) return;
  const now = performance.now();
  shifts = [...shifts.filter((at) => now - at < 2000), now];
  if (shifts.length >= 3) return quickExit();
  // Told to a screen reader, as the count goes (and forgotten with it).
  put($("exit-status"), t("exit.more", { n: 3 - shifts.length }));
  clearTimeout(shiftTimer);
  shiftTimer = setTimeout(() => put($("exit-status"), ""), 2000);
});

// Noticing the counsellor while the tab is hidden: the title says so; a sound if chosen.
let unseen = 0;
let audio = null;

function beep() {
  if (!audio) return;
  const tone = audio.createOscillator();
  const volume = audio.createGain();
  tone.frequency.value = 660;
  volume.gain.setValueAtTime(0.2, audio.currentTime);
  volume.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.4);
  tone.connect(volume).connect(audio.destination);
  tone.start();
  tone.stop(audio.currentTime + 0.4);
}

/** The counsellor joined (`joined`) or wrote: told in the title while the tab is hidden. */
function notify(joined) {
  if (!document.hidden) return;
  unseen += joined ? 0 : 1;
  document.title = unseen ? t("title.new", { n: unseen }) : t("title.joined");
  if (saved.sound) beep();
}

$("sound").addEventListener("change", () => {
  saved.sound = $("sound").checked;
  if (saved.sound) {
    // Made on the visitor's click, as browsers allow sound only after one.
    audio ||= new AudioContext();
    audio.resume();
    beep();
  }
  save();
});

/** The bot's invitation: into the chat's room (again, after a refresh or a dropped connection). */
function onInvite(invitation) {
  // Already in that room (an invitation repeated, say after a second resume): nothing to do.
  if (room?.jid === invitation.room) {
    if (room.joined) return;
  } else {
    room?.close();
    room = chatRoom(invitation.room);
  }
  saved.room = invitation.room;
  save();
  go({ connection: "joining" });
  room.join(invitation.password);
}

/** A place in line pushed by the bot. */
function onMessage(el) {
  const queue = child(el, "queue", NS.queue);
  if (queue && el.getAttribute("from") === config.bot && view.phase === "waiting") {
    go({ queue: queueFrom((name) => queue.getAttribute(name)) });
  }
}

/** The chat's room, and what the page does with what happens in it. */
function chatRoom(jid) {
  return new ChatRoom(session, jid, saved.nick)
    .on("joined", () => {
      const first = view.phase !== "chatting";
      go({ phase: "chatting", connection: null, notice: null });
      systemLine(room.peer ? ["chat.in", { name: room.peer }] : "chat.in-anonymous");
      if (first) notify(true);
      $("text").focus();
    })
    .on("message", ({ nick, text, stamp, mine, delayed }) => {
      if (!nick) return systemLine(null, text);
      appendLine($("messages"), { who: mine ? t("chat.you") : nick, text, stamp, mine, locale: language() });
      if (!mine && !delayed) notify(false);
    })
    .on("typing", ({ composing }) => go({ typing: composing }))
    .on("arrived", ({ nick, isNew, back }) => {
      if (room.joined && isNew) {
        systemLine(["chat.joined", { name: nick }]);
        notify(true);
      } else if (room.joined && back) {
        // A real drop, then: it stays said.
        droppedLine = null;
        systemLine(["chat.back", { name: nick }]);
      }
    })
    .on("departed", ({ nick, peer, clean, others }) => {
      if (clean && peer) {
        droppedLine?.remove();
        droppedLine = null;
      }
      // A handover: the first counsellor leaves once the colleague is in; the chat goes on.
      if (clean && (!peer || others > 0)) return systemLine(["chat.left", { name: nick }]);
      if (!peer) return;
      if (clean) {
        room.leave();
        ended("ended.counsellor");
      } else {
        droppedLine = systemLine("chat.dropped");
      }
    })
    .on("closed", () => ended("ended.closed"))
    // Someone in the room has this name even after a few others, or the room is gone.
    .on("failed", () => ended("ended.failed"));
}

function onLost() {
  if (view.phase !== "waiting" && view.phase !== "chatting") return;
  go({ notice: "lost" });
  session.retry(reconnect);
}

let reconnecting = false;

/** Back after a refresh or a dropped connection: into the chat, or back in line (same key). */
async function reconnect() {
  if (reconnecting || session.connected || (view.phase !== "waiting" && view.phase !== "chatting")) return;
  reconnecting = true;
  try {
    await ensureConnected();
    if (saved.room) {
      const reply = await session.command("resume-chat", { key });
      if (reply.status === "resumed") {
        // The invitation comes before this answer, and the join may be done already.
        go({ notice: null, connection: room?.joined ? view.connection : "rejoining" });
      } else {
        ended("ended.lost");
      }
    } else {
      await requestChat();
    }
  } catch (error) {
    console.warn("reconnect", error);
    reconnecting = false;
    return onLost();
  }
  reconnecting = false;
}

let lastAsked = 0;

/**
 * The tab is seen again (a phone brings it back, or the browser restores it from its cache): the
 * title is the page's again; a session that is gone is taken up at once, and a visitor still in
 * line asks again (same key) for a fresh place.
 */
function seenAgain() {
  if (document.hidden) return;
  unseen = 0;
  document.title = t("title");
  if (view.phase !== "waiting" && view.phase !== "chatting") return;
  if (!session.connected) return reconnect();
  if (view.phase === "waiting" && !room && Date.now() - lastAsked > 5000) {
    lastAsked = Date.now();
    requestChat().catch((error) => console.warn("request-chat", error));
  }
}
document.addEventListener("visibilitychange", seenAgain);
window.addEventListener("pageshow", (event) => event.persisted && seenAgain());

await use(choose(saved.lang)).catch(() => use(config.defaultLanguage || "en"));
translateAll();
$("nick").value = saved.nick || "";
$("topic").value = saved.topic || "";
if (saved.phase === "waiting" || saved.phase === "chatting") {
  go({ phase: saved.phase, connection: "reconnecting" });
  reconnect();
} else {
  go({ phase: "arriving" });
  checkLine();
}
