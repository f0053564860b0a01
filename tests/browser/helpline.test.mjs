// The help line in a real browser, in auto mode: two visitors queue (one refreshes while
// waiting), a staff member takes the chats, messages in any script go both ways, a refresh brings the visitor back to the same chat
// with each message once (the visitor's and the staff member's), a blocked visitor is refused, several chats at once with unread marks,
// and both ways of ending a chat. Run by tests/browser.rs (`browser_auto_mode`), which starts
// Prosody and the bot and afterwards checks the rows this left in the database.

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { DEADLINE, STAFF, assertQuiet, axeViolations, countText, launch, open, screenshot, waitText } from "./lib.mjs";

const browser = await launch();
after(() => browser.close());

/** Text in several scripts, an emoji sequence, combining marks and right-to-left runs. */
const FROM_ANA = "Hallo — ünïcödé ✓ 你好 مرحبا 👩‍👩‍👧 e\u0301 <b>not bold</b>";
const FROM_STAFF = "Здравствуйте, Ana! 🌷 שלום עליכם & ελπίδα";

/** Fills the start form by keyboard alone and presses Enter. */
async function startChat(page, nick, topic) {
  await page.locator("#nick").waitFor({ state: "visible", timeout: DEADLINE });
  await answerRequired(page);
  await page.focus("#nick");
  await page.keyboard.press("Control+A");
  await page.keyboard.type(nick);
  await page.keyboard.press("Tab");
  await page.keyboard.type(topic);
  await page.keyboard.press("Enter");
}

/**
 * Answers the help line's required questions before the chat, once the page has asked the bot
 * for them (the demo asks "Are you safe right now?"): the first answer of each ("Yes" there,
 * which gives no priority). A help line without questions shows none.
 */
async function answerRequired(page) {
  await page.locator("#questions[data-loaded]").waitFor({ state: "attached", timeout: DEADLINE });
  for (const group of await page.locator("#questions fieldset").all()) {
    const first = group.locator("input[type=radio]").first();
    if (await first.evaluate((input) => input.required)) await first.check();
  }
}

/** Types `text` into the focused chat of `page` (`box` selects the textarea) and sends it with Enter. */
async function say(page, box, text) {
  await page.fill(box, text);
  await page.press(box, "Enter");
}

/** Checks axe-core finds no serious violation on `page` in the state it is in (`what`). */
async function accessible(page, what) {
  const violations = await axeViolations(page);
  assert.deepEqual(violations, [], `axe-core on ${what}`);
}

test("visitors queue, a staff member chats with them, a refresh resumes, a block refuses", async () => {
  // The staff member signs in by keyboard: address, password, name, Enter.
  const staff = await open(browser, "staff.html");
  await accessible(staff, "the console's sign-in");
  await staff.focus("#jid");
  await staff.keyboard.type(STAFF.jid);
  await staff.keyboard.press("Tab");
  await staff.keyboard.type(STAFF.password);
  await staff.keyboard.press("Tab");
  await staff.keyboard.type("Kim");
  await staff.keyboard.press("Enter");
  await waitText(staff, "#status dd[data-field=open]", "yes");
  await waitText(staff, "#nobody", "Nobody is waiting");

  // Ana and then Ben ask for a chat: Ana is next, Ben second.
  const ana = await open(browser, "/");
  await accessible(ana, "the visitor page's start");
  await screenshot(ana, "visitor-start");
  await startChat(ana, "Ana", "exams 📚");
  await waitText(ana, "#place", "You are next in the queue.");
  const ben = await open(browser, "/");
  await startChat(ben, "Ben", "");
  await waitText(ben, "#place", "You are number 2 in the queue.");
  await accessible(ben, "the visitor page while waiting");
  await screenshot(ben, "visitor-waiting");
  // Ana, next in line, refreshes while waiting: her old session's end keeps her place for the
  // return grace, and the page asks again by itself with her key: still next, on the same row
  // (the rows checked afterwards: no second row for her), Ben still second.
  await ana.reload();
  await waitText(ana, "#place", "You are next in the queue.");
  await waitText(ben, "#place", "You are number 2 in the queue.");

  // The console lists both, live, first in line first.
  await waitText(staff, "#waiting li:nth-child(2)", "Ben");
  assert.match(await staff.textContent("#waiting li:nth-child(1)"), /Ana.*exams 📚.*Waiting under a minute.*next in turn/);
  assert.match(await staff.textContent("#waiting li:nth-child(2)"), /Ben.*No topic given.*number 2 in line/);
  await waitText(staff, "#status dd[data-field=queue-length]", "2");
  await accessible(staff, "the console with visitors waiting");
  await screenshot(staff, "staff-queue");

  // Take next (by keyboard: the console put the focus there at sign-in): the bot gives Kim a
  // room and invites Ana, whose page follows without a click.
  await staff.focus("#take-next");
  assert.equal(await staff.evaluate(() => document.activeElement.id), "take-next");
  await staff.keyboard.press("Enter");
  await waitText(ana, "#messages li", "You are in the chat");
  await waitText(staff, ".pane:not([hidden]) .state", "Ana is here.");
  // Ben moves up.
  await waitText(ben, "#place", "You are next in the queue.");

  // Messages both ways, in any script; the counsellor's typing shows.
  await say(ana, "#text", FROM_ANA);
  await waitText(staff, ".pane:not([hidden]) .messages li", "👩‍👩‍👧");
  await staff.fill(".pane:not([hidden]) textarea", "Здрав");
  await staff.dispatchEvent(".pane:not([hidden]) textarea", "input");
  await waitText(ana, "#typing", "The counsellor is typing…");
  await say(staff, ".pane:not([hidden]) textarea", FROM_STAFF);
  await waitText(ana, "#messages li", "ελπίδα");
  assert.equal(await ana.textContent("#typing"), "", "the typing note goes when the message comes");
  const anaLines = await ana.locator("#messages li").allTextContents();
  assert.ok(anaLines.some((l) => l.includes(`You: ${FROM_ANA}`)), anaLines.join("\n"));
  assert.ok(anaLines.some((l) => l.includes(`Kim: ${FROM_STAFF}`)), anaLines.join("\n"));
  assert.equal(await ana.locator("#messages b", { hasText: "not bold" }).count(), 0, "a message is text, never markup");
  await accessible(ana, "the visitor page in a chat");
  await screenshot(ana, "visitor-chat");
  await ana.setViewportSize({ width: 390, height: 844 });
  await accessible(ana, "the visitor page in a chat on a phone-sized screen");
  await screenshot(ana, "visitor-chat-phone");
  await ana.setViewportSize({ width: 1100, height: 900 });

  // Ana refreshes: back in the same chat, every message once, and the chat goes on.
  await ana.reload();
  await waitText(ana, "#messages li", "ελπίδα");
  await waitText(ana, "#connection", /^$/);
  assert.equal(await countText(ana, "#messages li", "👩‍👩‍👧"), 1, "Ana's message once after the refresh");
  assert.equal(await countText(ana, "#messages li", "ελπίδα"), 1, "Kim's message once after the refresh");
  await waitText(ana, "#send-form", "Send");
  await say(ana, "#text", "still here ✨");
  await waitText(staff, ".pane:not([hidden]) .messages li", "still here ✨");
  await screenshot(ana, "visitor-after-refresh");

  // Kim refreshes too: signing in again brings the chat back with each message once, and Ana
  // hears that Kim is back.
  await staff.reload();
  await waitText(staff, "#notice", "Sign in again to return to your open chats.");
  await staff.fill("#password", STAFF.password);
  await staff.press("#password", "Enter");
  await waitText(staff, ".pane:not([hidden]) .messages li", "still here ✨");
  assert.equal(await countText(staff, ".pane:not([hidden]) .messages li", "👩‍👩‍👧"), 1, "Ana's message once on Kim's side");
  await waitText(ana, "#messages li", "Kim is back.");
  await waitText(staff, ".pane:not([hidden]) .state", "Ana is here.");

  // Kim blocks Ana: her chat ends with neutral words, and she cannot start another.
  await staff.click(".pane:not([hidden]) .block");
  await waitText(staff, "#confirm-title", "Block Ana?");
  await staff.fill("#reason", "abusive messages");
  await staff.selectOption("#duration", "7d");
  await staff.click("#confirm-ok");
  await waitText(ana, "#ended-words", "The chat has ended.");
  await waitText(staff, ".pane:not([hidden]) .state", "Ana was removed from the chat.");
  await ana.click("#new-chat");
  assert.equal(await ana.inputValue("#nick"), "", "the form is not pre-filled after a chat");
  await startChat(ana, "Ana again", "");
  await waitText(ana, "#refused-title", "We cannot start a chat with you");
  await accessible(ana, "the visitor page after a refusal");
  await screenshot(ana, "visitor-blocked");
  await ana.setViewportSize({ width: 390, height: 844 });
  await accessible(ana, "the visitor page after a refusal on a phone-sized screen");
  await screenshot(ana, "visitor-blocked-phone", { fullPage: false });
  await ana.setViewportSize({ width: 1100, height: 900 });
  await staff.click(".pane:not([hidden]) .end");

  // Cem queues behind Ben; Kim takes two chats at once.
  const cem = await open(browser, "/");
  await startChat(cem, "Cem", "housing");
  await waitText(cem, "#place", "You are number 2 in the queue.");
  await staff.click("#take-next");
  await waitText(ben, "#messages li", "You are in the chat");
  await waitText(staff, "[role=tab]", "Ben");
  await staff.click("#take-next");
  await waitText(cem, "#messages li", "You are in the chat");
  await waitText(staff, "[role=tab]", "Cem");
  // With Cem's pane in front, a message from Ben is marked unread on his tab.
  await staff.click("[role=tab]:has-text('Cem')");
  await say(ben, "#text", "are you there?");
  await waitText(staff, "[role=tab]:has-text('Ben') .unread", "1 new");
  // The live view follows: two chats, nobody waiting.
  await waitText(staff, "#status dd[data-field=busy]", "2");
  await waitText(staff, "#nobody", "Nobody is waiting");
  await accessible(staff, "the console with two chats");
  await screenshot(staff, "staff-two-chats");
  await staff.click("[role=tab]:has-text('Ben')");
  await waitText(staff, ".pane:not([hidden]) .messages li", "are you there?");
  assert.equal(await staff.locator("[role=tab]:has-text('Ben') .unread").count(), 0, "read once shown");

  // Kim ends Ben's chat (confirmed); Cem ends hers.
  await staff.click(".pane:not([hidden]) .end");
  await staff.click("#confirm-ok");
  await waitText(ben, "#ended-words", "The counsellor has ended the chat.");
  await accessible(ben, "the visitor page after the counsellor ended the chat");
  await screenshot(ben, "visitor-ended-by-counsellor");
  // Ben's pane closed, Cem's comes to the front.
  await waitText(staff, "[role=tab][aria-selected=true]", "Cem");
  await say(cem, "#text", "thank you, bye");
  await waitText(staff, ".pane:not([hidden]) .messages li", "thank you, bye");
  await cem.focus("#end");
  await cem.keyboard.press("Enter");
  await waitText(cem, "#ended-words", "You ended the chat.");
  await waitText(staff, ".pane:not([hidden]) .state", "Cem has ended the chat.");
  await screenshot(staff, "staff-chat-ended");
  await staff.click(".pane:not([hidden]) .end");
  await waitText(staff, "#no-chats", "No open chats");
  await waitText(staff, "#status dd[data-field=busy]", "0");

  assertQuiet([staff, ana, ben, cem]);
});
