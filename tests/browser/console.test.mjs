// The staff console for a shift (SPEC §13), in the bot's place: every frame the console sends
// to the bot is caught on its WebSocket and answered by the test (`page.answer`, `page.fake`), and
// the bot's pushes (`<shift/>`, `<help/>`, `<line/>` …; docs/protocol.md) are handed to the page
// as the server would. So each state of the console is shown exactly, on the real server, without
// waiting for the bot to reach it: the waiting list with a handover first, minutes waited,
// priority and a re-offer; the figures in plain words; the alerts (title, tone, desktop
// notification); the banners when the bot or the server cannot be reached; the supervisor's
// live chats, watch and whisper, and a request for help. Screenshots of each at 1280×800 and
// 1920×1080. Run by tests/browser.rs (`browser_console_for_a_shift`); the same states with the
// real bot are in shift.test.mjs.

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { BOT, DEADLINE, STAFF, assertQuiet, axeViolations, drop, inject, launch, open, screenshot, waitText } from "./lib.mjs";

const browser = await launch();
after(() => browser.close());

const SIZES = [
  ["", { width: 1280, height: 800 }],
  ["-1920", { width: 1920, height: 1080 }],
];
const COMMANDS = "http://jabber.org/protocol/commands";
const DATA = "jabber:x:data";

/** Screenshots of the page as it is, at both sizes (the screen, as staff see it), and axe-core on each. */
async function look(page, name) {
  for (const [suffix, size] of SIZES) {
    await page.setViewportSize(size);
    assert.deepEqual(await axeViolations(page), [], `axe-core on ${name} at ${size.width}×${size.height}`);
    await screenshot(page, `${name}${suffix}`, { fullPage: false });
  }
  await page.setViewportSize(SIZES[0][1]);
}

/** A spy in place of the browser's Notification: `permission` as given, every one shown recorded. */
function notificationSpy(permission) {
  return `(() => {
    const shown = [];
    window.__notifications = shown;
    class Spy { constructor(title, options) { shown.push({ title, body: options?.body || "" }); } }
    Spy.permission = ${JSON.stringify(permission)};
    Spy.requestPermission = async () => { Spy.permission = "granted"; window.__asked = (window.__asked || 0) + 1; return "granted"; };
    window.Notification = Spy;
  })()`;
}

/** RFC 3339 for `minutes` ago. */
const ago = (minutes) => new Date(Date.now() - minutes * 60000).toISOString().replace(/\.\d+Z$/, "Z");

/** The bot's `<shift/>` push with `figures` and children `items` (XML). */
function shiftPush(figures, items = "") {
  const attrs = Object.entries({ open: "true", "staff-on-duty": "1", available: "2", staffed: "0", busy: "0", closing: "0", "queue-length": "0", mode: "auto", ...figures })
    .map(([k, v]) => `${k}='${v}'`)
    .join(" ");
  return `<message xmlns='jabber:client' type='headline' from='${BOT}'><body>The shift.</body><shift xmlns='urn:helpim:staff:0' ${attrs}>${items}</shift></message>`;
}

function headline(payload, body = "") {
  return `<message xmlns='jabber:client' type='headline' from='${BOT}'><body>${body}</body>${payload}</message>`;
}

/** A command answer with `fields` and table `rows` (`[{ var: value }]`). */
function table(node, fields, rows = []) {
  return (id) => {
    const values = Object.entries(fields).map(([k, v]) => `<field var='${k}'><value>${v}</value></field>`).join("");
    const items = rows.map((row) => `<item>${Object.entries(row).map(([k, v]) => `<field var='${k}'><value>${v}</value></field>`).join("")}</item>`).join("");
    return `<iq xmlns='jabber:client' type='result' id='${id}' from='${BOT}'><command xmlns='${COMMANDS}' node='${node}' status='completed'><x xmlns='${DATA}' type='result'>${values}${items}</x></command></iq>`;
  };
}

/**
 * A console whose bot is the test: everything sent to the bot is swallowed but for the commands
 * in `fake` and the command list (`commands`: a supervisor's has `live-chats`).
 */
async function consoleWithoutBot({ commands = ["take-chat", "waiting-visitors", "block-visitor", "status"], fake = {}, permission = "default" } = {}) {
  const page = await open(browser, "staff.html", { wire: true, viewport: SIZES[0][1], fake, init: notificationSpy(permission), config: { staffRoom: "" } });
  page.answer = (frame, id) => {
    if (!frame.includes(`to="${BOT}"`) && !frame.includes(`to='${BOT}'`)) return undefined;
    if (frame.includes("disco#items")) {
      const items = commands.map((c) => `<item jid='${BOT}' node='${c}'/>`).join("");
      return `<iq xmlns='jabber:client' type='result' id='${id}' from='${BOT}'><query xmlns='http://jabber.org/protocol/disco#items' node='${COMMANDS}'>${items}</query></iq>`;
    }
    return "";
  };
  return page;
}

async function signIn(page, { user = STAFF.jid, name = "Kim" } = {}) {
  await page.fill("#jid", user);
  await page.fill("#password", STAFF.password);
  await page.fill("#name", name);
  await page.press("#password", "Enter");
  await page.locator("#desk").waitFor({ state: "visible", timeout: DEADLINE });
}

test("the shift at a glance: waiting first, plain figures, alerts, and the banners", async () => {
  const kim = await consoleWithoutBot({ fake: { "take-chat": (id) => `<iq xmlns='jabber:client' type='error' id='${id}' from='${BOT}'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>` } });
  // Plain labels at sign-in: no "XMPP address"; the name visitors see is asked for, and required.
  const labels = (await kim.locator("#login label").allTextContents()).join(" | ");
  assert.doesNotMatch(labels, /XMPP|JID/i, labels);
  assert.match(labels, /Your user name.*Password.*Your name in chats \(visitors see this name\)/);
  assert.equal(await kim.getAttribute("#name", "required"), "");
  await look(kim, "console-sign-in");
  await signIn(kim);
  await waitText(kim, "#notify", "Turn on desktop alerts");

  // The bot pushes the shift: a handover back in the queue, Sam waiting 5 minutes, Lee with priority.
  const items = [
    `<handover room='room-9@conference.localhost' from='Alex' note='needs a Dutch speaker' topic='rent arrears' since='${ago(1)}'/>`,
    `<visitor id='12' nick='Sam' topic='money worries' waiting-since='${ago(5)}' priority='0'/>`,
    `<visitor id='13' nick='Lee' topic='' waiting-since='${ago(1.5)}' priority='1'/>`,
  ];
  inject(kim, shiftPush({ "staff-on-duty": "3", busy: "1", "queue-length": "2", "oldest-wait": "300" }, items.join("")));
  await waitText(kim, "#waiting li:nth-child(3)", "Lee");
  const rows = await kim.locator("#waiting li").allTextContents();
  assert.match(rows[0], /Chat handed over by Alex.*rent arrears.*Note: needs a Dutch speaker/, rows[0]);
  assert.equal(await kim.getAttribute("#waiting li:nth-child(1)", "class"), "handover");
  assert.match(rows[1], /Sam.*money worries.*Waiting 5 min.*number 2 in line/, rows[1]);
  assert.match(rows[2], /Lee.*Priority.*No topic given.*Waiting 1 min/, rows[2]);
  const figures = await kim.locator("#status div").allTextContents();
  assert.deepEqual(figures, ["Waiting2", "In a chat1", "On duty3", "Longest wait5 min", "Help line openyes"]);
  assert.equal(await kim.title(), "Help line console", "nothing new yet: the first list is shown, not counted");
  await look(kim, "console-waiting");
  // On a phone too (a supervisor on call, say).
  await kim.setViewportSize({ width: 390, height: 844 });
  assert.deepEqual(await axeViolations(kim), [], "axe-core on the waiting list, phone-sized");
  await screenshot(kim, "console-waiting-phone", { fullPage: false });
  await kim.setViewportSize(SIZES[0][1]);

  // In the background a new visitor comes: the title counts, a tone plays, no notification yet
  // (not allowed). Staff allow desktop alerts with a click (never asked on load).
  assert.equal(await kim.evaluate(() => window.__asked || 0), 0, "notifications are not asked for on load");
  await kim.click("#notify");
  await kim.locator("#notify").waitFor({ state: "hidden" });
  assert.equal(await kim.evaluate(() => window.__asked), 1);
  const sounds = async () => Number((await kim.getAttribute("body", "data-sounds")) || 0);
  await kim.evaluate(() => {
    Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
    document.dispatchEvent(new Event("visibilitychange"));
  });
  inject(kim, shiftPush({ "queue-length": "3" }, items.join("") + `<visitor id='14' nick='Noor' topic='school' waiting-since='${ago(0)}' priority='0'/>`));
  await waitText(kim, "#waiting li:nth-child(4)", "Noor");
  await kim.waitForFunction(() => document.title === "(1) Help line console");
  assert.equal(await sounds(), 1);
  assert.equal(await kim.getAttribute("body", "data-last-sound"), "soft");
  assert.deepEqual(await kim.evaluate(() => window.__notifications), [{ title: "1 new visitor is waiting.", body: "Noor" }]);
  // Sam waited too long in pick mode: re-offered, louder, marked.
  inject(kim, shiftPush({ "queue-length": "3", mode: "pick" }, items.join("").replace("priority='0'/>", "priority='0' reoffer='true'/>") + `<visitor id='14' nick='Noor' topic='school' waiting-since='${ago(0)}' priority='0'/>`));
  await waitText(kim, "#waiting li.reoffer", "Still waiting: nobody took them yet");
  await kim.waitForFunction(() => document.title === "(2) Help line console");
  assert.equal(await kim.getAttribute("body", "data-last-sound"), "loud");
  assert.equal(await sounds(), 2);
  await waitText(kim, "#waiting li.reoffer button", "Take Sam");
  await look(kim, "console-reoffer");
  // Back in view: the count goes.
  await kim.evaluate(() => {
    Object.defineProperty(document, "hidden", { configurable: true, get: () => false });
    document.dispatchEvent(new Event("visibilitychange"));
  });
  await kim.waitForFunction(() => document.title === "Help line console");

  // Sound off: remembered on this machine, and no tone for the next visitor.
  await kim.uncheck("#sound");
  assert.equal(await kim.evaluate(() => localStorage.getItem("helpim-staff-sound")), "off");
  inject(kim, shiftPush({ "queue-length": "4" }, items.join("") + `<visitor id='15' nick='Ola' topic='' waiting-since='${ago(0)}' priority='0'/>`));
  await waitText(kim, "#waiting li", "Ola");
  assert.equal(await sounds(), 2, "no tone with the sound off");
  await kim.check("#sound");

  // The bot is not there: Take next is refused as unavailable; the banner says so and the
  // actions that need the bot are off, until the bot pushes again.
  await kim.click("#take-next");
  await waitText(kim, "#banner", "The help line’s bot is not answering.");
  await waitText(kim, "#status dd[data-field=open]", "not known right now");
  assert.equal(await kim.isDisabled("#take-next"), true);
  assert.equal(await kim.isDisabled("#waiting li.handover button"), true);
  await look(kim, "console-bot-unreachable");
  inject(kim, shiftPush({ "queue-length": "1" }, `<visitor id='15' nick='Ola' topic='' waiting-since='${ago(0)}' priority='0'/>`));
  await kim.locator("#banner").waitFor({ state: "hidden", timeout: DEADLINE });
  assert.equal(await kim.isDisabled("#take-next"), false);

  // The server connection drops: the banner, the actions off; back by itself.
  await drop(kim);
  await waitText(kim, "#banner", "The connection to the server is lost.");
  assert.equal(await kim.isDisabled("#take-next"), true);
  await look(kim, "console-server-lost");
  await kim.locator("#banner").waitFor({ state: "hidden", timeout: DEADLINE });
  assert.equal(await kim.isDisabled("#take-next"), false);

  // Nothing was polled: no `status` nor `waiting-visitors` was asked while the bot pushed.
  const asked = kim.sent.filter((f) => /node=["'](status|waiting-visitors)["']/.test(f));
  assert.deepEqual(asked, [], "no polling while the bot pushes");
  assertQuiet([kim], new Map([[kim, ["Websocket closed unexpectedly"]]]));
});

test("a supervisor sees the live chats, watches one, whispers, and is alerted to a request for help", async () => {
  const room = "room-3@conference.localhost";
  const fake = {
    "live-chats": table("live-chats", {}, [{ room, staff: "Kim", visitor: "Sam", topic: "money worries", priority: "0", since: ago(12) }]),
    "watch-chat": (id, frame) => table("watch-chat", { status: /<value>stop</.test(frame) ? "stopped" : "watching" })(id),
    whisper: table("whisper", { status: "sent" }),
  };
  const pat = await consoleWithoutBot({ commands: ["take-chat", "waiting-visitors", "block-visitor", "status", "live-chats", "watch-chat", "whisper"], fake, permission: "granted" });
  await signIn(pat, { name: "Pat" });
  inject(pat, shiftPush({ busy: "1", "staff-on-duty": "2" }));
  await waitText(pat, "#live tr", "money worries");
  assert.match(await pat.textContent("#live tr"), /Kim.*Sam.*money worries.*12 min/);
  await pat.click("#live button[aria-label='Watch Kim’s chat with Sam']");
  await waitText(pat, "#watch-title", "Watching Kim’s chat with Sam");
  // The earlier lines first, then each as it is stored.
  inject(pat, headline(`<line xmlns='urn:helpim:supervise:0' room='${room}' role='client' nick='Sam' at='${ago(10)}' earlier='true'/>`, "[Sam] I can't pay the rent"));
  inject(pat, headline(`<line xmlns='urn:helpim:supervise:0' room='${room}' role='staff' nick='Kim' at='${ago(9)}' earlier='true'/>`, "[Kim] That sounds hard. Tell me more?"));
  inject(pat, headline(`<line xmlns='urn:helpim:supervise:0' room='${room}' role='client' nick='Sam' at='${ago(0)}'/>`, "[Sam] since March"));
  await waitText(pat, "#watch-lines li:nth-child(3)", "since March");
  assert.match(await pat.textContent("#watch-lines li:nth-child(1)"), /Sam: I can't pay the rent/);
  await pat.fill("#whisper-text", "Ask about the landlord's letters");
  await pat.click("#whisper-form button[type=submit]");
  await waitText(pat, "#watch-lines li", "Whispered to Kim: Ask about the landlord's letters");
  const whisper = pat.sent.find((f) => /node=["']whisper["']/.test(f));
  assert.match(whisper, /var=["']room["']><value>room-3@conference.localhost</);
  // Signed with the name Pat gave at sign-in.
  assert.match(whisper, /var=["']name["']><value>Pat</);
  // Kim asks for help in another chat: a loud alert, a notification while out of view, a button to watch.
  await pat.evaluate(() => {
    Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
    document.dispatchEvent(new Event("visibilitychange"));
  });
  inject(pat, headline(`<help xmlns='urn:helpim:supervise:0' room='room-4@conference.localhost' staff='Kim' topic='self-harm'>Please read along</help>`, "Kim asks for help with a chat"));
  await waitText(pat, "#help-requests li", "Kim asks for help");
  assert.equal(await pat.getAttribute("body", "data-last-sound"), "loud");
  await pat.waitForFunction(() => document.title === "(1) Help line console");
  assert.deepEqual(await pat.evaluate(() => window.__notifications.at(-1)), { title: "Kim asks for help", body: "Please read along" });
  await pat.evaluate(() => {
    Object.defineProperty(document, "hidden", { configurable: true, get: () => false });
    document.dispatchEvent(new Event("visibilitychange"));
  });
  await look(pat, "console-supervisor");
  await pat.click("#watch-stop");
  await pat.locator("#watch").waitFor({ state: "hidden" });
  assert.ok(pat.sent.some((f) => /node=["']watch-chat["']/.test(f) && /<value>stop</.test(f)), "Stop tells the bot");
  assertQuiet([pat]);
});
