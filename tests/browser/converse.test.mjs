// A standard XMPP client as the staff console: Converse.js 14 (from npm, served from
// node_modules through Playwright, no third-party request) signed in as Kim, a staff member.
// Kim adds the bot to her contacts (the bot accepts and subscribes back: her ordinary presence
// puts her on duty), lists the bot's commands at its full JID in Converse's "Commands" tab, reads
// the line's status, takes Ana's chat (Converse joins the room on the bot's invitation, with
// auto_join_on_invite), chats with Ana on the project's own visitor page, and leaves the room as
// Converse does, without a status text (the bot pings her session, which answers: Ana reads that
// the counsellor ended the chat, never that the connection dropped). Then Kim
// takes Ben's chat and blocks him with the bot's form: first without a reason (the form comes
// back with the problem in its instructions), then with a reason and a duration from the list.
// Run by tests/browser.rs (`browser_converse_as_the_staff_console`), which checks the rows.

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, extname, join, normalize } from "node:path";
import { DEADLINE, STAFF, WEB, assertQuiet, launch, open, screenshot, waitText } from "./lib.mjs";

const require = createRequire(import.meta.url);
/** Converse's built files, as npm installed them (never copied into the repository). */
const DIST = dirname(require.resolve("converse.js/dist/converse.min.js"));
/** Where the test serves Converse: under the pages' own address, so every request stays local. */
const BASE = new URL("converse/", WEB).href;
/** The bot's full JID: the address to run its commands on (README, "Standard clients"). */
const BOT = "bot@localhost/helpim-bot";

/**
 * Converse's settings as the README's sample gives them (with this test's server): the room
 * the bot invites to is joined at once, under the name the visitor reads.
 */
const SETTINGS = {
  assets_path: "/converse/",
  websocket_url: `${WEB.replace(/^http/, "ws")}xmpp-websocket`,
  discover_connection_methods: false,
  authentication: "login",
  auto_join_on_invite: true,
  nickname: "Kim",
  allow_adhoc_commands: true,
  i18n: "en",
  view_mode: "fullscreen",
  // No image or sound from elsewhere: emojis as the system draws them, no URL previews.
  use_system_emojis: true,
  fetch_url_headers: false,
  show_images_inline: false,
  play_sounds: false,
  loglevel: "warn",
  // A console on a shared desk: no sign-up (whose form fetches a list of public servers from
  // data.xmpp.net), nothing of the chats kept after the tab closes.
  allow_registration: false,
  xmpp_providers_url: "",
  // Typing an address to add a contact would fetch suggestions of public servers, too.
  autocomplete_providers_url: "",
  allow_user_trust_override: false,
  persistent_store: "sessionStorage",
  clear_cache_on_logout: true,
  // No end-to-end encryption in a help line's rooms (the bot keeps the transcript): OMEMO would
  // only ask the server for device lists.
  blacklisted_plugins: ["converse-omemo", "converse-omemo-views", "converse-register"],
};

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Converse</title>
<link rel="stylesheet" href="converse.min.css">
<script type="module" src="converse.min.js"></script></head>
<body class="converse-fullscreen">
<script type="module">
// Converse's full-screen sign-in page ends with its sponsors' logos, fetched from conversejs.org:
// an empty footer in its place (Converse keeps an element defined before it starts).
customElements.define("converse-footer", class extends HTMLElement {});
converse.initialize(${JSON.stringify(SETTINGS)});
</script>
</body></html>`;

const TYPES = { ".js": "text/javascript", ".css": "text/css", ".json": "application/json", ".wasm": "application/wasm", ".svg": "image/svg+xml", ".png": "image/png", ".woff2": "font/woff2", ".woff": "font/woff", ".ttf": "font/ttf", ".mp3": "audio/mpeg", ".ogg": "audio/ogg" };
/** Files Converse asked for that its dist does not hold (a wrong assets_path would show here). */
const missing = [];

/** Serves the test page and Converse's dist under BASE. */
async function serveConverse(page) {
  await page.route(`${BASE}**`, async (route) => {
    const path = decodeURIComponent(new URL(route.request().url()).pathname.slice("/converse/".length));
    if (path === "" || path === "index.html") return route.fulfill({ body: PAGE, contentType: "text/html" });
    const file = normalize(join(DIST, path));
    if (!file.startsWith(DIST)) return route.fulfill({ status: 403 });
    try {
      const body = await readFile(file);
      route.fulfill({ body, contentType: TYPES[extname(file)] || "application/octet-stream" });
    } catch {
      missing.push(path);
      route.fulfill({ status: 404 });
    }
  });
}

// The test page is handed to Chromium by Playwright (page.route), so Chromium cannot know it came
// from the loopback server and would refuse its WebSocket to 127.0.0.1 (Local Network Access);
// a help line serves Converse from its own server, where the question does not arise.
const browser = await launch(["--disable-features=LocalNetworkAccessChecks"]);
after(() => browser.close());

const SIZE = { width: 1280, height: 800 };
let shot = 0;
/** A screenshot of what Kim sees, numbered in the order of the walk. */
async function look(page, name) {
  shot += 1;
  await screenshot(page, `converse-${String(shot).padStart(2, "0")}-${name}`, { fullPage: false });
}

/** A visitor on the project's own page asks for a chat. */
async function visitor(nick, topic) {
  const page = await open(browser, "/");
  await page.locator("#nick").waitFor({ state: "visible", timeout: DEADLINE });
  await page.fill("#nick", nick);
  await page.fill("#topic", topic);
  await page.press("#nick", "Enter");
  return page;
}

/** Opens Converse's settings, its "Commands" tab, and lists the commands at the bot's JID. */
async function listCommands(kim) {
  await kim.click("converse-controlbox-buttons .show-client-info");
  const modal = kim.locator("converse-user-settings-modal");
  await modal.locator("#commands-tab").click();
  const jid = modal.locator("converse-adhoc-commands input[name=jid]");
  await jid.fill(BOT);
  await modal.locator("converse-adhoc-commands input[type=submit]").click();
  await modal.locator("converse-adhoc-commands .list-group-item", { hasText: "Take a chat" }).waitFor({ timeout: DEADLINE });
  return modal;
}

/** Clicks the command named `name` in the listed commands; its form (or result) opens below it. */
async function runCommand(modal, name) {
  await modal.locator("converse-adhoc-commands a.open-room", { hasText: name }).click();
  return modal.locator("converse-adhoc-commands li", { has: modal.page().locator(`a.open-room:text-is("${name}")`) });
}

async function closeModal(kim) {
  await kim.keyboard.press("Escape");
  await kim.locator("converse-user-settings-modal .modal-dialog").waitFor({ state: "hidden", timeout: DEADLINE });
}

/** The message box of the room Converse shows (fullscreen: one room at a time). */
const TYPING = "converse-muc textarea.chat-textarea:visible";

test("Converse as the staff console: on duty by the roster, commands, a chat, a leave, a block", async () => {
  try {
    await walk();
  } catch (error) {
    // What Kim's Converse showed and said when the walk failed.
    if (kimPage) {
      await screenshot(kimPage, "converse-failed", { fullPage: false }).catch(() => {});
      console.log(`Converse's console errors: ${JSON.stringify(kimPage.errors.slice(-10))}\nmissing files: ${JSON.stringify(missing)}\nrequests: ${JSON.stringify(kimPage.requests.slice(-10))}`);
    }
    throw error;
  }
});

/** Kim's Converse page, for the failure's screenshot. */
let kimPage;

async function walk() {
  const kim = await open(browser, "converse/", { prepare: serveConverse, viewport: SIZE });
  kimPage = kim;
  // Kim signs in with Converse's own form.
  await kim.locator("#converse-login-jid").waitFor({ timeout: DEADLINE });
  await kim.fill("#converse-login-jid", STAFF.jid);
  await kim.fill("#converse-login-password", STAFF.password);
  await look(kim, "sign-in");
  await kim.click("converse-login-form button[type=submit]");
  await kim.locator("converse-roster").waitFor({ timeout: DEADLINE });
  // Signed in, but the bot is not in her contacts yet: it hears nothing of her, and a visitor
  // reads that the line is closed.
  const zoe = await open(browser, "/");
  await waitText(zoe, "#refused-title", "The help line is closed right now");

  // Kim adds the help line to her contacts, as the operator's note tells her: the bot accepts
  // and asks back (Converse accepts a request from a contact it asked), and from then on her
  // ordinary presence reaches it.
  await kim.click(".dropdown--contacts button.dropdown-toggle");
  await kim.click("a.add-contact");
  const add = kim.locator("converse-add-contact-modal");
  await add.locator("input[name=jid]").fill("bot@localhost");
  await add.locator("input[name=name]").fill("Help line");
  await look(kim, "add-contact");
  await add.locator("button[type=submit]").click();
  // Both ways subscribed: Converse shows the bot's presence, online (a contact that has not
  // accepted shows no status at all).
  await kim.locator("converse-roster-contact .contact-name--online", { hasText: "Help line" }).waitFor({ timeout: DEADLINE });
  await look(kim, "on-duty-roster");

  // Ana asks for a chat: the line is open now, Kim is on duty.
  const ana = await visitor("Ana", "exam stress");
  await waitText(ana, "#place", "You are next in the queue.");

  // The commands at the bot's full JID, in Converse's "Commands" tab.
  let modal = await listCommands(kim);
  for (const name of ["Take a chat", "Waiting visitors", "Block visitor", "Help line status"]) {
    await modal.locator("converse-adhoc-commands a.open-room", { hasText: name }).waitFor({ timeout: DEADLINE });
  }
  await look(kim, "commands");
  // The line's status: open, with Ana waiting.
  const status = await runCommand(modal, "Help line status");
  await status.locator("form").waitFor({ timeout: DEADLINE });
  assert.doesNotMatch(await status.textContent(), /error occurred/i, "the status command answered");
  await waitText(kim, "converse-adhoc-commands li", /1 staff on duty/);
  await look(kim, "status");

  // Take a chat: the bot invites Kim, and Converse joins the room at once.
  const take = await runCommand(modal, "Take a chat");
  await take.locator("form").waitFor({ timeout: DEADLINE });
  assert.doesNotMatch(await take.textContent(), /error occurred/i, "take-chat answered");
  await look(kim, "take-chat");
  await closeModal(kim);
  await waitText(ana, "#messages li", "You are in the chat");
  await kim.locator(TYPING).waitFor({ timeout: DEADLINE });
  await ana.fill("#text", "I have three exams next week and cannot sleep");
  await ana.press("#text", "Enter");
  await waitText(kim, "converse-muc .chat-msg__text", "cannot sleep");
  await kim.fill(TYPING, "That is a lot at once. What worries you most?");
  await kim.press(TYPING, "Enter");
  await waitText(ana, "#messages li", "What worries you most?");
  await look(kim, "chat");
  await screenshot(ana, "converse-visitor-chat", { fullPage: false });

  // Kim leaves the room as Converse does (no status text): the bot checks that her session
  // still answers and tells the room, and Ana reads that the counsellor ended the chat (Kim was
  // her only counsellor), not that her connection dropped.
  await kim.click("converse-muc-heading .dropdown-toggle:visible");
  await kim.click("converse-muc-heading a.close-chatbox-button:visible");
  await kim.locator("converse-confirm-modal .btn-primary, .modal:visible .btn-primary").first().click();
  await waitText(ana, "#ended-words", "The counsellor has ended the chat.");
  assert.equal(await ana.locator("#messages li", { hasText: "connection dropped" }).count(), 0, "never told the counsellor dropped");
  await screenshot(ana, "converse-visitor-left", { fullPage: false });
  await look(kim, "after-leave");

  // Ben's chat: taken, then blocked with the bot's form.
  const ben = await visitor("Ben", "insults");
  await waitText(ben, "#place", "You are next in the queue.");
  modal = await listCommands(kim);
  const take2 = await runCommand(modal, "Take a chat");
  await take2.locator("form").waitFor({ timeout: DEADLINE });
  await closeModal(kim);
  await waitText(ben, "#messages li", "You are in the chat");
  await ben.fill("#text", "you are useless");
  await ben.press("#text", "Enter");
  await waitText(kim, "converse-muc .chat-msg__text", "useless");
  modal = await listCommands(kim);
  const block = await runCommand(modal, "Block visitor");
  await block.locator("select[name=room]").waitFor({ timeout: DEADLINE });
  // Kim picks Ben's chat: the list also holds Ana's while Ana is still in her room, and a
  // list shows its first choice until one is made.
  const chat = block.locator("select[name=room]");
  const bens = await chat.locator("option").evaluateAll((options) => options.find((o) => o.textContent.trim().startsWith("Ben"))?.value);
  assert.ok(bens, "Ben's chat is offered by his name");
  await chat.selectOption(bens);
  await look(kim, "block-form");
  // Without a reason: the form comes back, executing, with the problem in its instructions
  // and what Kim filled in kept.
  await block.locator("input[data-action=complete], input[data-action=execute], input[data-action=next]").first().click();
  await waitText(kim, "converse-adhoc-commands .form-instructions", /reason/i);
  await block.locator("[name=reason]").waitFor();
  assert.equal(await block.locator("[name=room]").inputValue(), bens, "the chat chosen is kept");
  await look(kim, "block-form-again");
  await block.locator("[name=reason]").fill("insults");
  // The duration is a list (point 4 of issue 20): Kim picks a day by its words.
  const duration = block.locator("select[name=duration]");
  const day = await duration.locator("option").evaluateAll((options) => options.find((o) => /^(1|one|a) day$/i.test(o.textContent.trim()))?.value);
  assert.ok(day, "the durations offer a day");
  await duration.selectOption(day);
  await block.locator("input[data-action=complete], input[data-action=execute], input[data-action=next]").first().click();
  // Done: the form's buttons are gone, and Converse says so.
  await block.locator("input[data-action]").first().waitFor({ state: "detached", timeout: DEADLINE });
  await waitText(kim, "converse-adhoc-commands .alert", "Completed");
  await look(kim, "blocked");
  await waitText(ben, "#ended-words", /ended/);
  await screenshot(ben, "converse-visitor-blocked", { fullPage: false });

  assert.deepEqual(missing, [], "every file Converse asked for is in its dist");
  assertQuiet([zoe, ana, ben]);
  // Converse's own requests: only the help line's server (its page, files and WebSocket).
  const own = new URL(WEB).host;
  assert.deepEqual(kim.requests.filter((url) => new URL(url).host !== own), [], "Converse asks nothing of another server");
}
