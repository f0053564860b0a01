// The visitor page: an anonymous login, a request for a chat, the place in the queue while
// waiting, the chat the bot's invitation leads to, and the way back into it after a refresh or a
// dropped connection (docs/protocol.md). What the tab keeps, in sessionStorage only: the
// visitor key, the name and topic typed, and which room the chat is in; never the messages.

import { Session, config, child, NS } from "./session.js";
import { ChatRoom } from "./chatroom.js";
import { appendLine, messageBox, put, show } from "./helpline.js";

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

/**
 * The page's state: `go()` changes it, `render()` draws the page from it and nothing else (but
 * the conversation, a log that only grows). `phase` is where the visitor is:
 *   start                   the form
 *   closed, busy, blocked   refused: the form again, `notice` says why
 *   error                   something went wrong (no answer, or one the page does not know):
 *                           the form again, `notice` says what
 *   waiting                 in line; `place` says where
 *   chatting                in the chat (or on the way back into it: `connection` says so)
 *   ended                   the conversation stays in view; the form offers a new chat
 * Beside it, what the page says: `notice` (the alert), `connection`, `place` and `typing`.
 * Only waiting and chatting outlive a refresh: the page then goes back by itself.
 */
const view = { phase: "start", notice: "", connection: "", place: "", typing: "" };

function go(changes) {
  Object.assign(view, changes);
  saved.phase = view.phase;
  save();
  render();
}

function render() {
  const { phase } = view;
  document.body.dataset.phase = phase;
  put($("start-title"), phase === "ended" ? "Start a new chat" : "Start a chat");
  show($("start"), phase !== "waiting" && phase !== "chatting");
  show($("waiting"), phase === "waiting");
  show($("chat"), phase === "chatting" || phase === "ended");
  show($("send-form"), phase === "chatting");
  show($("end"), phase === "chatting");
  put($("notice"), view.notice);
  show($("notice"), !!view.notice);
  put($("connection"), view.connection);
  put($("place"), view.place);
  put($("typing"), view.typing);
}

function systemLine(text) {
  appendLine($("messages"), { text, system: true });
}

async function ensureConnected() {
  if (session.connected) return;
  go({ connection: "Connecting…" });
  await session.connect(config.visitorDomain);
  session.presenceToBot();
  go({ connection: "" });
}

/** Minutes and seconds in words: "about 3 minutes". */
function waitWords(seconds) {
  if (seconds < 90) return "about a minute";
  return `about ${Math.round(seconds / 60)} minutes`;
}

function placeText(position, estimate) {
  const place = Number(position) === 1 ? "You are next in the queue." : `You are number ${position} in the queue.`;
  return place + (estimate ? ` The wait is ${waitWords(Number(estimate))}.` : "");
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
    return go({ phase: "waiting", notice: "", place: placeText(reply.fields.get("position"), reply.fields.get("estimate")) });
  }
  session.disconnect();
  const refused = REFUSALS[reply.status] ? reply.status : "error";
  go({ phase: refused, notice: REFUSALS[refused] || reply.note || "Something went wrong. Please try again." });
}

$("start-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  saved.nick = $("nick").value.trim();
  saved.topic = $("topic").value.trim();
  if (!saved.nick) return;
  $("start-button").disabled = true;
  try {
    // A new chat: the last one's conversation goes from the page.
    go({ phase: "start", notice: "" });
    $("messages").replaceChildren();
    await ensureConnected();
    await requestChat();
  } catch (error) {
    go({ phase: "error", connection: "", notice: "We could not reach the help line. Please check your connection and try again." });
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
  go({ phase: "start", notice: "You have left the queue." });
});

messageBox($("send-form"), $("text"), () => (room?.joined ? room : null));

$("end").addEventListener("click", () => {
  room?.leave();
  ended("You ended the chat. Thank you for talking with us.");
});

/** The chat is over: say why, keep the conversation readable, offer a new chat. */
function ended(words) {
  systemLine(words);
  room?.close();
  room = null;
  saved.room = null;
  go({ phase: "ended", notice: words, typing: "" });
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
  go({ connection: "A counsellor is ready. Joining the chat…" });
  room.join(invitation.password);
}

/** A place in line pushed by the bot. */
function onMessage(el) {
  const queue = child(el, "queue", NS.queue);
  if (queue && el.getAttribute("from") === config.bot) {
    if (view.phase === "waiting") go({ place: placeText(queue.getAttribute("position"), queue.getAttribute("estimate")) });
  }
}

/** The chat's room, and what the page does with what happens in it. */
function chatRoom(jid) {
  return new ChatRoom(session, jid, saved.nick)
    .on("joined", () => {
      go({ phase: "chatting", connection: "", notice: "" });
      systemLine(room.peer ? `You are in the chat with ${room.peer}.` : "You are in the chat.");
      $("text").focus();
    })
    .on("message", ({ nick, text, stamp, mine }) => {
      if (!nick) return systemLine(text);
      appendLine($("messages"), { who: mine ? "You" : nick, text, stamp, mine });
    })
    .on("typing", ({ composing }) => {
      go({ typing: composing ? "The counsellor is typing…" : "" });
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
  if (view.phase !== "waiting" && view.phase !== "chatting") return;
  go({ notice: "The connection was lost. Trying to reconnect…" });
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
        go({ notice: "", connection: room?.joined ? view.connection : "Rejoining your chat…" });
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
  go({ phase: saved.phase, connection: "Reconnecting…" });
  reconnect();
} else {
  go({ phase: "start" });
}
