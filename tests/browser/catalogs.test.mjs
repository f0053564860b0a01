// The visitor page's message catalogs (web/i18n/*.json): each parses, every key of any catalog is
// in every catalog, a plural has the forms its language needs (Intl.PluralRules) and `other`,
// the `{names}` filled in are the same in every language, and config.js lists exactly the
// catalogs there are. Run by tests/browser.rs (`browser_catalogs_have_every_key`); needs no browser.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import vm from "node:vm";

const dir = new URL("../../web/i18n/", import.meta.url);
const catalogs = Object.fromEntries(
  readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .map((f) => [f.replace(/\.json$/, ""), JSON.parse(readFileSync(new URL(f, dir), "utf8"))]),
);
const names = (text) => [...String(text).matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

test("English, Dutch and Arabic ship, and config.js lists every catalog", () => {
  for (const code of ["en", "nl", "ar"]) assert.ok(catalogs[code], `${code}.json`);
  const sandbox = { window: {}, location: { protocol: "http:", host: "example.org" } };
  vm.runInNewContext(readFileSync(new URL("../../web/config.js", import.meta.url), "utf8"), sandbox);
  const listed = [...sandbox.window.HELPIM_CONFIG.languages.map((l) => String(l.code))].sort();
  assert.deepEqual(listed, Object.keys(catalogs).sort());
  assert.ok(catalogs[sandbox.window.HELPIM_CONFIG.defaultLanguage], "the default language has a catalog");
});

test("every key is in every catalog, with the same names filled in", () => {
  const all = new Set(Object.values(catalogs).flatMap((c) => Object.keys(c)));
  for (const [code, words] of Object.entries(catalogs)) {
    const missing = [...all].filter((k) => !(k in words));
    assert.deepEqual(missing, [], `${code}.json lacks keys`);
    for (const key of all) {
      if (key.startsWith("_")) continue;
      const mine = typeof words[key] === "object" ? words[key].other : words[key];
      const english = typeof catalogs.en[key] === "object" ? catalogs.en[key].other : catalogs.en[key];
      assert.equal(typeof mine, "string", `${code}: ${key}`);
      assert.ok(mine.trim(), `${code}: ${key} is not empty`);
      assert.deepEqual(names(mine), names(english), `${code}: ${key} fills in the same names as English`);
    }
    assert.ok(["ltr", "rtl"].includes(words._dir), `${code}: _dir`);
  }
  assert.equal(catalogs.ar._dir, "rtl");
});

test("plurals have every form their language uses", () => {
  for (const [code, words] of Object.entries(catalogs)) {
    const rules = new Intl.PluralRules(code);
    const needed = rules.resolvedOptions().pluralCategories;
    for (const [key, value] of Object.entries(words)) {
      if (typeof value !== "object") continue;
      for (const form of needed) assert.ok(form in value, `${code}: ${key} lacks the form "${form}"`);
      assert.ok("other" in value, `${code}: ${key} has "other"`);
      for (const form of Object.keys(value)) assert.ok(needed.includes(form), `${code}: ${key} has a form "${form}" ${code} does not use`);
    }
  }
});

test("the console's catalog has every word the console uses, and no other", () => {
  const staff = JSON.parse(readFileSync(new URL("staff/en.json", dir), "utf8"));
  const script = readFileSync(new URL("../../web/staff.js", import.meta.url), "utf8");
  const html = readFileSync(new URL("../../web/staff.html", import.meta.url), "utf8");
  const used = new Set([...script.matchAll(/\bt\("([\w.-]+)"/g), ...html.matchAll(/data-i18n(?:-label)?="([\w.-]+)"/g)].map((m) => m[1]));
  const missing = [...used].filter((k) => !(k in staff));
  assert.deepEqual(missing, [], "web/i18n/staff/en.json lacks words web/staff.js or staff.html use");
  const unused = Object.keys(staff).filter((k) => !k.startsWith("_") && !used.has(k));
  assert.deepEqual(unused, [], "web/i18n/staff/en.json has words nothing uses");
});
