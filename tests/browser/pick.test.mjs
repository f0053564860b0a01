// The console in pick mode: the staff member sees the waiting visitors and takes the one they
// choose (not the first in line); a visitor nobody took is re-offered, marked, with a louder
// tone; the chosen visitor's page follows the invitation, the other keeps waiting and then leaves
// the queue. Before anyone is on duty the page says the help line
// is closed; with two waiting, a third hears that the queue is full. The chosen visitor's connection drops: the page comes
// back by itself and shows what was said meanwhile, each message once; so does the staff
// member's console after its own connection drops. Run by tests/browser.rs
// (`browser_pick_mode_…`).

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { DEADLINE, STAFF, assertQuiet, axeViolations, countText, drop, launch, open, screenshot, waitText } from "./lib.mjs";

const browser = await launch();
after(() => browser.close());

async function startChat(page, nick) {
  await page.fill("#nick", nick);
  await page.press("#nick", "Enter");
}

/**
 * Arrival at a closed help line: told at once (a bot with `line-status`), or after asking for a
 * chat (a bot without: the page shows the form).
 */
async function arriveClosed(page, nick) {
  const refused = page.locator("#refused-title");
  await Promise.race([refused.waitFor({ timeout: DEADLINE }), page.locator("#nick").waitFor({ timeout: DEADLINE })]);
  if (!(await refused.isVisible())) await startChat(page, nick);
  await waitText(page, "#refused-title", "The help line is closed right now");
}

test("in pick mode a staff member takes the visitor they choose", async () => {
  // Nobody is on duty yet: the help line is closed, and says so.
  const ana = await open(browser, "/");
  await arriveClosed(ana, "Ana");
  await waitText(ana, "#refused-why", "Nobody is on duty at the moment.");
  assert.equal(await ana.isVisible("#notice"), false, "closed is not an error");

  const staff = await open(browser, "staff.html", { droppable: true });
  await staff.fill("#jid", STAFF.jid);
  await staff.fill("#password", STAFF.password);
  await staff.fill("#name", "Kim");
  await staff.press("#password", "Enter");
  await waitText(staff, "#status dd[data-field=open]", "yes");

  // "Check again": the form (the line is open now).
  await ana.click("#again");
  await startChat(ana, "Ana");
  await waitText(ana, "#place", "You are next in the queue.");
  const ben = await open(browser, "/", { droppable: true });
  await startChat(ben, "Ben");
  await waitText(ben, "#place", "You are number 2 in the queue.");
  // The queue holds two (queue.max_length): a third visitor hears that it is full.
  const cem = await open(browser, "/");
  await startChat(cem, "Cem");
  await waitText(cem, "#refused-title", "All our counsellors are busy");
  await waitText(cem, "#refused-why", "The queue is full right now.");

  // Each waiting visitor has a button of their own; Kim takes Ben.
  await waitText(staff, "#waiting button", "Take Ben");
  assert.deepEqual(await staff.locator("#waiting button").allTextContents(), ["Take Ana", "Take Ben"]);
  await waitText(staff, "#status dd[data-field=queue-length]", "2");
  assert.deepEqual(await axeViolations(staff), [], "axe-core on the console in pick mode");
  await screenshot(staff, "staff-pick");
  // Nobody took Ana within queue.reoffer_after: the bot offers her again, and the console marks
  // her and plays its louder tone.
  await waitText(staff, "#waiting li.reoffer", "Ana");
  await waitText(staff, "#waiting li.reoffer .badge", "Still waiting: nobody took them yet");
  assert.equal(await staff.getAttribute("body", "data-last-sound"), "loud");
  assert.deepEqual(await axeViolations(staff), [], "axe-core on the console with a visitor re-offered");
  await screenshot(staff, "staff-pick-reoffer");
  await staff.click("#waiting button:has-text('Take Ben')");
  await waitText(ben, "#messages li", "You are in the chat");
  await waitText(staff, "[role=tab]", "Ben");
  await waitText(staff, ".pane:not([hidden]) .state", "Ben is here.");
  // Ben is gone from the list; Ana still waits, first in line.
  await staff.locator("#waiting button", { hasText: "Take Ben" }).waitFor({ state: "detached" });
  await waitText(staff, "#waiting button", "Take Ana");
  assert.match(await ana.textContent("#place"), /You are next in the queue\./);

  // Ben's connection drops; Kim writes meanwhile; Ben's page reconnects and shows it, once.
  await ben.fill("#text", "hello Kim");
  await ben.press("#text", "Enter");
  await waitText(staff, ".pane:not([hidden]) .messages li", "hello Kim");
  await drop(ben);
  await waitText(ben, "#notice", "The connection was lost.");
  assert.deepEqual(await axeViolations(ben), [], "axe-core on the visitor page with the connection lost");
  await screenshot(ben, "visitor-connection-lost");
  await ben.setViewportSize({ width: 390, height: 844 });
  assert.deepEqual(await axeViolations(ben), [], "axe-core on the lost connection on a phone-sized screen");
  await screenshot(ben, "visitor-connection-lost-phone", { fullPage: false });
  await ben.setViewportSize({ width: 1100, height: 900 });
  await waitText(staff, ".pane:not([hidden]) .state", "Ben’s connection dropped");
  await staff.fill(".pane:not([hidden]) textarea", "are you still there, Ben? 🙂");
  await staff.press(".pane:not([hidden]) textarea", "Enter");
  await waitText(ben, "#messages li", "are you still there, Ben?");
  assert.equal(await countText(ben, "#messages li", "hello Kim"), 1, "Ben's message once after the drop");
  assert.equal(await countText(ben, "#messages li", "are you still there"), 1, "the missed message once");
  await ben.locator("#notice").waitFor({ state: "hidden", timeout: DEADLINE });
  await waitText(staff, ".pane:not([hidden]) .messages li", "Ben is back.");

  // Kim's connection drops: the console reconnects by itself and goes back into the chat.
  await drop(staff);
  await waitText(staff, "#banner", "The connection to the server is lost. Reconnecting…");
  assert.deepEqual(await axeViolations(staff), [], "axe-core on the console with the connection lost");
  await waitText(ben, "#messages li", "The counsellor’s connection dropped.");
  await screenshot(staff, "staff-reconnecting");
  await waitText(ben, "#messages li", "Kim is back.");
  await staff.locator("#banner").waitFor({ state: "hidden", timeout: DEADLINE });
  await staff.fill(".pane:not([hidden]) textarea", "sorry, my connection dropped");
  await staff.press(".pane:not([hidden]) textarea", "Enter");
  await waitText(ben, "#messages li", "sorry, my connection dropped");
  assert.equal(await countText(staff, ".pane:not([hidden]) .messages li", "hello Kim"), 1, "Ben's message once on Kim's side");

  await ana.click("#leave");
  await waitText(ana, "#connection", "You have left the queue.");
  await waitText(staff, "#nobody", "Nobody is waiting");
  await ben.click("#end");
  await waitText(staff, ".pane:not([hidden]) .state", "Ben has ended the chat.");

  // strophe.js reports the cut WebSockets of the drops; nothing else may show.
  const cut = ["Websocket closed unexpectedly"];
  assertQuiet([staff, ana, ben, cem], new Map([[ben, cut], [staff, cut]]));
});
