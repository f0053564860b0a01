// What both pages show alike: the notice, a conversation, a message box (the page's side only).

/**
 * Wires a message box: Enter sends (Shift+Enter is a new line), typing is told (ChatRoom.typed)
 * to `roomOf()`, the ChatRoom to send to, or none while one may not (not joined, or ended).
 */
export function messageBox(form, textarea, roomOf) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const room = roomOf();
    if (!textarea.value.trim() || !room) return;
    room.say(textarea.value);
    textarea.value = "";
  });
  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  textarea.addEventListener("input", () => roomOf()?.typed(!!textarea.value));
}

/** Sets the text of `el`, unless it shows that already (a live region would say it again). */
export function put(el, text) {
  if (el.textContent !== text) el.textContent = text;
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

/**
 * Appends one line to a message list: `who` said `text` at `stamp` (`mine` for one's own), the
 * time in `locale`'s way. Name and text are isolated, so a right-to-left name or message reads right in a
 * left-to-right page and the other way round.
 */
export function appendLine(list, { who, text, stamp = new Date(), mine = false, system = false, locale = [] }) {
  const li = document.createElement("li");
  li.className = system ? "system" : mine ? "mine" : "theirs";
  const time = document.createElement("time");
  time.dateTime = stamp.toISOString();
  time.textContent = stamp.toLocaleTimeString(locale, { hour: "2-digit", minute: "2-digit" });
  li.append(time, " ");
  if (!system) {
    const name = document.createElement("b");
    const bdi = document.createElement("bdi");
    bdi.textContent = who;
    name.append(bdi, ":");
    li.append(name, " ");
  }
  const span = document.createElement("span");
  span.dir = "auto";
  span.textContent = text;
  li.append(span);
  list.append(li);
  li.scrollIntoView({ block: "nearest" });
  return li;
}
