// The visitor page: an anonymous login, a request for a chat, the place in the queue while
// waiting, the chat the bot's invitation leads to, and the way back into it after a refresh or a
// dropped connection (docs/protocol.md). What the tab keeps, in sessionStorage only: the
// visitor key, the name and topic typed, and which room the chat is in; never the messages.

import { Session, appendLine, config, invitationFrom, joinWithAnotherNick, messageBox, notice, occupant, randomKey, roomMessage, show, waitWords, child, NS } from "./helpline.js";

const $ = (id) => document.getElementById(id);
const STORE = "helpim-visitor";

/** What survives a refresh of this tab: `{ key, nick, topic, phase, room }`. */
const saved = JSON.parse(sessionStorage.getItem(STORE) || "null") || { key: randomKey(), phase: "start" };
const save = () => sessionStorage.setItem(STORE, JSON.stringify(saved));

/** The room of the chat once invited: `{ jid, nick, password, joined }`. */
let room = null;
/** The counsellor's nick in the room, and whether their connection dropped. */
let counsellor = "";
let counsellorAway = false;
/** Messages already shown, by `roomMessage().key`: the history after a rejoin repeats them. */
const seen = new Set();
let reconnectDelay = 1000;

const session = new Session({ onMessage, onPresence, onLost });

/** Shows the part of the page for `p`: start, waiting, chatting or ended. */
function phase(p) {
  saved.phase = p;
  save();
  document.body.dataset.phase = p;
  $("start-title").textContent = p === "ended" ? "Start a new chat" : "Start a chat";
  show($("start"), p === "start" || p === "ended");
  show($("waiting"), p === "waiting");
  show($("chat"), p === "chatting" || p === "ended");
  show($("send-form"), p === "chatting");
  show($("end"), p === "chatting");
}

function connection(text) {
  $("connection").textContent = text || "";
}

function systemLine(text) {
  appendLine($("messages"), { text, system: true });
}

async function ensureConnected() {
  if (session.connected) return;
  connection("Connecting…");
  await session.connect(config.visitorDomain);
  session.presenceToBot();
  connection("");
}

function placeText(position, estimate) {
  const place = Number(position) === 1 ? "You are next in the queue." : `You are number ${position} in the queue.`;
  const wait = estimate ? ` The wait is ${waitWords(Number(estimate))}.` : "";
  $("place").textContent = place + wait;
}

const REFUSALS = {
  closed: "The help line is closed right now: nobody is on duty. Please try again later.",
  busy: "All our counsellors are busy and the queue is full. Please try again in a little while.",
  blocked: "We cannot start a chat with you.",
};

async function requestChat() {
  const reply = await session.command("request-chat", { nick: saved.nick, topic: saved.topic, key: saved.key });
  if (room) return; // the invitation was quicker than the answer
  if (reply.status === "queued") {
    notice("");
    phase("waiting");
    placeText(reply.fields.get("position"), reply.fields.get("estimate"));
    return;
  }
  notice(REFUSALS[reply.status] || reply.note || "Something went wrong. Please try again.");
  session.disconnect();
  phase("start");
}

$("start-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  saved.nick = $("nick").value.trim();
  saved.topic = $("topic").value.trim();
  if (!saved.nick) return;
  notice("");
  $("start-button").disabled = true;
  try {
    // A new chat: the last one's conversation goes from the page.
    phase("start");
    $("messages").replaceChildren();
    seen.clear();
    await ensureConnected();
    await requestChat();
  } catch (error) {
    connection("");
    notice("We could not reach the help line. Please check your connection and try again.");
    console.warn("request-chat", error);
  } finally {
    $("start-button").disabled = false;
  }
});

$("leave").addEventListener("click", async () => {
  try {
    await session.command("leave-queue");
  } catch (error) {
    console.warn("leave-queue", error);
  }
  session.disconnect();
  notice("You have left the queue.");
  phase("start");
});

messageBox(session, $("send-form"), $("text"), () => (room?.joined ? room.jid : null));

$("end").addEventListener("click", () => {
  if (room) session.leave(room.jid, room.nick, config.cleanExit);
  ended("You ended the chat. Thank you for talking with us.");
});

/** The chat is over: say why, keep the conversation readable, offer a new chat. */
function ended(words) {
  systemLine(words);
  notice(words);
  room = null;
  counsellor = "";
  saved.room = null;
  $("typing").textContent = "";
  phase("ended");
  session.disconnect();
}

function onMessage(el) {
  const invitation = invitationFrom(el);
  if (invitation) {
    // Already in that room (an invitation repeated, say after a second resume): nothing to do.
    if (room && room.joined && room.jid === invitation.room) return;
    room = { jid: invitation.room, nick: saved.nick, password: invitation.password, joined: false, tries: 0 };
    saved.room = invitation.room;
    save();
    connection("A counsellor is ready. Joining the chat…");
    session.join(room.jid, room.nick, room.password);
    return;
  }
  const queue = child(el, "queue", NS.queue);
  if (queue && el.getAttribute("from") === config.bot) {
    if (saved.phase === "waiting") placeText(queue.getAttribute("position"), queue.getAttribute("estimate"));
    return;
  }
  if (el.getAttribute("type") !== "groupchat" || !room) return;
  const m = roomMessage(el);
  if (m.room !== room.jid || child(el, "subject")) return;
  if (m.text === null) {
    if (m.nick && m.nick === counsellor) {
      $("typing").textContent = m.chatState === "composing" ? "The counsellor is typing…" : "";
    }
    return;
  }
  if (seen.has(m.key)) return;
  seen.add(m.key);
  if (!m.nick) return systemLine(m.text);
  const mine = m.nick === room.nick;
  if (!mine) $("typing").textContent = "";
  appendLine($("messages"), { who: mine ? "You" : m.nick, text: m.text, stamp: m.stamp, mine });
}

function onPresence(el) {
  const o = occupant(el);
  if (!room || o.room !== room.jid) return;
  if (o.error) {
    // Someone in the room has this name (or our old session has not left yet): another one.
    if (o.error === "conflict" && joinWithAnotherNick(session, room, saved.nick)) return;
    return ended("We could not join the chat. Please try again.");
  }
  if (o.self) {
    if (!o.gone && !room.joined) {
      room.joined = true;
      connection("");
      notice("");
      phase("chatting");
      systemLine(counsellor ? `You are in the chat with ${counsellor}.` : "You are in the chat.");
      $("text").focus();
    } else if (o.gone && (o.kicked || o.destroyed)) {
      ended("The chat has ended.");
    }
    return;
  }
  if (o.affiliation === "owner") return; // the bot
  if (!o.gone) {
    if (room.joined && counsellor !== o.nick) systemLine(`${o.nick} has joined the chat.`);
    else if (room.joined && counsellorAway) systemLine(`${o.nick} is back.`);
    counsellor = o.nick;
    counsellorAway = false;
  } else if (o.nick === counsellor) {
    $("typing").textContent = "";
    if (o.status === config.cleanExit) {
      session.leave(room.jid, room.nick, config.cleanExit);
      ended("The counsellor has ended the chat. Thank you for talking with us.");
    } else {
      counsellorAway = true;
      systemLine("The counsellor's connection dropped. They may come back in a moment.");
    }
  }
}

function onLost() {
  if (saved.phase !== "waiting" && saved.phase !== "chatting") return;
  if (room) room.joined = false;
  notice("The connection was lost. Trying to reconnect…");
  setTimeout(reconnect, reconnectDelay);
  reconnectDelay = Math.min(reconnectDelay * 2, 10000);
}

/** Back after a refresh or a dropped connection: into the chat, or back in line. */
async function reconnect() {
  try {
    await ensureConnected();
    reconnectDelay = 1000;
    if (saved.room) {
      const reply = await session.command("resume-chat", { key: saved.key });
      if (reply.status === "resumed") {
        // The invitation comes before this answer, and the join may be done already.
        if (!room?.joined) connection("Rejoining your chat…");
        notice("");
      } else {
        saved.room = null;
        ended("Your chat has ended: the connection was lost for too long.");
      }
    } else {
      await requestChat();
    }
  } catch (error) {
    console.warn("reconnect", error);
    onLost();
  }
}

$("nick").value = saved.nick || "";
$("topic").value = saved.topic || "";
if (saved.phase === "waiting" || saved.phase === "chatting") {
  phase(saved.phase);
  connection("Reconnecting…");
  reconnect();
} else {
  phase("start");
}
