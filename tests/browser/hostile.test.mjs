// The pages in a hostile web (SPEC §12, §15), each README claim of "Safe by default" and of the
// reverse proxy decided as the README says it:
// - the pages' policy is exactly the one the README's proxy sends, less `frame-ancestors`; a
//   connection from a page to any other origin (another host, the same host on another port) is
//   refused by the browser, while the page's own XMPP WebSocket works; served with the README's
//   headers, another site cannot frame the pages, and they still work; a WebSocket on another
//   origin works once named in the policy as the README says, and not before;
// - the tab's sessionStorage, in each state (start, a language chosen, waiting, chatting, ended,
//   after "Leave queue", a chat lost over a refresh, after the quick exit), holds exactly what
//   the README lists, and never a message or the room's password; no localStorage, no cookie;
// - invitations are followed only from the bot: a stranger (an account that may make rooms)
//   invites the visitor's own session into a room of theirs, directly (XEP-0249) and through the
//   room (XEP-0045), while the visitor waits and while they chat; the page never goes there;
// - names, topics, notes, question labels and messages are text on both pages, never markup;
// - axe-core on the states no other scenario scans (checking on arrival, "cannot reach", a chat
//   lost after a refresh, the console's failed sign-in).
// Run by tests/browser.rs (`browser_pages_in_a_hostile_web`: auto mode, the real bot).

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { BOT, DEADLINE, STAFF, WEB, answer, axeViolations, launch, open, screenshot, sentFields, waitText } from "./lib.mjs";

const browser = await launch();
after(() => browser.close());

const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1100, height: 900 };

/** The README's proxy section and its three headers, as the README writes them. */
const README = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
const PROXY = README.slice(README.indexOf("### The web pages: Prosody behind a TLS reverse proxy"));
const HEADERS = Object.fromEntries(
  [...PROXY.slice(0, PROXY.indexOf("```", PROXY.indexOf("```nginx") + 8)).matchAll(/add_header ([\w-]+) "([^"]+)" always;/g)].map((m) => [m[1], m[2]]),
);
/** The policy of the pages themselves: the header's, without what only a header can carry. */
const PAGE_POLICY = HEADERS["Content-Security-Policy"]?.replace(/; frame-ancestors 'none'$/, "");

/** Markup where a name, topic, note or message goes: it must show as these very characters. */
const NICK = `<img src=x onerror="window.__pwned=1">`;
const TOPIC = "<b>bold</b> & <i>sure</i>";
const STAFF_NAME = `<b onmouseover="window.__pwned=1">Kim</b>`;
const VISITOR_SAYS = "<script>window.__pwned=1</script><b>hi</b>";
const KIM_SAYS = `<img src=x onerror="window.__pwned=2"> &amp; <a href="javascript:window.__pwned=3">x</a>`;

/** XML-escaped, for a stanza the test writes by hand. */
const xml = (text) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;");

/** axe-core finds no serious violation at desktop and phone size; a screenshot at each (`name`). */
async function accessible(page, what, name) {
  assert.deepEqual(await axeViolations(page), [], `axe-core on ${what}`);
  await screenshot(page, name);
  await page.setViewportSize(PHONE);
  assert.deepEqual(await axeViolations(page), [], `axe-core on ${what} on a phone`);
  await screenshot(page, `${name}-phone`, { fullPage: false });
  await page.setViewportSize(DESKTOP);
}

/** Fills the start form with `nick` and `topic` and asks for a chat. */
async function startChat(page, nick, topic = "") {
  await page.locator("#nick").waitFor({ state: "visible", timeout: DEADLINE });
  await page.fill("#nick", nick);
  await page.fill("#topic", topic);
  await page.press("#nick", "Enter");
}

/** Everything the tab stored: `{ session: { key: value }, local: { key: value } }`. */
async function stored(page) {
  return page.evaluate(() => {
    const all = (s) => Object.fromEntries([...Array(s.length).keys()].map((i) => [s.key(i), s.getItem(s.key(i))]));
    return { session: all(sessionStorage), local: all(localStorage), cookie: document.cookie };
  });
}

/**
 * The visitor's record in the tab, checked to be the only thing stored anywhere, with exactly
 * the fields `expected` (the key checked apart: 128 random bits, base64url, the one the page
 * sent the bot).
 */
async function assertStored(page, expected, what) {
  const { session, local, cookie } = await stored(page);
  assert.deepEqual(local, {}, `nothing in localStorage: ${what}`);
  assert.equal(cookie, "", `no cookie: ${what}`);
  assert.deepEqual(Object.keys(session), ["helpim-visitor"], `one record in sessionStorage: ${what}`);
  const record = JSON.parse(session["helpim-visitor"]);
  if ("key" in expected) {
    assert.match(record.key, /^[A-Za-z0-9_-]{22}$/, `the key: ${what}`);
    assert.equal(record.key, sentFields(page, "request-chat", "key").filter(Boolean).at(-1), `the key the bot was sent: ${what}`);
    expected = { ...expected, key: record.key };
  }
  assert.deepEqual(record, expected, `exactly these fields: ${what}`);
  return session["helpim-visitor"];
}

/** Nothing in either storage, no cookie. */
async function assertNothingStored(page, what) {
  assert.deepEqual(await stored(page), { session: {}, local: {}, cookie: "" }, `nothing stored: ${what}`);
}

/** `selector`'s text shows `text` literally, nothing was made of markup, nothing ran. */
async function literal(page, selector, text, what) {
  await waitText(page, selector, text);
  const made = await page.evaluate(() => ({
    pwned: window.__pwned,
    elements: document.querySelectorAll("img, iframe, a[href^='javascript'], script:not([src]), [onerror], [onmouseover]").length,
  }));
  assert.deepEqual(made, { pwned: undefined, elements: 0 }, `as text, not markup: ${what}`);
}

/** The console of `name`, signed in on the real bot. */
async function signIn(name = STAFF_NAME) {
  const staff = await open(browser, "staff.html");
  await staff.fill("#jid", STAFF.jid);
  await staff.fill("#password", STAFF.password);
  await staff.fill("#name", name);
  await staff.press("#password", "Enter");
  await waitText(staff, "#status dd[data-field=open]", "yes");
  return staff;
}

/** The full JID the server bound last for a page opened with `wire` (its current session). */
function boundJid(page) {
  for (const frame of [...(page.received || [])].reverse()) {
    const jid = /<bind[^>]*>\s*<jid>([^<]+)<\/jid>/.exec(frame)?.[1];
    if (jid) return jid;
  }
  return null;
}

/** Waits until `check()` holds, failing with `what` after the deadline. */
async function waitUntil(check, what) {
  const until = Date.now() + DEADLINE;
  while (!(await check())) {
    if (Date.now() > until) assert.fail(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test("the policy: the README's, own server only; elsewhere refused, the page's own WebSocket works", async () => {
  assert.ok(PAGE_POLICY, `the README's proxy sends the pages' policy: ${JSON.stringify(HEADERS)}`);
  for (const path of ["/", "staff.html"]) {
    const page = await open(browser, path);
    const policies = await page.locator("meta[http-equiv=Content-Security-Policy]").evaluateAll((ms) => ms.map((m) => m.content));
    assert.deepEqual(policies, [PAGE_POLICY], `${path}: one policy, the README's`);
    await page.context().close();
  }
  const own = new URL(WEB);
  const ada = await open(browser, "/");
  // The page's own XMPP WebSocket works: the bot answered it whether the line is open.
  await ada.waitForFunction(() => ["closed", "start"].includes(document.body.dataset.phase), null, { timeout: DEADLINE });
  assert.ok(ada.requests.includes(`ws://${own.host}/xmpp-websocket`), ada.requests.join(" "));
  const port = Number(own.port);
  // (wss: to the page's own host and port is 'self' too: the same server, upgraded to TLS.)
  const elsewhere = [
    `ws://127.0.0.2:${port}/xmpp-websocket`, // another host, same port
    `ws://localhost:${port}/xmpp-websocket`, // the same machine by another name: another origin
    `ws://127.0.0.1:${port + 1}/xmpp-websocket`, // another port
  ];
  const fetched = `http://127.0.0.2:${port}/config.js`;
  const result = await ada.evaluate(
    async ({ elsewhere, fetched }) => {
      const violations = [];
      document.addEventListener("securitypolicyviolation", (e) => violations.push({ uri: e.blockedURI, directive: e.effectiveDirective }));
      for (const url of elsewhere) {
        try {
          new WebSocket(url);
        } catch (error) {
          // Refused at once: the violation is reported all the same.
        }
      }
      const fetchRefused = await fetch(fetched).then(
        () => false,
        () => true,
      );
      // The control: the page's own origin, ws: and all, is allowed ('self' matches it).
      const ownOpened = await new Promise((resolve) => {
        const ws = new WebSocket(`ws://${location.host}/xmpp-websocket`, "xmpp");
        ws.onopen = () => (ws.close(), resolve(true));
        ws.onerror = () => resolve(false);
      });
      const until = Date.now() + 10000;
      while (violations.length < elsewhere.length + 1 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      return { violations, fetchRefused, ownOpened };
    },
    { elsewhere, fetched },
  );
  assert.equal(result.ownOpened, true, "the page's own WebSocket is allowed");
  assert.equal(result.fetchRefused, true, "a fetch to another origin fails");
  // Chromium reports the blocked address as its origin or in full; compared as origins.
  const origin = (u) => u.replace(/^(\w+:\/\/[^/]+).*$/, "$1");
  assert.deepEqual(
    result.violations.map((v) => `${v.directive} ${origin(v.uri)}`).sort(),
    [...elsewhere, fetched].map((u) => `connect-src ${origin(u)}`).sort(),
    `every other origin refused by connect-src: ${JSON.stringify(result.violations)}`,
  );
  await ada.context().close();
});

test("a WebSocket on another origin works once named in the pages' policy, as the README says; unnamed, it is refused", async () => {
  // README, "Pages on another origin": the WebSocket's origin added to connect-src, and only it.
  const example = "connect-src 'self' wss://chat.example.org";
  assert.ok(PROXY.includes(`\`${example}\``), `the README shows ${example}`);
  // The same Prosody by another name is another origin: ws://localhost:<port>.
  const other = `ws://localhost:${new URL(WEB).port}`;
  const config = { websocket: `${other}/xmpp-websocket` };
  // Chromium's own check of pages reaching another address of the machine (Local Network Access)
  // would stop this one too, policy or not: off in a browser of this test's own, as a real
  // chat.example.org is no local address.
  const lnaOff = await launch(["--disable-features=LocalNetworkAccessChecks"]);
  after(() => lnaOff.close());
  const unnamed = await open(lnaOff, "/", { config });
  // Nobody is on duty yet: a page that reaches the bot hears "closed"; one that cannot shows the form.
  await unnamed.locator("#start-form").waitFor({ state: "visible", timeout: DEADLINE });
  assert.equal(await unnamed.getAttribute("body", "data-phase"), "start", "the bot was not reached");
  assert.ok(unnamed.errors.some((e) => e.includes("Content Security Policy") && e.includes(other)), unnamed.errors.join("\n"));
  await unnamed.context().close();
  const named = await open(lnaOff, "/", {
    config,
    prepare: (page) =>
      page.route(/\/$/, async (route) => {
        const html = await (await route.fetch()).text();
        const policy = PAGE_POLICY.replace("connect-src 'self'", example.replace("wss://chat.example.org", other));
        route.fulfill({ contentType: "text/html", body: html.replace(PAGE_POLICY, policy) });
      }),
  });
  await named.waitForFunction(() => ["closed", "start"].includes(document.body.dataset.phase), null, { timeout: DEADLINE });
  // What the page met, for whoever reads a failure.
  const shown = { errors: named.errors, policy: await named.locator("meta[http-equiv=Content-Security-Policy]").getAttribute("content") };
  assert.equal(await named.getAttribute("body", "data-phase"), "closed", `the bot answered over ${other}: ${JSON.stringify(shown)}`);
  assert.ok(named.requests.includes(`${other}/xmpp-websocket`), named.requests.join(" "));
  assert.deepEqual(named.errors, [], "no refusal");
  await named.context().close();
});

test("served with the README's headers: no site can frame the pages, nothing cached, no referrer; the pages work", async () => {
  for (const name of ["Content-Security-Policy", "Cache-Control", "Referrer-Policy"]) assert.ok(HEADERS[name], `the README's proxy sends ${name}`);
  assert.match(HEADERS["Content-Security-Policy"], /; frame-ancestors 'none'$/);
  const context = await browser.newContext({ viewport: DESKTOP });
  const own = new URL(WEB).origin;
  let proxied = true;
  // The pages' server as the README's proxy serves it: each response with its three headers.
  await context.route(`${own}/**`, async (route) => {
    const response = await route.fetch();
    route.fulfill({ response, headers: { ...response.headers(), ...(proxied ? HEADERS : {}) } });
  });
  // Another site that puts both pages in frames.
  await context.route("http://elsewhere.example/**", (route) =>
    route.fulfill({ contentType: "text/html", body: `<!doctype html><title>elsewhere</title><iframe name="visitor" src="${own}/"></iframe><iframe name="staff" src="${own}/staff.html"></iframe>` }),
  );
  const direct = await context.newPage();
  const response = await direct.goto(`${own}/`);
  for (const [name, value] of Object.entries(HEADERS)) assert.equal(response.headers()[name.toLowerCase()], value, name);
  // Both policies in force (the header's and the page's own) and the page still reaches the bot.
  await direct.waitForFunction(() => ["closed", "start"].includes(document.body.dataset.phase), null, { timeout: DEADLINE });
  const staff = await context.newPage();
  await staff.goto(`${own}/staff.html`);
  await staff.locator("#jid").waitFor({ state: "visible", timeout: DEADLINE });

  const framing = await context.newPage();
  const refusals = [];
  framing.on("console", (m) => /frame-ancestors/.test(m.text()) && refusals.push(m.text()));
  await framing.goto("http://elsewhere.example/");
  await waitUntil(() => refusals.length >= 2, "Chromium refuses both frames");
  for (const frame of framing.frames().filter((f) => f !== framing.mainFrame())) {
    const inside = await frame.evaluate(() => !!document.getElementById("exit") || !!document.getElementById("jid")).catch(() => false);
    assert.equal(inside, false, `${frame.name()} is not shown in another site's frame`);
  }
  await screenshot(framing, "hostile-framed-refused");
  // The control: without the headers the same frames show the pages (the header is what stops them).
  proxied = false;
  await framing.reload();
  await framing.frame("visitor").locator("#exit").waitFor({ state: "attached", timeout: DEADLINE });
  await framing.frame("staff").locator("#jid").waitFor({ state: "attached", timeout: DEADLINE });
  await context.close();
});

let staff;

test("sessionStorage in each state: only key, name, topic, room (and phase, language, sound); never a message or password", async () => {
  staff = await signIn();
  const vera = await open(browser, "/", { wire: true });
  await vera.locator("#nick").waitFor({ state: "visible", timeout: DEADLINE });
  await assertNothingStored(vera, "the start page");
  // A language chosen: that alone.
  await vera.selectOption("#language", "nl");
  await waitText(vera, "#start-title", "Begin een chat");
  await assertStored(vera, { lang: "nl" }, "a language chosen");
  await vera.selectOption("#language", "en");
  await waitText(vera, "#start-title", "Start a chat");
  await assertStored(vera, { lang: "en" }, "English chosen again");
  await startChat(vera, "Vera", "my sister");
  await waitText(vera, "#place", /in the queue/);
  await assertStored(vera, { key: 1, nick: "Vera", topic: "my sister", phase: "waiting", lang: "en" }, "waiting");
  await vera.check("#sound");
  await assertStored(vera, { key: 1, nick: "Vera", topic: "my sister", phase: "waiting", lang: "en", sound: true }, "waiting, the sound on");

  await staff.click("#take-next");
  await waitText(vera, "#messages li", "You are in the chat");
  const invitation = vera.received.find((f) => f.includes("jabber:x:conference") && (f.includes(`from="${BOT}"`) || f.includes(`from='${BOT}'`)));
  assert.ok(invitation, "the bot's invitation reached the page");
  const room = /\sjid=["']([^"']+)["']/.exec(/<x[^>]*jabber:x:conference[^>]*>/.exec(invitation)[0])[1];
  const password = /password=["']([^"']+)["']/.exec(invitation)?.[1];
  assert.ok(password, "the bot's room has a password");
  await vera.fill("#text", "a line only Vera and Kim should read");
  await vera.press("#text", "Enter");
  await waitText(staff, ".pane:not([hidden]) .messages li", "a line only Vera and Kim should read");
  await staff.fill(".pane:not([hidden]) textarea", "and an answer only Vera should read");
  await staff.press(".pane:not([hidden]) textarea", "Enter");
  await waitText(vera, "#messages li", "and an answer only Vera should read");
  const record = await assertStored(vera, { key: 1, nick: "Vera", topic: "my sister", phase: "chatting", lang: "en", sound: true, room }, "chatting");
  for (const secret of [password, "a line only Vera", "an answer only Vera"]) assert.ok(!record.includes(secret), `never stored: ${secret}`);

  await vera.click("#end");
  await waitText(vera, "#ended-words", "You ended the chat.");
  await assertNothingStored(vera, "ended");
  await waitText(staff, ".pane:not([hidden]) .state", "Vera has ended the chat.");
  await staff.click(".pane:not([hidden]) .end");

  // A new chat, and "Leave queue": the choices only.
  await vera.click("#new-chat");
  await startChat(vera, "Vera", "leaving");
  await waitText(vera, "#place", /in the queue/);
  await assertStored(vera, { key: 1, nick: "Vera", topic: "leaving", phase: "waiting", lang: "en", sound: true }, "waiting to leave");
  await vera.click("#leave");
  await waitText(vera, "#connection", "You have left the queue.");
  await assertStored(vera, { lang: "en", sound: true }, "after Leave queue");

  // Another, and the quick exit while waiting: nothing left, on the neutral page either.
  await startChat(vera, "Vera", "again");
  await waitText(vera, "#place", /in the queue/);
  await assertStored(vera, { key: 1, nick: "Vera", topic: "again", phase: "waiting", lang: "en", sound: true }, "waiting again");
  await vera.click("#exit");
  await vera.waitForURL(/away\.html$/, { timeout: DEADLINE });
  await assertNothingStored(vera, "after the quick exit");
  await staff.locator("#waiting li", { hasText: "Vera" }).waitFor({ state: "detached", timeout: DEADLINE });
  await vera.context().close();
});

/** A stranger's XMPP session, in a page of its own: an account that may make rooms. */
async function stranger() {
  // The console's page lends its strophe.js; the stranger's session is the test's own, not the
  // console's (never signed in).
  const page = await open(browser, "staff.html");
  await page.evaluate(
    async ({ websocket, jid, password }) => {
      const conn = new Strophe.Connection(websocket);
      window.conn = conn;
      window.seen = [];
      conn.addHandler((p) => (window.seen.push(p.getAttribute("from")), true), null, "presence");
      await new Promise((resolve, reject) =>
        conn.connect(jid, password, (status, condition) => {
          if (status === Strophe.Status.CONNECTED) resolve();
          if (status === Strophe.Status.AUTHFAIL || status === Strophe.Status.CONNFAIL) reject(new Error(`stranger: ${status} ${condition}`));
        }),
      );
      conn.send($pres());
    },
    { websocket: `ws://${new URL(WEB).host}/xmpp-websocket`, jid: "inspector@localhost", password: STAFF.password },
  );
  return page;
}

/** The stranger makes room `jid` (an instant room) and is in it. */
async function makeRoom(page, jid) {
  await page.evaluate(async (room) => {
    const { $pres, $iq } = globalThis;
    window.conn.send($pres({ to: `${room}/Stranger` }).c("x", { xmlns: "http://jabber.org/protocol/muc" }));
    await new Promise((resolve) => {
      const check = () => (window.seen.includes(`${room}/Stranger`) ? resolve() : setTimeout(check, 50));
      check();
    });
    await new Promise((resolve, reject) =>
      window.conn.sendIQ($iq({ to: room, type: "set" }).c("query", { xmlns: "http://jabber.org/protocol/muc#owner" }).c("x", { xmlns: "jabber:x:data", type: "submit" }), resolve, reject),
    );
  }, jid);
}

/** The stranger invites `to` into `room`, directly (XEP-0249) and through the room (XEP-0045). */
async function invite(page, room, to) {
  await page.evaluate(
    ({ room, to }) => {
      const { $msg } = globalThis;
      window.conn.send($msg({ to }).c("x", { xmlns: "jabber:x:conference", jid: room, password: "come-in", reason: "The counsellor moved" }));
      window.conn.send($msg({ to: room }).c("x", { xmlns: "http://jabber.org/protocol/muc#user" }).c("invite", { to }).c("reason").t("The counsellor moved"));
    },
    { room, to },
  );
}

test("invitations are followed only from the bot: a stranger's, direct or through a room, while waiting and in a chat", async () => {
  const eve = await stranger();
  const trap = `trap-${Date.now()}@conference.localhost`;
  await makeRoom(eve, trap);
  const wes = await open(browser, "/", { wire: true });
  await startChat(wes, "Wes", "forged");
  await waitText(wes, "#place", /in the queue/);
  const me = boundJid(wes);
  assert.match(me, /@anon\.localhost\//, "the visitor's full JID");
  const forged = (page) => page.received.filter((f) => f.includes(trap));
  await invite(eve, trap, me);
  // Both reached the page: the direct one from the stranger, the mediated one from their room.
  await waitUntil(() => forged(wes).some((f) => f.includes("jabber:x:conference") && f.includes("inspector@localhost")) && forged(wes).some((f) => f.includes("muc#user") && f.includes("<invite")), "the forged invitations reached the page");
  // The bot's invitation comes after them on the same stream: once the page is in the bot's
  // room, it had handled the forged ones.
  await staff.click("#take-next");
  await waitText(wes, "#messages li", "You are in the chat");
  const room = JSON.parse(await wes.evaluate(() => sessionStorage.getItem("helpim-visitor"))).room;
  assert.match(room, /@conference\.localhost$/);
  assert.notEqual(room, trap);
  // In the chat, invited again: a message of the counsellor after it proves the page handled it.
  const count = forged(wes).length;
  await invite(eve, trap, me);
  await waitUntil(() => forged(wes).length >= count + 2, "the second forged invitations reached the page");
  await staff.fill(".pane:not([hidden]) textarea", "still with you");
  await staff.press(".pane:not([hidden]) textarea", "Enter");
  await waitText(wes, "#messages li", "still with you");
  await wes.fill("#text", "good");
  await wes.press("#text", "Enter");
  await waitText(staff, ".pane:not([hidden]) .messages li", "good");
  assert.deepEqual(wes.sent.filter((f) => f.includes(trap)), [], "the page never sent anything to the stranger's room");
  const inTrap = await eve.evaluate((t) => window.seen.filter((from) => from.startsWith(`${t}/`)), trap);
  assert.deepEqual(inTrap, [`${trap}/Stranger`], "nobody but the stranger was ever in their room");
  assert.equal(JSON.parse(await wes.evaluate(() => sessionStorage.getItem("helpim-visitor"))).room, room, "still in the bot's room");
  await wes.click("#end");
  await waitText(staff, ".pane:not([hidden]) .state", "Wes has ended the chat.");
  await staff.click(".pane:not([hidden]) .end");
  await eve.context().close();
  await wes.context().close();
});

test("names, topics, notes, question labels and messages are text on both pages, never markup", async () => {
  const mal = await open(browser, "/", { wire: true });
  await startChat(mal, NICK, TOPIC);
  await waitText(mal, "#place", /in the queue/);
  // The console: the visitor's name and topic in the waiting list, as typed.
  await literal(staff, "#waiting li", NICK, "the visitor's name in the waiting list");
  await literal(staff, "#waiting li", TOPIC, "the visitor's topic in the waiting list");
  await staff.click("#take-next");
  await waitText(mal, "#messages li", "You are in the chat");
  // The visitor page: the counsellor's name (as they signed in), in the line that says so.
  await literal(mal, "#messages li", `You are in the chat with ${STAFF_NAME}`, "the counsellor's name");
  await literal(staff, "[role=tab]", NICK, "the visitor's name on the chat's tab");
  await literal(staff, ".pane:not([hidden]) .topic", TOPIC, "the topic with the chat");
  await mal.fill("#text", VISITOR_SAYS);
  await mal.press("#text", "Enter");
  await literal(staff, ".pane:not([hidden]) .messages li", VISITOR_SAYS, "the visitor's message on the console");
  await literal(mal, "#messages li.mine", VISITOR_SAYS, "the visitor's own message");
  await staff.fill(".pane:not([hidden]) textarea", KIM_SAYS);
  await staff.press(".pane:not([hidden]) textarea", "Enter");
  await literal(mal, "#messages li", KIM_SAYS, "the counsellor's message on the visitor page");
  await literal(staff, ".pane:not([hidden]) .messages li.mine", KIM_SAYS, "the counsellor's own message");
  await accessible(mal, "the visitor page with names and messages in markup", "hostile-markup-chat");
  // The console's tab: its open rooms, their passwords and topics, its account and name; never
  // the staff member's password, never a message (README, "Safe by default").
  const desk = await stored(staff);
  assert.deepEqual(Object.keys(desk.session), ["helpim-staff"], "one record in the console's sessionStorage");
  const kept = JSON.parse(desk.session["helpim-staff"]);
  assert.deepEqual(Object.keys(kept).sort(), ["chats", "jid", "name"]);
  assert.equal(kept.jid, STAFF.jid);
  assert.equal(kept.name, STAFF_NAME);
  assert.equal(kept.chats.length, 1, "the one open chat");
  const fields = Object.keys(kept.chats[0]);
  assert.ok(fields.includes("room") && fields.includes("password") && fields.every((f) => ["room", "password", "topic"].includes(f)), `a chat's room, password and topic only: ${fields}`);
  assert.ok(Object.keys(desk.local).every((k) => k === "helpim-staff-sound"), `only the sound setting on the machine: ${Object.keys(desk.local)}`);
  // Each stored value as stored (JSON text): a secret would be in it as written, or JSON-escaped.
  const values = [...Object.values(desk.session), ...Object.values(desk.local)];
  for (const secret of [STAFF.password, VISITOR_SAYS, KIM_SAYS]) {
    const forms = [secret, JSON.stringify(secret).slice(1, -1)];
    assert.ok(!values.some((v) => forms.some((f) => v.includes(f))), `the console never stores ${secret}`);
  }
  assert.deepEqual(await axeViolations(staff), [], "axe-core on the console with names and messages in markup");
  await screenshot(staff, "hostile-markup-console");

  // A refresh, and the bot no longer has the chat: it ends, calmly, as lost; nothing stored.
  mal.fake["resume-chat"] = answer("resume-chat", { status: "expired" });
  await mal.reload();
  await waitText(mal, "#ended-words", "Your chat has ended: the connection was lost for too long.");
  assert.equal(await mal.isVisible("#notice"), false, "a lost chat is not an error");
  await assertNothingStored(mal, "a chat lost after a refresh");
  await accessible(mal, "a chat lost after a refresh", "hostile-chat-lost");
  await staff.click(".pane:not([hidden]) .end");
  if (await staff.isVisible("#confirm-ok")) await staff.click("#confirm-ok");
  await mal.context().close();

  // The bot's note and question labels (given here in its place, as a bot could word them).
  const note = `<b>Please</b> <img src=x onerror="window.__pwned=4"> answer`;
  const label = `<i>Are you safe?</i><img src=x onerror="window.__pwned=5">`;
  const form = (id, withNote) =>
    `<iq xmlns='jabber:client' type='result' id='${id}' from='${BOT}'><command xmlns='http://jabber.org/protocol/commands' node='request-chat' status='executing' sessionid='s'>${withNote ? `<note type='warn'>${xml(note)}</note>` : ""}<x xmlns='jabber:x:data' type='form'><field var='nick' type='text-single'/><field var='q-safe' type='list-single' label='${xml(label)}'><required/><option label='${xml("<u>Yes</u>")}'><value>yes</value></option><option label='No'><value>no</value></option></field></x></command></iq>`;
  const sam = await open(browser, "/", { wire: true, fake: { "request-chat": (id, frame) => form(id, /var=["']nick["']/.test(frame)) } });
  await sam.locator("#questions[data-loaded]").waitFor({ state: "attached", timeout: DEADLINE });
  await literal(sam, "#questions", label, "a question's label");
  await literal(sam, "#questions", "<u>Yes</u>", "a choice's label");
  await sam.locator("#questions input[type=radio]").last().check();
  await startChat(sam, "Sam");
  await literal(sam, "#notice", note, "the bot's note");
  await sam.context().close();

  // A handover's note and topic on a console (the bot's push given here in its place).
  const alex = await open(browser, "staff.html", { wire: true, config: { staffRoom: "" } });
  alex.answer = (frame) => (frame.includes(BOT) ? "" : undefined);
  await alex.fill("#jid", "staff2@localhost");
  await alex.fill("#password", STAFF.password);
  await alex.fill("#name", "Alex");
  await alex.press("#password", "Enter");
  await alex.locator("#desk").waitFor({ state: "visible", timeout: DEADLINE });
  const handoverNote = `<img src=x onerror="window.__pwned=6">call back`;
  const since = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  alex.sockets.at(-1).ws.send(
    `<message xmlns='jabber:client' type='headline' from='${BOT}'><shift xmlns='urn:helpim:staff:0' open='true' staff-on-duty='2' available='1' staffed='0' busy='0' closing='0' queue-length='1' mode='auto'><handover room='room-9@conference.localhost' from='${xml(STAFF_NAME)}' note='${xml(handoverNote)}' topic='${xml(TOPIC)}' since='${since}'/></shift></message>`,
  );
  await literal(alex, "#waiting li", handoverNote, "a handover's note");
  await literal(alex, "#waiting li", TOPIC, "a handover's topic");
  await literal(alex, "#waiting li", STAFF_NAME, "who handed it over");
  await screenshot(alex, "hostile-markup-handover");
  await alex.context().close();
});

test("axe-core on the states no other scenario scans: checking on arrival, cannot reach, the console's failed sign-in", async () => {
  // The bot has not answered yet: "Checking whether the help line is open".
  const ida = await open(browser, "/", { wire: true });
  ida.answer = (frame) => (/node=["']line-status["']/.test(frame) ? "" : undefined);
  await ida.reload();
  await ida.locator("#checking").waitFor({ state: "visible", timeout: DEADLINE });
  await waitUntil(async () => (await ida.textContent("#checking")) !== "", "the page says it is checking");
  assert.equal(await ida.getAttribute("body", "data-phase"), "arriving");
  await accessible(ida, "checking on arrival", "hostile-arriving");
  await ida.context().close();

  // The request fails: the form again, with the alert.
  const fail = (id) => `<iq xmlns='jabber:client' type='error' id='${id}' from='${BOT}'><error type='wait'><internal-server-error xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`;
  const joe = await open(browser, "/", { wire: true, fake: { "request-chat": fail } });
  await startChat(joe, "Joe");
  await joe.locator("body[data-phase=error]").waitFor({ state: "attached", timeout: DEADLINE });
  await waitText(joe, "#notice", "We could not reach the help line. Please check your connection and try again.");
  await accessible(joe, "the request failed", "hostile-cannot-reach");
  await joe.context().close();

  // The console: a wrong password.
  const kim = await open(browser, "staff.html");
  await kim.fill("#jid", STAFF.jid);
  await kim.fill("#password", "not the password");
  await kim.fill("#name", "Kim");
  await kim.press("#password", "Enter");
  await waitText(kim, "#notice", "That user name or password is wrong.");
  await accessible(kim, "the console's failed sign-in", "hostile-console-sign-in-failed");
  await kim.context().close();
  await staff.context().close();
});
