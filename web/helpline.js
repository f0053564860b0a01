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

/**
 * Draws the question fields of a bot's form (session.js Reply `form`) into `box`: a choice or
 * yes/no (list-single) as radio buttons, a text as a box; `optional` marks those not required.
 * Only the fields `wanted` picks (by default `q-*`); what was filled in stays (`values` first).
 */
export function drawForm(box, fields, optional, values = readForm(box), wanted = (f) => f.name.startsWith("q-")) {
  box.replaceChildren();
  for (const f of fields.filter(wanted)) {
    const id = `${box.id}-${f.name}`;
    const value = values[f.name] ?? f.value;
    // The question, and "(optional)" after it when it may be left open.
    const words = (el) => {
      el.textContent = f.label;
      if (f.required || !optional) return;
      const hint = document.createElement("span");
      hint.className = "hint";
      hint.textContent = optional;
      el.append(" ", hint);
    };
    let el;
    if (f.type === "list-single") {
      el = document.createElement("fieldset");
      const legend = document.createElement("legend");
      words(legend);
      el.append(legend);
      for (const [i, [v, label]] of f.options.entries()) {
        const span = document.createElement("span");
        span.className = "choice";
        span.innerHTML = `<input type="radio"><label></label>`;
        const [input, l] = span.children;
        Object.assign(input, { id: `${id}-${i}`, name: f.name, value: v, required: f.required, checked: v === value });
        l.htmlFor = input.id;
        l.textContent = label;
        el.append(span);
      }
    } else if (f.type === "text-single") {
      el = document.createElement("div");
      el.innerHTML = `<label></label><input maxlength="300" autocomplete="off">`;
      const [l, input] = el.children;
      Object.assign(input, { id, name: f.name, value, required: f.required });
      l.htmlFor = id;
      words(l);
    } else continue;
    box.append(el);
  }
}

/** What `box`'s fields hold: `{ name: value }` (a radio group by its checked one). */
export function readForm(box) {
  const values = {};
  for (const input of box.querySelectorAll("input")) if (input.type !== "radio" || input.checked) values[input.name] = input.value.trim();
  return values;
}
