// What the browser tests share: Debian's Chromium through playwright-core, the pages under test
// (served by the test's Prosody), an axe-core check, screenshots, and a watch on every request
// a page makes. tests/browser.rs starts Prosody and the bot and sets the environment read here.

import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);

/** The pages' address (`http://127.0.0.1:<port>/`), from tests/browser.rs. */
export const WEB = need("HELPIM_WEB");
/** The staff member's account and password. */
export const STAFF = { jid: need("HELPIM_STAFF_JID"), password: need("HELPIM_STAFF_PASSWORD") };
/** A colleague's account (same password). */
export const STAFF2 = { jid: process.env.HELPIM_STAFF2_JID || "staff2@localhost", password: STAFF.password };
/** A supervisor's account, where the test's bot has one (`staff.supervisors`). */
export const STAFF3 = { jid: "staff3@localhost", password: STAFF.password };
/** Where screenshots go. */
export const ARTIFACTS = need("HELPIM_ARTIFACTS");
/** How long a page may take to show what the bot did: generous, the machine is shared. */
export const DEADLINE = 20000;

const CHROMIUM = process.env.HELPIM_CHROMIUM || "/usr/bin/chromium";
const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

function need(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the browser tests through \`cargo test --test browser\``);
  return value;
}

/** Starts Debian's Chromium, headless (with `args` more on its command line). */
export async function launch(args = []) {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: install Debian's chromium (apt-get install chromium; scripts/test.sh does it)`);
  }
  mkdirSync(ARTIFACTS, { recursive: true });
  // --no-sandbox: the tests run as root in CI, where Chromium's sandbox refuses to start;
  // --disable-dev-shm-usage: a container's /dev/shm may be too small for it.
  return chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-dev-shm-usage", ...args] });
}

/**
 * A new person at a page (`path` under WEB) in their own browser context, so two visitors and a
 * staff member share nothing. Every request and WebSocket the page opens is recorded in
 * `page.requests`, and every console error (a Content-Security-Policy refusal, an exception) in
 * `page.errors`. Options: `locale` (the browser's language), `viewport`; `wire` (or `droppable`)
 * puts the page's WebSocket through Playwright: every frame the page sends is kept in
 * `page.sent` (and every one it receives in `page.received`), `drop(page)` cuts it as a lost network would (both ends see it close, and Prosody
 * ends the session), `inject(page, xml)` hands the page a stanza as if from the server, and
 * `page.fake[node] = (id) => xml` answers the bot's command `node` in the bot's place (for
 * commands this bot does not have yet). `clock` installs Playwright's fake clock before the page
 * loads (`page.clock`); `init` is a script run in the page before its own (a stub, a spy); `prepare(page)` runs before
 * the page loads (routes); `config` overrides settings of config.js; `page.answer(frame, id)`, when
 * set, may answer any frame the page sends in the server's place (a string, "" to swallow it: then
 * not sent on).
 */
export async function open(browser, path, { droppable = false, wire = false, locale, viewport, fake = {}, clock = false, init, prepare, config } = {}) {
  const context = await browser.newContext({ viewport: viewport || { width: 1100, height: 900 }, ...(locale ? { locale } : {}) });
  const page = await context.newPage();
  if (clock) await page.clock.install();
  if (init) await page.addInitScript(init);
  if (prepare) await prepare(page);
  if (config) {
    // config.js as the help line would edit it: these settings over the shipped ones.
    await page.route(/\/config\.js$/, async (route) => {
      const shipped = await (await route.fetch()).text();
      route.fulfill({ body: `${shipped}\nObject.assign(window.HELPIM_CONFIG, ${JSON.stringify(config)});`, contentType: "text/javascript" });
    });
  }
  if (droppable || wire) {
    page.sockets = [];
    page.sent = [];
    page.fake = fake;
    await page.routeWebSocket(/xmpp-websocket/, (ws) => {
      const server = ws.connectToServer();
      page.received ||= [];
      server.onMessage((frame) => {
        page.received.push(String(frame));
        ws.send(frame);
      });
      ws.onMessage((frame) => {
        const text = String(frame);
        page.sent.push(text);
        const node = /node=["']([\w-]+)["']/.exec(text)?.[1];
        const id = /^<iq[^>]* id=["']([^"']+)["']/.exec(text)?.[1];
        if (node && id && page.fake[node]) return ws.send(page.fake[node](id, text));
        const reply = page.answer?.(text, id);
        if (typeof reply === "string") return reply && ws.send(reply);
        server.send(frame);
      });
      page.sockets.push({ ws, server });
    });
  }
  page.requests = [];
  page.errors = [];
  page.on("request", (r) => page.requests.push(r.url()));
  page.on("websocket", (ws) => page.requests.push(ws.url()));
  page.on("pageerror", (e) => page.errors.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error") page.errors.push(m.text());
  });
  await page.goto(new URL(path, WEB).href);
  return page;
}

/** Hands a page opened with `wire` a stanza `xml` as if the server had sent it. */
export function inject(page, xml) {
  page.sockets.at(-1).ws.send(xml);
}

/** The bot's full JID, as config.js names it. */
export const BOT = "bot@localhost/helpim-bot";

/** A completed command answer from the bot with result `fields` (`{ var: value }`), for `page.fake`. */
export function answer(node, fields) {
  const values = Object.entries(fields)
    .map(([name, value]) => `<field var='${name}'><value>${value}</value></field>`)
    .join("");
  return (id) =>
    `<iq xmlns='jabber:client' type='result' id='${id}' from='${BOT}'><command xmlns='http://jabber.org/protocol/commands' node='${node}' status='completed'><x xmlns='jabber:x:data' type='result'>${values}</x></command></iq>`;
}

/** The values of field `name` in the commands `node` a wired page sent, in order. */
export function sentFields(page, node, name) {
  return page.sent
    .filter((f) => f.includes(`node="${node}"`) || f.includes(`node='${node}'`))
    .map((f) => new RegExp(`var=["']${name}["']><value>([^<]*)<`).exec(f)?.[1] ?? null);
}

/** Makes the page believe its tab is hidden (`true`) or seen again, as a phone or a tab switch would. */
export async function setHidden(page, hidden) {
  await page.evaluate((h) => {
    Object.defineProperty(document, "hidden", { configurable: true, get: () => h });
    Object.defineProperty(document, "visibilityState", { configurable: true, get: () => (h ? "hidden" : "visible") });
    document.dispatchEvent(new Event("visibilitychange"));
  }, hidden);
}

/** Cuts the WebSocket of a page opened with `droppable`, as a lost connection would. */
export async function drop(page) {
  const { ws, server } = page.sockets.at(-1);
  await server.close();
  await ws.close();
}

/** Waits until `selector` shows `text` (a string it contains, or a RegExp). */
export async function waitText(page, selector, text, timeout = DEADLINE) {
  try {
    await page.locator(selector, { hasText: text }).first().waitFor({ state: "visible", timeout });
  } catch (error) {
    // What the page shows instead, for whoever reads the failure.
    const shown = await page
      .evaluate(
        (sel) => ({
          [sel]: [...document.querySelectorAll(sel)].map((e) => e.textContent).slice(-5),
          notice: document.getElementById("notice")?.textContent ?? null,
          connection: document.getElementById("connection")?.textContent ?? null,
          phase: document.body.dataset.phase ?? null,
        }),
        selector,
      )
      .catch(() => "(the page could not be read)");
    error.message += `\nwaiting for ${JSON.stringify(String(text))} in ${selector}; the page shows ${JSON.stringify(shown)}`;
    throw error;
  }
}

/** How many elements matching `selector` contain `text`. */
export async function countText(page, selector, text) {
  return page.locator(selector, { hasText: text }).count();
}

/** Writes a full-page screenshot `name`.png into the artifacts folder (`fullPage` false: the screen only). */
export async function screenshot(page, name, { fullPage = true } = {}) {
  await page.screenshot({ path: `${ARTIFACTS}/${name}.png`, fullPage });
}

/**
 * Runs axe-core in the page and returns its serious and critical violations, as
 * `rule: target, …` lines (empty when there are none). Evaluated through the DevTools protocol,
 * so the pages' Content-Security-Policy need not allow it.
 */
export async function axeViolations(page) {
  await page.evaluate(AXE);
  const violations = await page.evaluate(async () => {
    const result = await globalThis.axe.run(document, { resultTypes: ["violations"] });
    return result.violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  });
  return violations;
}

/**
 * Checks that no page made a request anywhere but the pages' own server (http and ws alike) and
 * that none showed an error in its console (a Content-Security-Policy refusal would), but for
 * the errors `expected` lists by page.
 */
export function assertQuiet(pages, expected = new Map()) {
  const own = new URL(WEB).host;
  for (const page of pages) {
    const elsewhere = page.requests.filter((url) => new URL(url).host !== own);
    assert.deepEqual(elsewhere, [], `${page.url()}: no request leaves the help line's own server`);
    const errors = page.errors.filter((e) => !(expected.get(page) || []).includes(e));
    assert.deepEqual(errors, [], `${page.url()}: no error in the console`);
  }
}
