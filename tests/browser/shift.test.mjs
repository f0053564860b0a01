// A shift with the real bot and the real server: Kim takes Ana's chat, which shows Ana's topic and
// the time in chat, Kim's lines on the far side and Ana's on the near one; "End chat" and "Block"
// ask first; Pat, a supervisor, sees the chat among the live chats, watches it (the earlier lines
// first, then each new one) and whispers to Kim: the whisper shows in Kim's console, marked, and
// never on Ana's page; Kim asks for help and Pat is alerted; Kim offers the chat to Alex, who
// declines (Kim is told the chat stays; Ana notices nothing), then hands it to Alex, whose
// console asks before joining; Ana reads "Alex has joined the chat." and "Kim has left." and goes
// on chatting with Alex. The staff room shows as "Team". Run by tests/browser.rs
// (`browser_shift_handover_and_whisper`), with the bot's `staff.room` and `staff.supervisors` set.

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { DEADLINE, STAFF, STAFF2, STAFF3, assertQuiet, axeViolations, countText, launch, open, screenshot, setHidden, waitText } from "./lib.mjs";

const browser = await launch();
after(() => browser.close());

const SIZES = [
  ["", { width: 1280, height: 800 }],
  ["-1920", { width: 1920, height: 1080 }],
];

async function look(page, name, sizes = SIZES) {
  for (const [suffix, size] of sizes) {
    await page.setViewportSize(size);
    assert.deepEqual(await axeViolations(page), [], `axe-core on ${name} at ${size.width}×${size.height}`);
    await screenshot(page, `${name}${suffix}`, { fullPage: false });
  }
  await page.setViewportSize(sizes[0][1]);
}

async function signIn(page, account, name) {
  await page.fill("#jid", account.jid);
  await page.fill("#password", account.password);
  await page.fill("#name", name);
  await page.press("#password", "Enter");
  await page.locator("#desk").waitFor({ state: "visible", timeout: DEADLINE });
}


test("a chat on a shift: topic and time, sides, confirmations, a whisper, help, and a handover", async () => {
  const kim = await open(browser, "staff.html", { wire: true, viewport: SIZES[0][1] });
  await signIn(kim, STAFF, "Kim");
  const alex = await open(browser, "staff.html", { wire: true, viewport: SIZES[0][1] });
  await signIn(alex, STAFF2, "Alex");

  const ana = await open(browser, "/", { wire: true });
  await ana.fill("#nick", "Ana");
  await ana.fill("#topic", "exam stress");
  await ana.press("#nick", "Enter");
  await waitText(ana, "#place", "You are next in the queue.");
  await waitText(kim, "#waiting li", "exam stress");
  await kim.click("#take-next");
  await waitText(ana, "#messages li", "You are in the chat");
  await waitText(kim, ".pane:not([hidden]) .state", "Ana is here.");
  // The chat shows Ana's topic and how long it has run.
  await waitText(kim, ".pane:not([hidden]) .topic", "Topic: exam stress");
  await waitText(kim, ".pane:not([hidden]) .since", "In chat for under a minute");

  // Kim's console is in a background tab: Ana's line is counted in its title, with a tone.
  await setHidden(kim, true);
  await ana.fill("#text", "I have three exams next week and cannot sleep");
  await ana.press("#text", "Enter");
  await waitText(kim, ".pane .messages li", "cannot sleep");
  await kim.waitForFunction(() => document.title === "(1) Help line console");
  assert.ok(Number(await kim.getAttribute("body", "data-sounds")) >= 1, "a tone for the new line");
  await setHidden(kim, false);
  await kim.waitForFunction(() => document.title === "Help line console");
  await kim.fill(".pane:not([hidden]) textarea", "That is a lot at once. What worries you most?");
  await kim.press(".pane:not([hidden]) textarea", "Enter");
  await waitText(ana, "#messages li", "What worries you most?");
  // Own lines on the far side, Ana's on the near side (and in other colours).
  const side = (cls) => kim.locator(`.pane:not([hidden]) .messages li.${cls}`).first().evaluate((li) => getComputedStyle(li).alignSelf);
  assert.equal(await side("mine"), "flex-end");
  assert.equal(await side("theirs"), "flex-start");
  await look(kim, "console-chat");

  // End chat asks first, saying what happens; "Keep chatting" keeps it.
  await kim.click(".pane:not([hidden]) .end");
  await waitText(kim, "#confirm-title", "End the chat with Ana?");
  await waitText(kim, "#confirm-text", "Ana reads that the chat has ended. You cannot reopen it.");
  assert.equal(await kim.evaluate(() => document.activeElement.id), "confirm-cancel", "Enter does not end the chat by mistake");
  await look(kim, "console-end-confirm");
  await kim.click("#confirm-cancel");
  await kim.locator("#confirm").waitFor({ state: "hidden" });
  // Block asks too, with the reason and for how long; cancelled here.
  await kim.click(".pane:not([hidden]) .block");
  await waitText(kim, "#confirm-title", "Block Ana?");
  await kim.locator("#reason").waitFor({ state: "visible" });
  await look(kim, "console-block-confirm");
  await kim.keyboard.press("Escape");
  await kim.locator("#confirm").waitFor({ state: "hidden" });
  await waitText(kim, ".pane:not([hidden]) .state", "Ana is here.");
  // The actions sit above the conversation, Send below it: far apart.
  const gap = await kim.evaluate(() => {
    const pane = document.querySelector(".pane:not([hidden])");
    return pane.querySelector(".send button").getBoundingClientRect().top - pane.querySelector(".end").getBoundingClientRect().bottom;
  });
  assert.ok(gap > 150, `End chat is far from Send (${gap}px)`);

  // Pat, a supervisor, signs in: the chat is among the live chats; Pat watches it.
  const pat = await open(browser, "staff.html", { viewport: SIZES[0][1] });
  await signIn(pat, STAFF3, "Pat");
  await pat.locator("#supervise").waitFor({ state: "visible", timeout: DEADLINE });
  await waitText(pat, "#live tr", "exam stress");
  assert.match(await pat.textContent("#live tr"), /Kim.*Ana.*exam stress/);
  await pat.click("#live button[aria-label='Watch Kim’s chat with Ana']");
  await waitText(pat, "#watch-title", "Watching Kim’s chat with Ana");
  // The earlier lines first, then each line as the bot stores it.
  await waitText(pat, "#watch-lines li", "What worries you most?");
  assert.match(await pat.textContent("#watch-lines li:nth-child(1)"), /Ana: I have three exams/);
  await ana.fill("#text", "That I fail and have to tell my parents");
  await ana.press("#text", "Enter");
  await waitText(pat, "#watch-lines li", "tell my parents");
  // Pat whispers to Kim: shown in Kim's console, marked; never on Ana's page.
  await pat.fill("#whisper-text", "Ask how she slept before the exams started");
  await pat.click("#whisper-form button[type=submit]");
  await waitText(pat, "#watch-lines li", "Whispered to Kim: Ask how she slept");
  // The bot names the supervisor by the name Pat signed in with, not their address.
  await waitText(kim, ".pane:not([hidden]) .messages li.whisper", "Pat, supervisor (only you see this): Ask how she slept");
  await look(pat, "console-supervisor-watching");
  await look(kim, "console-whisper");

  // Kim asks for help: Pat, on duty, is alerted loudly with the chat.
  await kim.click(".pane:not([hidden]) .help");
  await waitText(kim, "#confirm-title", "Ask a supervisor for help");
  await kim.fill("#note", "She mentions not eating");
  await kim.click("#confirm-ok");
  await waitText(kim, ".pane:not([hidden]) .messages li", "A supervisor has been asked to help.");
  await waitText(pat, "#help-requests li", "Kim asks for help");
  await waitText(pat, "#help-requests li", "She mentions not eating");
  assert.equal(await pat.getAttribute("body", "data-last-sound"), "loud");
  await look(pat, "console-help-request");

  // Kim offers the chat to Alex, who declines: Kim is told the chat stays with her.
  await kim.click(".pane:not([hidden]) .handover");
  await waitText(kim, "#confirm-title", "Hand over the chat with Ana");
  await kim.fill("#colleague", "staff2");
  await kim.click("#confirm-ok");
  await waitText(kim, ".pane:not([hidden]) .messages li", "Handover offered.");
  await waitText(alex, "#confirm-title", "Kim hands you a chat");
  await alex.click("#confirm-cancel");
  await waitText(alex, "#notice", "You declined the chat. It stays with Kim.");
  await waitText(kim, ".pane:not([hidden]) .messages li", "The handover did not happen");
  assert.ok(alex.sent.some((f) => /node=["']decline-handover["']/.test(f)), "Decline tells the bot");
  await waitText(ana, "#messages li", "What worries you most?");
  assert.equal(await countText(ana, "#messages li", "has left"), 0, "Ana noticed nothing");

  // Kim hands the chat to Alex, with a note.
  await kim.click(".pane:not([hidden]) .handover");
  await waitText(kim, "#confirm-title", "Hand over the chat with Ana");
  await kim.fill("#colleague", "staff2");
  await kim.fill("#note", "needs a Dutch speaker");
  await look(kim, "console-handover");
  await kim.click("#confirm-ok");
  await waitText(kim, ".pane:not([hidden]) .messages li:last-child", "Handover offered.");
  const handOver = kim.sent.findLast((f) => /node=["']hand-over["']/.test(f));
  assert.match(handOver, /var=["']to["']><value>staff2@localhost</);
  assert.match(handOver, /var=["']note["']><value>needs a Dutch speaker</);
  // Alex's console asks before joining.
  await waitText(alex, "#confirm-title", "Kim hands you a chat");
  await waitText(alex, "#confirm-text", /Note: needs a Dutch speaker\s+Topic: exam stress/);
  await look(alex, "console-handover-offered");
  await alex.click("#confirm-ok");
  await waitText(alex, ".pane:not([hidden]) .state", "Ana is here.");
  await waitText(ana, "#messages li", "Alex has joined the chat.");
  await waitText(kim, ".pane:not([hidden]) .messages li", "Alex has joined the chat.");
  // Alex sees the chat with Ana as its visitor (Kim is the colleague, not the peer).
  await waitText(alex, ".pane:not([hidden]) .who", "Chat with Ana");
  await waitText(alex, ".pane:not([hidden]) .topic", "Topic: exam stress");
  // The time in chat counts from the chat's first line, not from Alex's arrival.
  await waitText(alex, ".pane:not([hidden]) .since", "In chat for");
  await waitText(kim, ".pane .state", "Alex has taken over this chat. You have left it.");
  await waitText(ana, "#messages li", "Kim has left.");
  await waitText(alex, ".pane:not([hidden]) .messages li", "Kim has left.");
  // The chat goes on with Alex.
  await alex.fill(".pane:not([hidden]) textarea", "Hallo Ana, ik ben Alex.");
  await alex.press(".pane:not([hidden]) textarea", "Enter");
  await waitText(ana, "#messages li", "ik ben Alex");
  await ana.fill("#text", "Dank je");
  await ana.press("#text", "Enter");
  await waitText(alex, ".pane:not([hidden]) .messages li", "Dank je");
  assert.equal(await ana.isVisible("#ended-words"), false, "the chat did not end");
  // The whisper never reached Ana's page (her later lines came, it did not).
  assert.equal(await countText(ana, "#messages li", "Ask how she slept"), 0);
  // Nor did any frame of it reach her page's WebSocket.
  assert.deepEqual(ana.received.filter((f) => f.includes("Ask how she slept") || f.includes("urn:helpim:supervise")), [], "the whisper never reaches the visitor");
  assert.deepEqual(await axeViolations(ana), [], "axe-core on the visitor page after a handover");
  await screenshot(ana, "visitor-handover", { fullPage: false });
  await ana.setViewportSize({ width: 390, height: 844 });
  assert.deepEqual(await axeViolations(ana), [], "axe-core on the visitor page after a handover, phone-sized");
  await screenshot(ana, "visitor-handover-phone", { fullPage: false });
  await look(alex, "console-after-handover");

  // Alex ends the chat, confirmed.
  await alex.click(".pane:not([hidden]) .end");
  await alex.click("#confirm-ok");
  await waitText(ana, "#ended-words", "The counsellor has ended the chat.");
  // Pat's watch follows the chat to its end.
  await waitText(pat, "#watch-lines li", "ik ben Alex");
  await waitText(pat, "#watch-lines li", "This chat has ended.");
  assertQuiet([kim, alex, ana, pat]);
});

test("a visitor given Kim's room at once: their name and topic show from the bot's word, not a push", async () => {
  const kim = await open(browser, "staff.html", { wire: true, viewport: SIZES[0][1] });
  await signIn(kim, STAFF, "Kim");
  // Kim takes a room with nobody waiting: it waits for a visitor.
  await kim.click("#take-next");
  await waitText(kim, ".pane:not([hidden]) .state", "Waiting for a visitor to join");
  // Dan asks for a chat and is given Kim's room at the bot's next sweep, before any push need
  // list him: Kim's console learns who is coming and why from the bot's <visitor/> headline.
  const dan = await open(browser, "/");
  await dan.fill("#nick", "Dan");
  await dan.fill("#topic", "debts and letters");
  await dan.press("#nick", "Enter");
  await waitText(kim, ".pane:not([hidden]) .topic", "Topic: debts and letters");
  await waitText(kim, ".pane:not([hidden]) .who", "Chat with Dan");
  assert.ok(
    kim.received.some((f) => /<visitor [^>]*urn:helpim:staff:0/.test(f) && !f.includes("<shift") && f.includes("debts and letters") && f.includes("Dan")),
    "the bot told Kim who is coming",
  );
  await waitText(dan, "#messages li", "You are in the chat");
  await waitText(kim, ".pane:not([hidden]) .state", "Dan is here.");
  await waitText(kim, ".pane:not([hidden]) .topic", "Topic: debts and letters");
  await dan.click("#end");
  await waitText(kim, ".pane:not([hidden]) .state", "Dan has ended the chat.");
  assertQuiet([kim, dan]);
});

test("the staff room shows as Team, with the bot's announcements", async () => {
  const kim = await open(browser, "staff.html", { viewport: SIZES[0][1], wire: true });
  await signIn(kim, STAFF, "Kim");
  await kim.locator("#team").waitFor({ state: "visible", timeout: DEADLINE }).catch((e) => {
    const frames = [...kim.sent, ...kim.received].filter((f) => f.includes("team@"));
    throw new Error(`${e.message}\nthe frames about the team room: ${frames.join("\n")}`);
  });
  const ben = await open(browser, "/");
  await ben.fill("#nick", "Ben");
  await ben.fill("#topic", "housing");
  await ben.press("#nick", "Enter");
  await waitText(kim, "#team-lines li", "Ben is waiting");
  await waitText(kim, "#waiting li", "Ben");
  await kim.fill("#team-text", "I take Ben");
  await kim.press("#team-text", "Enter");
  await waitText(kim, "#team-lines li.mine", "I take Ben");
  await look(kim, "console-team");
  await ben.click("#leave");
  assertQuiet([kim, ben]);
});

test("a chat handed back to the queue: first in the list, marked, taken over by a colleague", async () => {
  const kim = await open(browser, "staff.html", { viewport: SIZES[0][1] });
  await signIn(kim, STAFF, "Kim");
  const alex = await open(browser, "staff.html", { viewport: SIZES[0][1] });
  await signIn(alex, STAFF2, "Alex");
  const cem = await open(browser, "/");
  await cem.fill("#nick", "Cem");
  await cem.fill("#topic", "loneliness");
  await cem.press("#nick", "Enter");
  await waitText(kim, "#waiting li", "Cem");
  await kim.click("#take-next");
  await waitText(cem, "#messages li", "You are in the chat");
  await waitText(kim, ".pane:not([hidden]) .state", "Cem is here.");
  await cem.fill("#text", "hi, are you there?");
  await cem.press("#text", "Enter");
  await waitText(kim, ".pane:not([hidden]) .messages li", "are you there?");

  await kim.click(".pane:not([hidden]) .handover");
  await kim.check("#to-queue");
  await kim.fill("#note", "my shift ends");
  await kim.click("#confirm-ok");
  await waitText(kim, ".pane:not([hidden]) .messages li", "Handover offered.");
  // First in everyone's list, marked as a handover, with the note and the topic.
  await waitText(alex, "#waiting li.handover", "Chat handed over by Kim");
  assert.match(await alex.textContent("#waiting li:nth-child(1)"), /Chat handed over by Kim.*loneliness.*Note: my shift ends/);
  // Cem is in a chat, not waiting: the list holds the handover only.
  await alex.locator("#waiting li:nth-child(2)").waitFor({ state: "detached", timeout: DEADLINE });
  await look(alex, "console-handover-queue");
  await alex.click("#waiting li.handover button");
  // Taken from the list: joined without asking again.
  await waitText(alex, ".pane:not([hidden]) .state", "Cem is here.");
  await waitText(alex, ".pane:not([hidden]) .who", "Chat with Cem");
  await waitText(cem, "#messages li", "Alex has joined the chat.");
  await waitText(kim, ".pane .state", "Alex has taken over this chat. You have left it.");
  await waitText(cem, "#messages li", "Kim has left.");
  await alex.fill(".pane:not([hidden]) textarea", "Hi Cem, I am Alex, I take over from Kim.");
  await alex.press(".pane:not([hidden]) textarea", "Enter");
  await waitText(cem, "#messages li", "I take over from Kim");
  await cem.click("#end");
  await waitText(alex, ".pane:not([hidden]) .state", "Cem has ended the chat.");
  assertQuiet([kim, alex, cem]);
});
