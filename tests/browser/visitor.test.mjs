// The visitor page for a person in distress, on a shared device, on a phone (SPEC §12): told at
// once whether the line is open, calmly, with the hours and other ways to get help (closed, busy,
// blocked); honest words for the wait; the place kept over a refresh and asked again when a phone
// brings the tab back; the counsellor noticed in a hidden tab; a calm ending; a quick exit that
// leaves cleanly, clears the tab and cannot be gone back to; a reopened tab that shows the start
// page while a refresh resumes; every state accessible, on a phone-sized screen too. Run by
// tests/browser.rs (`browser_visitor_…`: auto mode, a queue of 2). The bot has no `line-status`
// yet: the page's fallback is tried against it, and the answers it will give are given by the
// test in its place (lib.mjs `answer`), as are the wait estimates, `soon` and `closes-in`.

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import {
  BOT,
  DEADLINE,
  STAFF,
  WEB,
  answer,
  assertQuiet,
  axeViolations,
  drop,
  inject,
  launch,
  open,
  screenshot,
  sentFields,
  setHidden,
  waitText,
} from "./lib.mjs";

const browser = await launch();
after(() => browser.close());

const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1100, height: 900 };
const pages = [];

/** Checks axe-core finds no serious violation on `page` in the state it is in (`what`). */
async function accessible(page, what) {
  assert.deepEqual(await axeViolations(page), [], `axe-core on ${what}`);
}

/**
 * Screenshots at desktop size (the whole page) and at phone size (what the screen shows, and
 * the whole page), and axe-core at both.
 */
async function both(page, name, what) {
  await accessible(page, what);
  await screenshot(page, name);
  await page.setViewportSize(PHONE);
  await accessible(page, `${what} on a phone`);
  await screenshot(page, `${name}-phone`, { fullPage: false });
  await screenshot(page, `${name}-phone-all`);
  await page.setViewportSize(DESKTOP);
}

/** The quick exit is there and on screen (not scrolled away), whatever the state. */
async function exitVisible(page, what) {
  const box = await page.locator("#exit").boundingBox();
  assert.ok(box && box.y >= 0 && box.y + box.height <= page.viewportSize().height, `quick exit on screen: ${what}`);
  assert.ok(box.width >= 24 && box.height >= 24, `quick exit at least 24 px: ${what}`);
}

async function startChat(page, nick, topic = "") {
  await page.locator("#nick").waitFor({ state: "visible", timeout: DEADLINE });
  await page.fill("#nick", nick);
  await page.fill("#topic", topic);
  await page.press("#nick", "Enter");
}

async function storageSize(page) {
  return page.evaluate(() => sessionStorage.length + localStorage.length);
}

/** The staff member on duty (the console), signed in. */
async function signIn() {
  const staff = await open(browser, "staff.html");
  await staff.fill("#jid", STAFF.jid);
  await staff.fill("#password", STAFF.password);
  await staff.fill("#name", "Kim");
  await staff.press("#password", "Enter");
  await waitText(staff, "#status dd[data-field=open]", "yes");
  return staff;
}

/** A queue push from the bot, as the bot sends it. */
function push(page, attrs) {
  const list = Object.entries(attrs)
    .map(([k, v]) => `${k}='${v}'`)
    .join(" ");
  inject(page, `<message xmlns='jabber:client' type='headline' from='${BOT}'><queue xmlns='urn:helpim:queue:0' ${list}/></message>`);
}

let staff;
/** The page whose connection the test cut (strophe.js reports it in the console). */
let dropped;

test("on arrival: the one-time notice, and closed told calmly with hours and other ways", async () => {
  // Nobody is on duty: the bot's line-status says closed (no-staff), and the page says so at
  // once, calmly, with the hours and the other ways to get help: nothing to type.
  const ada = await open(browser, "/", { wire: true });
  pages.push(ada);
  await waitText(ada, "#refused-title", "The help line is closed right now");
  assert.deepEqual(sentFields(ada, "line-status", "x"), [null], "the page asked line-status on arrival");
  assert.match(ada.sent.find((f) => f.includes("line-status")), /xml:lang=["']en["']/, "in the page's language");
  await waitText(ada, "#hours", "Every evening from 18:00 to 02:00.");
  await waitText(ada, "#emergency", "In danger right now? Call 112.");
  assert.equal(await ada.isVisible("#start-form"), false, "nothing to type while closed");
  assert.equal(await ada.isVisible("#notice"), false, "closed is not an error");
  await exitVisible(ada, "closed");
  await both(ada, "visitor-closed-no-staff", "closed on arrival, nobody on duty");
  // With the line open (the bot's answer given here in its place), the page shows the form,
  // with the notice about leaving quickly and the device, and the privacy words.
  const ana = await open(browser, "/", { wire: true, fake: { "line-status": answer("line-status", { open: "true", reason: "", "next-opening": "" }) } });
  pages.push(ana);
  await ana.locator("#nick").waitFor({ state: "visible", timeout: DEADLINE });
  await waitText(ana, "#safety", "press the Shift key 3 times");
  await waitText(ana, "#safety", "Nothing from this chat stays on this device");
  await waitText(ana, "#privacy", "erase them when the chat ends");
  assert.equal(await ana.locator("#safety").count(), 1, "said once");
  await exitVisible(ana, "start");
  await both(ana, "visitor-start", "the start page with its notice");
  // Nobody on duty after all (the real bot's request-chat): closed, calmly (no alert), with
  // hours and alternatives.
  await startChat(ana, "Ana");
  await waitText(ana, "#refused-title", "The help line is closed right now");
  await waitText(ana, "#hours", "Every evening from 18:00 to 02:00.");
  await waitText(ana, "#emergency", "In danger right now? Call 112.");
  assert.deepEqual(await ana.locator("#alternatives a").evaluateAll((as) => as.map((a) => a.getAttribute("href"))), ["tel:08000000", "sms:+31600000000"]);
  assert.equal(await ana.isVisible("#notice"), false, "closed is not an error");
  assert.notEqual(await ana.locator("#refused").evaluate((el) => getComputedStyle(el).color), "rgb(138, 28, 28)", "not in red");
  await both(ana, "visitor-closed", "closed, after asking");

  // The bot's line-status (given here in its place): closed outside the hours, said at once.
  const closed = answer("line-status", { open: "false", reason: "outside-hours", "next-opening": "2026-12-07T17:00:00Z" });
  const bea = await open(browser, "/", { wire: true, fake: { "line-status": closed } });
  pages.push(bea);
  await waitText(bea, "#refused-title", "The help line is closed right now");
  await waitText(bea, "#refused-why", "We are outside our opening hours.");
  await waitText(bea, "#next-opening", /We open again on Monday at \d{1,2}:\d\d/);
  assert.equal(await bea.isVisible("#start-form"), false, "nothing to type while closed");
  await exitVisible(bea, "closed");
  await both(bea, "visitor-closed-on-arrival", "closed on arrival");
  // No staff, and then open: "Check again" asks again, and the form comes.
  bea.fake["line-status"] = answer("line-status", { open: "true", reason: "", "next-opening": "" });
  await bea.click("#again");
  await bea.locator("#nick").waitFor({ state: "visible", timeout: DEADLINE });
  assert.equal(sentFields(bea, "line-status", "x").length, 2);
});

test("honest waits, worded; the place kept over a refresh and asked again when seen again; busy", async () => {
  staff = await signIn();
  pages.push(staff);
  const ana = await open(browser, "/", { wire: true });
  pages.push(ana);
  await startChat(ana, "Ana", "exams");
  await waitText(ana, "#place", "You are next in the queue.");
  // No estimate: the place alone.
  assert.equal(await ana.textContent("#wait"), "", "no estimate, no words about the wait");
  await both(ana, "visitor-waiting-place", "waiting, the place only");
  const waits = [
    [{ estimate: 120 }, "The wait is a few minutes."],
    [{ estimate: 640 }, "The wait is about 10 minutes."],
    [{ estimate: 1500 }, "The wait is about 25 minutes."],
    [{ estimate: 1700 }, "The wait is about half an hour."],
    [{ estimate: 3600 }, "The wait is more than half an hour."],
    [{ estimate: 640, soon: "true" }, "A counsellor is about to join you."],
  ];
  for (const [attrs, words] of waits) {
    push(ana, { position: 1, ...attrs });
    await waitText(ana, "#wait", words);
  }
  await both(ana, "visitor-waiting-soon", "waiting, a counsellor about to join");
  push(ana, { position: 1, estimate: 640, "closes-in": 600 });
  await waitText(ana, "#closing", "The help line closes in 10 minutes; you will still be helped.");
  await waitText(ana, "#wait", "about 10 minutes");
  await exitVisible(ana, "waiting");
  await both(ana, "visitor-waiting-closing", "waiting, the line closing soon");

  const ben = await open(browser, "/", { wire: true });
  pages.push(ben);
  await startChat(ben, "Ben");
  await waitText(ben, "#place", "You are number 2 in the queue.");

  // Ana refreshes: the page asks again by itself, with the same key, and shows the place it gets.
  // (Whether the bot gives her old place back is the bot's `queue.return_grace`, tested there.)
  // (The page first asks request-chat for its form, without a key: the questions before the chat.)
  const keys = (page) => sentFields(page, "request-chat", "key").filter(Boolean);
  const [key] = keys(ana);
  await ana.reload();
  await waitText(ana, "#place", /You are (next|number \d+) in the queue\./);
  assert.deepEqual(keys(ana), [key, key], "the same key after the refresh");

  // Ben's tab is seen again (a phone brings it back): still connected, the page asks for a fresh
  // place, with the same key.
  const [benKey] = keys(ben);
  const asked = () => keys(ben);
  await setHidden(ben, true);
  await setHidden(ben, false);
  await waitUntil(() => asked().length === 2, "Ben's page asked again when seen again");
  // The phone dropped the connection while the tab was in the background: seen again, the page
  // takes the session up at once and asks again, with the same key.
  await setHidden(ben, true);
  await drop(ben);
  dropped = ben;
  await setHidden(ben, false);
  await waitUntil(() => asked().length >= 3, "Ben's page asked again after the drop");
  await waitText(ben, "#place", /You are (next|number \d+) in the queue\./);
  await ben.locator("#notice").waitFor({ state: "hidden", timeout: DEADLINE });
  assert.ok(asked().every((k) => k === benKey), "with the same key");

  // The queue holds two: a third visitor hears it is full, calmly, with the other ways.
  const cem = await open(browser, "/");
  pages.push(cem);
  await startChat(cem, "Cem");
  await waitText(cem, "#refused-title", "All our counsellors are busy");
  await waitText(cem, "#hours", "Every evening");
  await waitText(cem, "#emergency", "112");
  assert.equal(await cem.isVisible("#notice"), false, "busy is not an error");
  await exitVisible(cem, "busy");
  await both(cem, "visitor-busy", "busy");
  // "Try again" leads back to the form, still filled in this page.
  await cem.click("#again");
  assert.equal(await cem.inputValue("#nick"), "Cem");
});

async function waitUntil(check, what) {
  const until = Date.now() + DEADLINE;
  while (!check()) {
    if (Date.now() > until) assert.fail(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Ana and Ben wait; which is next depends on whether the bot kept Ana's place over her refresh. */
let next;
let second;

test("the counsellor noticed in a hidden tab; a long chat; a calm end that clears the tab", async () => {
  // The bot tells a new place at most every 5 s: wait until one is next and the other is not.
  const until = Date.now() + DEADLINE;
  while (Date.now() < until) {
    next = second = undefined;
    for (const page of pages) {
      if (!page.sent || (await page.getAttribute("body", "data-phase")) !== "waiting") continue;
      const nick = sentFields(page, "request-chat", "nick").at(-1);
      const place = await page.textContent("#place");
      if (place === "You are next in the queue.") next = { page, nick };
      else second = { page, nick };
    }
    if (next && second) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.ok(next && second, "one of Ana and Ben is next, the other second");
  const ana = next.page;
  assert.equal(await ana.isChecked("#sound"), false, "no sound unless the visitor turns it on");
  await ana.evaluate(() => {
    window.beeps = 0;
    const make = AudioContext.prototype.createOscillator;
    AudioContext.prototype.createOscillator = function () {
      window.beeps += 1;
      return make.call(this);
    };
  });
  await ana.check("#sound");
  await ana.waitForFunction(() => window.beeps === 1); // the sample on turning it on
  await setHidden(ana, true);
  await staff.click("#take-next");
  await ana.waitForFunction(() => document.title.includes("A counsellor has joined your chat"), null, { timeout: DEADLINE });
  await ana.waitForFunction(() => window.beeps === 2);
  await waitText(staff, ".pane:not([hidden]) .state", `${next.nick} is here.`);
  await staff.fill(".pane:not([hidden]) textarea", "Hello, I am Kim.");
  await staff.press(".pane:not([hidden]) textarea", "Enter");
  await ana.waitForFunction(() => document.title.includes("1 new message"), null, { timeout: DEADLINE });
  await ana.waitForFunction(() => window.beeps === 3);
  await setHidden(ana, false);
  assert.equal(await ana.title(), "Chat with the help line", "the title is restored when seen");

  // A long chat: both lists scroll, and can be reached and scrolled by keyboard.
  for (let i = 1; i <= 25; i += 1) {
    await staff.fill(".pane:not([hidden]) textarea", `line ${i} of a long answer`);
    await staff.press(".pane:not([hidden]) textarea", "Enter");
  }
  await waitText(ana, "#messages li", "line 25 of a long answer");
  for (const [page, list] of [[ana, "#messages"], [staff, ".pane:not([hidden]) .messages"]]) {
    assert.ok(await page.locator(list).evaluate((el) => el.scrollHeight > el.clientHeight), `${list} scrolls`);
    assert.equal(await page.locator(list).getAttribute("tabindex"), "0");
  }
  await waitText(ana, "#keys", "Enter sends · Shift+Enter starts a new line");
  await accessible(staff, "the console with a long chat");
  await screenshot(staff, "staff-long-chat");
  await exitVisible(ana, "chatting");
  // The focused message box is not hidden under the quick-exit bar, on a phone either.
  await ana.setViewportSize(PHONE);
  await ana.focus("#text");
  const box = await ana.locator("#text").boundingBox();
  const bar = await ana.locator("header.top").boundingBox();
  assert.ok(box.y >= bar.y + bar.height - 1, "the focused control is not under the sticky bar");
  await ana.setViewportSize(DESKTOP);
  await both(ana, "visitor-long-chat", "the visitor page with a long chat");

  // Ana ends the chat: no alert, the conversation stays, the next steps; the tab keeps nothing.
  assert.ok((await storageSize(ana)) > 0, "the tab keeps the chat while it lasts");
  await ana.click("#end");
  await waitText(ana, "#ended-words", "You ended the chat. Thank you for talking with us.");
  await waitText(staff, ".pane:not([hidden]) .state", `${next.nick} has ended the chat.`);
  assert.equal(await ana.isVisible("#notice"), false, "an ending is not an error");
  await waitText(ana, "#messages li", "line 25 of a long answer");
  await waitText(ana, "#resources a", "Tips for difficult moments");
  await waitText(ana, "#new-chat", "Start a new chat");
  assert.equal(await storageSize(ana), 0, "nothing stored after End chat");
  await both(ana, "visitor-ended", "the ended chat");
  await ana.click("#new-chat");
  await ana.locator("#nick").waitFor({ state: "visible", timeout: DEADLINE });
  assert.equal(await ana.inputValue("#nick"), "", "the form is not pre-filled");
  assert.equal(await ana.inputValue("#topic"), "");
  assert.equal(await ana.locator("#messages li").count(), 0, "a new chat starts with an empty page");
  await staff.click(".pane:not([hidden]) .end");
});

test("quick exit: a clean leave, nothing stored, a neutral page Back does not leave", async () => {
  // Ben is next: in a chat, he presses Shift 3 times (capitals typed before do not count).
  const ben = second.page;
  await staff.click("#take-next");
  await waitText(ben, "#messages li", "You are in the chat");
  await ben.focus("#text");
  for (const letter of ["KeyH", "KeyI", "KeyM"]) {
    await ben.keyboard.down("Shift");
    await ben.keyboard.press(letter);
    await ben.keyboard.up("Shift");
  }
  assert.equal(new URL(ben.url()).pathname, "/", "typing capitals is no exit");
  assert.ok((await storageSize(ben)) > 0);
  await ben.keyboard.press("Shift");
  await waitText(ben, "#exit-status", "Press Shift 2 more times to exit this page.");
  await ben.keyboard.press("Shift");
  await waitText(ben, "#exit-status", "Press Shift 1 more time to exit this page.");
  await ben.keyboard.press("Shift");
  await ben.waitForURL(/away\.html$/, { timeout: DEADLINE });
  await waitText(staff, ".pane:not([hidden]) .state", `${second.nick} has ended the chat.`);
  assert.equal(await storageSize(ben), 0, "nothing stored after the quick exit");
  await both(ben, "visitor-quick-exit", "the neutral page");
  // Back does not return to the help line: the exit replaced it in the tab's history.
  await ben.goBack().catch(() => null);
  assert.notEqual(new URL(ben.url(), WEB).pathname, "/", `Back after the quick exit shows ${ben.url()}`);
  await staff.click(".pane:not([hidden]) .end");

  // Dan, waiting, uses the button: out of line at once.
  const dan = await open(browser, "/");
  pages.push(dan);
  await startChat(dan, "Dan");
  await waitText(dan, "#place", /in the queue/);
  await waitText(staff, "#waiting", "Dan");
  await dan.click("#exit");
  await dan.waitForURL(/away\.html$/, { timeout: DEADLINE });
  assert.equal(await storageSize(dan), 0);
  await staff.locator("#waiting tr", { hasText: "Dan" }).waitFor({ state: "detached", timeout: DEADLINE });
});

test("a reopened tab shows the start page, never the chat; a refresh resumes it", async () => {
  const eve = await open(browser, "/");
  pages.push(eve);
  await startChat(eve, "Eve");
  await waitText(eve, "#place", /in the queue/);
  await staff.click("#take-next");
  await waitText(eve, "#messages li", "You are in the chat");
  await eve.fill("#text", "a secret only Eve should see");
  await eve.press("#text", "Enter");
  await waitText(staff, ".pane:not([hidden]) .messages li", "a secret only Eve should see");
  // A refresh resumes the chat, with its lines.
  await eve.reload();
  await waitText(eve, "#messages li", "a secret only Eve should see");
  await waitText(eve, "#send-form", "Send");
  // The tab is closed and reopened (Ctrl+Shift+T): the browser gives it back its
  // sessionStorage and loads it as a history navigation (`back_forward`), as Back after another
  // page does here. The page starts afresh and clears what was stored.
  assert.ok((await storageSize(eve)) > 0);
  await eve.goto("about:blank");
  await eve.goBack();
  await eve.locator("#nick").waitFor({ state: "visible", timeout: DEADLINE });
  assert.equal(await eve.evaluate(() => performance.getEntriesByType("navigation")[0].type), "back_forward");
  assert.equal(await eve.locator("#messages li").count(), 0, "no line of the chat");
  assert.equal(await eve.isVisible("#chat"), false);
  assert.equal(await eve.inputValue("#nick"), "", "not even the name");
  assert.equal(await storageSize(eve), 0, "and the storage is cleared");
  await screenshot(eve, "visitor-reopened");
  // The address opened again in the tab is the same: a new start.
  await eve.goto(WEB);
  await eve.locator("#nick").waitFor({ state: "visible", timeout: DEADLINE });
  assert.equal(await eve.locator("#messages li").count(), 0);
  await staff.click(".pane:not([hidden]) .end");
});

test("in Arabic, right to left, every word from the catalog; the bot asked in Arabic; Dutch by choice", async () => {
  const keys = Object.keys(JSON.parse(readFileSync(new URL("../../web/i18n/en.json", import.meta.url), "utf8"))).filter((k) => !k.startsWith("_"));
  const noKeysShown = async (page, what) => {
    const text = await page.evaluate(() => document.body.innerText);
    const shown = keys.filter((k) => k.includes(".") && text.includes(k));
    assert.deepEqual(shown, [], `no catalog key shown instead of words: ${what}`);
  };
  const sara = await open(browser, "/", { wire: true, locale: "ar" });
  pages.push(sara);
  await waitText(sara, "#start-title", "ابدأ محادثة");
  assert.equal(await sara.getAttribute("html", "dir"), "rtl");
  assert.equal(await sara.getAttribute("html", "lang"), "ar");
  assert.equal(await sara.inputValue("#language"), "ar");
  await waitText(sara, "#exit", "اخرج من هذه الصفحة");
  await sara.locator("#nick").waitFor({ state: "visible", timeout: DEADLINE });
  assert.match(sara.sent.find((f) => f.includes("line-status")), /xml:lang=["']ar["']/);
  // The quick exit mirrors to the other side: in the bar, to the right of the language picker.
  const exit = await sara.locator("#exit").boundingBox();
  const picker = await sara.locator("#language").boundingBox();
  assert.ok(exit.x > picker.x, "right to left: the exit comes first, on the right");
  await noKeysShown(sara, "the start page in Arabic");
  await both(sara, "visitor-arabic-start", "the start page in Arabic");
  await startChat(sara, "سارة", "الدراسة");
  await waitText(sara, "#place", /قائمة الانتظار/);
  assert.match(sara.sent.find((f) => f.includes("request-chat")), /xml:lang=["']ar["']/);
  // On the command itself too, where the bot reads it (XEP-0050).
  assert.match(sara.sent.find((f) => f.includes("request-chat")), /<command[^>]*xml:lang=["']ar["']/);
  push(sara, { position: 2, estimate: 600 });
  await waitText(sara, "#wait", /^سيستغرق الانتظار نحو (10|١٠) دقائق\.$/);
  push(sara, { position: 2, estimate: 1200, "closes-in": 120 });
  await waitText(sara, "#wait", /^سيستغرق الانتظار نحو (20|٢٠) دقيقة\.$/);
  await waitText(sara, "#closing", "يُغلق خط المساعدة بعد دقيقتين");
  await noKeysShown(sara, "waiting in Arabic");
  await both(sara, "visitor-arabic-waiting", "waiting in Arabic");
  // Dutch, chosen: the page follows, plurals and all.
  await sara.selectOption("#language", "nl");
  await waitText(sara, "#waiting-title", "Wachten op een hulpverlener");
  assert.equal(await sara.getAttribute("html", "dir"), "ltr");
  await waitText(sara, "#wait", "Het wachten duurt ongeveer 20 minuten.");
  await waitText(sara, "#closing", "De hulplijn sluit over 2 minuten");
  await noKeysShown(sara, "waiting in Dutch");
  await screenshot(sara, "visitor-dutch-waiting");
  await sara.click("#leave");
  await waitText(sara, "#connection", "Je hebt de wachtrij verlaten.");

  // Closed, in Arabic, as the bot will say it.
  const closed = answer("line-status", { open: "false", reason: "no-staff", "next-opening": "" });
  const omar = await open(browser, "/", { wire: true, locale: "ar-SY", fake: { "line-status": closed } });
  pages.push(omar);
  await waitText(omar, "#refused-title", "خط المساعدة مغلق الآن");
  await waitText(omar, "#refused-why", "لا يوجد أحد في الخدمة");
  await noKeysShown(omar, "closed in Arabic");
  await both(omar, "visitor-arabic-closed", "closed in Arabic");

  // strophe.js reports the cut WebSocket of Ben's drop; nothing else may show.
  assertQuiet(pages, new Map([[dropped, ["Websocket closed unexpectedly"]]]));
});
