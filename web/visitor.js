// The visitor page: an anonymous login, a request for a chat, the place in the queue while
// waiting, the chat the bot's invitation leads to, and the way back into it after a refresh or a
// dropped connection (docs/protocol.md). What the tab keeps, in sessionStorage only: the
// visitor key, the name and topic typed, and which room the chat is in; never the messages.

import { Session, config, child, NS } from "./session.js";
import { ChatRoom } from "./chatroom.js";
import { appendLine, messageBox, notice, show } from "./helpline.js";

const $ = (id) => document.getElementById(id);
const STORE = "helpim-visitor";

/** A random visitor key: 128 bits from the browser's CSPRNG, base64url (22 characters). */
function randomKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** What survives a refresh of this tab: `{ key, nick, topic, phase, room }`. */
const saved = JSON.parse(sessionStorage.getItem(STORE) || "null") || { key: randomKey(), phase: "start" };
const save = () => sessionStorage.setItem(STORE, JSON.stringify(saved));

/** The chat's room once invited (a ChatRoom: its counsellor is its `peer`). */
let room = null;

const session = new Session({ onInvite, onMessage, onLost });

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

/** Minutes and seconds in words: "about 3 minutes". */
function waitWords(seconds) {
  if (seconds < 90) return "about a minute";
  return `about ${Math.round(seconds / 60)} minutes`;
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

messageBox($("send-form"), $("text"), () => (room?.joined ? room : null));

$("end").addEventListener("click", () => {
  room?.leave();
  ended("You ended the chat. Thank you for talking with us.");
});

/** The chat is over: say why, keep the conversation readable, offer a new chat. */
function ended(words) {
  systemLine(words);
  notice(words);
  room?.close();
  room = null;
  saved.room = null;
  $("typing").textContent = "";
  phase("ended");
  session.disconnect();
}

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
  connection("A counsellor is ready. Joining the chat…");
  room.join(invitation.password);
}

/** A place in line pushed by the bot. */
function onMessage(el) {
  const queue = child(el, "queue", NS.queue);
  if (queue && el.getAttribute("from") === config.bot) {
    if (saved.phase === "waiting") placeText(queue.getAttribute("position"), queue.getAttribute("estimate"));
  }
}

/** The chat's room, and what the page does with what happens in it. */
function chatRoom(jid) {
  return new ChatRoom(session, jid, saved.nick)
    .on("joined", () => {
      connection("");
      notice("");
      phase("chatting");
      systemLine(room.peer ? `You are in the chat with ${room.peer}.` : "You are in the chat.");
      $("text").focus();
    })
    .on("message", ({ nick, text, stamp, mine }) => {
      if (!nick) return systemLine(text);
      appendLine($("messages"), { who: mine ? "You" : nick, text, stamp, mine });
    })
    .on("typing", ({ composing }) => {
      $("typing").textContent = composing ? "The counsellor is typing…" : "";
    })
    .on("arrived", ({ nick, isNew, back }) => {
      if (room.joined && isNew) systemLine(`${nick} has joined the chat.`);
      else if (room.joined && back) systemLine(`${nick} is back.`);
    })
    .on("departed", ({ peer, clean }) => {
      if (!peer) return;
      if (clean) {
        room.leave();
        ended("The counsellor has ended the chat. Thank you for talking with us.");
      } else {
        systemLine("The counsellor's connection dropped. They may come back in a moment.");
      }
    })
    .on("closed", () => ended("The chat has ended."))
    // Someone in the room has this name even after a few others, or the room is gone.
    .on("failed", () => ended("We could not join the chat. Please try again."));
}

function onLost() {
  if (saved.phase !== "waiting" && saved.phase !== "chatting") return;
  notice("The connection was lost. Trying to reconnect…");
  session.retry(reconnect);
}

/** Back after a refresh or a dropped connection: into the chat, or back in line. */
async function reconnect() {
  try {
    await ensureConnected();
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
