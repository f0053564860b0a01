// The console at rest: signed in, nobody waiting, nothing happening, for 10 minutes on the page's
// own clock (Playwright's `page.clock`, advanced a second at a time so that answers still come).
// Counts the stanzas the page sends over its WebSocket in those 10 minutes: with the bot's pushes
// (`<shift/>`, docs/protocol.md) only the presence to the bot once a minute, nothing else. Run by
// tests/browser.rs (`browser_console_idle_ten_minutes`); the figure goes to bench/RESULTS.md.

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { DEADLINE, STAFF, launch, open } from "./lib.mjs";

// An older page served by the test (HELPIM_OLD_WEB) has no address of its own: Chromium would
// then refuse its WebSocket to the server on 127.0.0.1 as a request into the local network.
const browser = await launch(process.env.HELPIM_OLD_WEB ? ["--disable-features=LocalNetworkAccessChecks"] : []);
after(() => browser.close());

/** The README's bound for 10 idle minutes: a presence a minute, and a little room. */
const IDLE_BOUND = 12;

/** A stanza the page sent (not the stream's own frames: open, close, acks). */
const stanza = (frame) => /^<(iq|presence|message)\b/.test(frame);

/**
 * `HELPIM_OLD_WEB`: a folder with an older web/ (`git archive main web`), whose pages are served
 * instead, to measure the console as it was (the "before" of bench/RESULTS.md).
 */
const OLD = process.env.HELPIM_OLD_WEB;
async function serveOld(page) {
  if (!OLD) return;
  await page.route(/\/[\w.-]+\.(html|js|css|json)(\?.*)?$/, (route) => {
    const file = `${OLD}${new URL(route.request().url()).pathname}`;
    if (!existsSync(file)) return route.continue();
    const type = file.endsWith(".js") ? "text/javascript" : file.endsWith(".css") ? "text/css" : file.endsWith(".json") ? "application/json" : "text/html";
    return route.fulfill({ body: readFileSync(file), contentType: type });
  });
}

test("an idle console sends only its presence to the bot, once a minute", async () => {
  const staff = await open(browser, "staff.html", { wire: true, clock: true, prepare: serveOld });
  await staff.fill("#jid", STAFF.jid);
  await staff.fill("#password", STAFF.password);
  await staff.fill("#name", "Kim");
  await staff.press("#password", "Enter");
  // Signed in, the figures shown: from here on nothing happens on the help line.
  await staff.locator("[data-field=queue-length]").first().waitFor({ timeout: DEADLINE }).catch((e) => {
    throw new Error(`${e.message}\nthe page's errors: ${staff.errors.join("\n")}\nit requested: ${staff.requests.join(" ")}`);
  });
  await staff.clock.runFor(15000);
  const before = staff.sent.length;
  const pushes = async () => Number((await staff.getAttribute("body", "data-pushes")) || 0);
  const presences = () => staff.sent.filter((f) => /^<presence\b/.test(f)).length;
  for (let second = 0; second < 600; second++) {
    const [sentBefore, pushedBefore] = [presences(), await pushes()];
    await staff.clock.runFor(1000);
    // The minute's presence: the bot answers it with a push, which the page's clock must not
    // outrun (10 s on it without one, and the console would ask for `status`). A bot that does
    // not push (the "before") is not waited for.
    if (!OLD && presences() > sentBefore) {
      // Polled from here, on real time: the page's own timers are the fake clock's.
      const deadline = Date.now() + DEADLINE;
      while ((await pushes()) <= pushedBefore) {
        assert.ok(Date.now() < deadline, "the bot pushes the shift after the console's presence");
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  }
  const sent = staff.sent.slice(before).filter(stanza);
  const kinds = {};
  for (const frame of sent) {
    const kind = /^<(\w+)/.exec(frame)[1] + (/node=["']([\w-]+)/.exec(frame)?.[1] ? ` ${/node=["']([\w-]+)/.exec(frame)[1]}` : "");
    kinds[kind] = (kinds[kind] || 0) + 1;
  }
  console.log(`IDLE-STANZAS ${sent.length} ${JSON.stringify(kinds)}`);
  if (process.env.HELPIM_IDLE_ONLY_COUNT) return;
  assert.ok(sent.length <= IDLE_BOUND, `at most ${IDLE_BOUND} stanzas in 10 idle minutes, not ${sent.length}: ${JSON.stringify(kinds)}`);
  assert.deepEqual(Object.keys(kinds), ["presence"], "nothing but presence");
});
