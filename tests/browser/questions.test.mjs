// Before and after the chat (SPEC §14) in the pages: the visitor page shows the help line's
// questions under name and topic (request-chat's form, asked without one), sends the answers
// with them, and shows a form the bot asks again with its note; after the chat it asks the
// feedback questions (skippable) and says thanks. The console shows a visitor's priority and why
// in the waiting list, the answers with the chat ("Who is coming"), asks for the registration
// when a chat ends (the room chosen, can wait: "Later"), and reminds "Not registered yet: N".
// All of it against the real bot with the demo's questions (scripts/demo.sh); tests/browser.rs
// then checks the rows it left. Screenshots at phone size for the
// visitor, at 1280×800 for the console; axe-core on each. Run by tests/browser.rs
// (`browser_questions_before_and_after_the_chat`).

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { BOT, DEADLINE, STAFF, assertQuiet, axeViolations, inject, launch, open, screenshot, sentFields, waitText } from "./lib.mjs";

const browser = await launch();
after(() => browser.close());

const PHONE = { width: 390, height: 844 };
const LAPTOP = { width: 1280, height: 800 };
const COMMANDS = "http://jabber.org/protocol/commands";

/** axe-core clean, and a screenshot (`fullPage` false: the screen as the person sees it). */
async function look(page, name, fullPage = false) {
  assert.deepEqual(await axeViolations(page), [], `axe-core on ${name}`);
  await screenshot(page, name, { fullPage });
}

test("the visitor answers the questions before the chat and gives feedback after it; the console shows why, the answers, and asks for the registration", async () => {
  // The staff member on duty, on the real bot.
  const staff = await open(browser, "staff.html", { wire: true, viewport: LAPTOP });
  await staff.fill("#jid", STAFF.jid);
  await staff.fill("#password", STAFF.password);
  await staff.fill("#name", "Kim");
  await staff.press("#password", "Enter");
  await waitText(staff, "#status dd[data-field=open]", "yes");
  // Nothing to register yet: no reminder (register-chat asked without a form at sign-in).
  await staff.waitForFunction(() => document.body.dataset.commands?.includes("register-chat"), null, { timeout: DEADLINE });
  assert.equal(await staff.isVisible("#reminder"), false);

  // The visitor, on a phone: the bot's questions (the demo's) under name and topic, in the
  // page's language.
  const noor = await open(browser, "/", { wire: true, viewport: PHONE });
  await noor.locator("#questions fieldset").first().waitFor({ timeout: DEADLINE });
  const legends = await noor.locator("#questions legend").allTextContents();
  assert.deepEqual(legends, ["Are you safe right now?", "How old are you? (optional)", "Have you chatted with us before? (optional)"]);
  assert.match(noor.sent.find((f) => f.includes("request-chat")), /<command[^>]*xml:lang=["']en["']/, "asked in the page's language");
  assert.equal(await noor.getAttribute("#questions-q-safe-0", "required"), "", "a required question is required");
  await noor.fill("#nick", "Noor");
  await noor.fill("#topic", "home");
  await look(noor, "questions-before-phone");
  await look(noor, "questions-before-phone-all", true);
  // Nothing chosen for the required question: the browser says so, nothing is sent.
  const sentBefore = noor.sent.length;
  await noor.click("#start-button");
  assert.equal(await noor.evaluate(() => document.querySelector("#questions-q-safe-0").validity.valueMissing), true);
  assert.equal(noor.sent.length, sentBefore, "nothing sent");
  // A browser that lets it through (or a page that did not check): the bot asks again, with its
  // note, and what was answered stays.
  await noor.check("#questions-q-age-0"); // Under 18
  await noor.evaluate(() => document.querySelectorAll("#questions [required]").forEach((e) => (e.required = false)));
  await noor.click("#start-button");
  await waitText(noor, "#notice", "Please answer: Are you safe right now?");
  assert.equal(await noor.isChecked("#questions-q-age-0"), true, "the answer stays");
  assert.equal(await noor.inputValue("#nick"), "Noor");
  assert.equal(await noor.getAttribute("#questions-q-safe-0", "required"), "", "required again");
  await look(noor, "questions-before-again-phone");
  await noor.check("#questions-q-safe-1"); // No
  await noor.click("#start-button");
  await waitText(noor, "#place", /You are (next|number \d) in the queue\./);
  const submits = noor.sent.filter((f) => f.includes("request-chat") && f.includes("submit"));
  assert.match(submits.at(-1), /var="q-safe"><value>no</);
  assert.match(submits.at(-1), /var="q-age"><value>under-18</);
  assert.doesNotMatch(submits.at(-1), /q-before/, "a question left open is not sent");
  assert.deepEqual(sentFields(noor, "request-chat", "nick").filter(Boolean), ["Noor", "Noor"]);
  assert.equal(await noor.isVisible("#notice"), false, "the note is gone once queued");
  // Nothing of the answers in the tab's storage.
  const stored = await noor.evaluate(() => JSON.stringify({ ...sessionStorage }));
  assert.doesNotMatch(stored, /under-18|q-safe|q-age/, stored);

  // The console: the waiting list says why Noor has priority; who is coming, with priority,
  // why and the answers (the bot's headline).
  await waitText(staff, "#waiting li.priority", "Why: Are you safe right now?: No");
  await look(staff, "questions-console-waiting");
  await staff.click("#take-next");
  await waitText(staff, ".pane:not([hidden]) .state", "Noor is here.");
  const room = await noor.evaluate(() => JSON.parse(sessionStorage.getItem("helpim-visitor")).room);
  await waitText(staff, ".pane:not([hidden]) .why", "Priority: Are you safe right now?: No");
  const shown = await staff.locator(".pane:not([hidden]) .answers").textContent();
  assert.equal(shown, "Are you safe right now?NoHow old are you?Under 18");
  await look(staff, "questions-console-answers");

  // The visitor ends the chat: the feedback question, skippable.
  await noor.click("#end");
  await noor.locator("#feedback").waitFor({ state: "visible", timeout: DEADLINE });
  await waitText(noor, "#feedback legend", "Did this chat help you?");
  assert.doesNotMatch(await noor.textContent("#feedback"), /optional/, "all of it may be left open: nothing marked");
  await waitText(noor, "#feedback-skip", "No, thank you");
  await noor.locator("#feedback").scrollIntoViewIfNeeded();
  await look(noor, "feedback-phone");
  await look(noor, "feedback-phone-all", true);
  await noor.check("#feedback-q-q-helped-0");
  await noor.click("#feedback button[type=submit]");
  await waitText(noor, "#feedback-done", "Thank you for telling us.");
  assert.equal(await noor.isVisible("#notice"), false);
  assert.equal(await noor.isVisible("#feedback"), false);
  const feedback = noor.sent.filter((f) => f.includes("feedback") && f.includes("submit")).at(-1);
  assert.match(feedback, new RegExp(`var="room"><value>${room}<`));
  assert.match(feedback, /var="key"><value>[\w-]{22}</);
  assert.match(feedback, /var="q-helped"><value>yes</);
  await look(noor, "feedback-thanks-phone", true);

  // The console: the chat ended; the registration form opens for it, the room chosen.
  await waitText(staff, ".pane:not([hidden]) .state", "Noor has ended the chat.");
  await staff.locator("#register").waitFor({ state: "visible", timeout: DEADLINE });
  await waitText(staff, "#register legend", "Category");
  assert.equal(await staff.isChecked(`#register-q input[value="${room}"]`), true, "the chat that ended is chosen");
  assert.equal(await staff.evaluate(() => !!document.activeElement?.closest("#register")), false, "it takes no focus: one may be typing in another chat");
  await look(staff, "registration-form");
  // "Later": the form goes, the reminder stays.
  await staff.click("#register-later");
  assert.equal(await staff.isVisible("#register"), false);
  await waitText(staff, "#reminder", "Not registered yet: 1");
  // The reminder opens it again; a category left open is asked again, by the bot.
  await staff.click("#reminder");
  await staff.locator("#register").waitFor({ state: "visible", timeout: DEADLINE });
  await staff.check(`#register-q input[value="${room}"]`);
  await staff.check(`#register-q input[value="high"]`);
  await staff.evaluate(() => document.querySelectorAll("#register-q [required]").forEach((e) => (e.required = false)));
  await staff.click("#register-form button[type=submit]");
  await waitText(staff, "#register-error", "Please answer: Category");
  await look(staff, "registration-again");
  await staff.check(`#register-q input[value="mental-health"]`);
  await staff.fill("#register-q-q-note", "Talked about home; call back tomorrow.");
  await staff.click("#register-form button[type=submit]");
  await staff.locator("#register").waitFor({ state: "hidden", timeout: DEADLINE });
  await staff.locator("#reminder").waitFor({ state: "hidden", timeout: DEADLINE });
  const registered = staff.sent.filter((f) => f.includes("register-chat") && f.includes("submit")).at(-1);
  assert.match(registered, new RegExp(`var="room"><value>${room}<`));
  assert.match(registered, /var="q-category"><value>mental-health</);
  assert.match(registered, /var="q-risk"><value>high</);
  await waitText(staff, ".pane:not([hidden]) .messages li", "The chat is registered.");
  await look(staff, "registration-done");

  assertQuiet([noor, staff]);
});

test("in Arabic and Dutch: the bot's questions in the visitor's language, right to left; a refresh while waiting", async () => {
  const staff = await open(browser, "staff.html", { viewport: LAPTOP });
  await staff.fill("#jid", STAFF.jid);
  await staff.fill("#password", STAFF.password);
  await staff.fill("#name", "Kim");
  await staff.press("#password", "Enter");
  await waitText(staff, "#status dd[data-field=open]", "yes");
  const sara = await open(browser, "/", { wire: true, viewport: PHONE, locale: "ar-SY" });
  await waitText(sara, "#questions legend", "هل أنت بأمان الآن؟");
  assert.equal(await sara.getAttribute("html", "dir"), "rtl");
  await waitText(sara, "#questions label", "نعم");
  await waitText(sara, "#questions .hint", "(اختياري)");
  await sara.fill("#nick", "سارة");
  await sara.locator("#questions").scrollIntoViewIfNeeded();
  await look(sara, "questions-before-arabic-phone");
  // Another language chosen: the questions asked again in it, what was chosen kept.
  await sara.check("#questions-q-safe-0");
  await sara.selectOption("#language", "nl");
  await waitText(sara, "#questions legend", "Ben je nu veilig?");
  assert.equal(await sara.isChecked("#questions-q-safe-0"), true, "the answer stays");
  await sara.click("#start-button");
  await waitText(sara, "#place", /wachtrij/);
  // A refresh while waiting: the answers were never stored, and the bot does not ask them
  // again of a visitor in line: the same key keeps the place.
  await sara.reload();
  await waitText(sara, "#place", /wachtrij/);
  assert.equal(await sara.locator("#notice:has-text('Ben je nu veilig?')").count(), 0);
  await screenshot(sara, "questions-refresh-waiting-phone");
  const stored = await sara.evaluate(() => JSON.stringify({ ...sessionStorage }));
  assert.doesNotMatch(stored, /q-safe|"yes"/, stored);
  await sara.click("#exit");
  assertQuiet([staff]);
});

test("the waiting list puts priority first with why, in the bot's order", async () => {
  const kim = await open(browser, "staff.html", { wire: true, viewport: LAPTOP, config: { staffRoom: "" } });
  kim.answer = (frame, id) => {
    if (!frame.includes(BOT)) return undefined;
    if (frame.includes("disco#items")) return `<iq xmlns='jabber:client' type='result' id='${id}' from='${BOT}'><query xmlns='http://jabber.org/protocol/disco#items' node='${COMMANDS}'/></iq>`;
    return "";
  };
  await kim.fill("#jid", STAFF.jid);
  await kim.fill("#password", STAFF.password);
  await kim.fill("#name", "Kim");
  await kim.press("#password", "Enter");
  await kim.locator("#desk").waitFor({ state: "visible", timeout: DEADLINE });
  const ago = (m) => new Date(Date.now() - m * 60000).toISOString().replace(/\.\d+Z$/, "Z");
  const items = [
    `<visitor id='21' nick='Lee' topic='' waiting-since='${ago(1)}' priority='1' why='Are you safe right now?: No'/>`,
    `<visitor id='20' nick='Sam' topic='exams' waiting-since='${ago(6)}' priority='0' why=''/>`,
  ].join("");
  inject(kim, `<message xmlns='jabber:client' type='headline' from='${BOT}'><body>The shift.</body><shift xmlns='urn:helpim:staff:0' open='true' staff-on-duty='1' busy='0' closing='0' queue-length='2' oldest-wait='360' mode='auto'>${items}</shift></message>`);
  await waitText(kim, "#waiting li:nth-child(2)", "Sam");
  const rows = await kim.locator("#waiting li").allTextContents();
  assert.match(rows[0], /Lee.*Priority.*Why: Are you safe right now\?: No.*next in turn/, rows[0]);
  assert.doesNotMatch(rows[1], /Priority|Why/, rows[1]);
  await look(kim, "questions-console-priority");
  assertQuiet([kim]);
});
