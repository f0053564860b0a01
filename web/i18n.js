// The visitor page's words: one message catalog per language, web/i18n/<code>.json (same origin),
// listed in config.js `languages`. A help line adds a language by adding a catalog and listing
// it. A catalog's `_dir` says ltr or rtl; a plural is an object of Intl.PluralRules categories
// (`other` always); `{name}` is filled in, numbers in the language's own way. A word missing
// from a catalog comes from `config.defaultLanguage`'s.

const config = globalThis.HELPIM_CONFIG;

let code = "";
let words = {};
let fallback = {};
let plurals = null;
let numbers = null;

/** The languages the page offers: `[{ code, name }]`. */
export function languages() {
  return config.languages || [{ code: "en", name: "English" }];
}

/** The language to use: `chosen` (the visitor's pick), else the browser's first we have, else the default. */
export function choose(chosen) {
  const codes = languages().map((l) => l.code);
  for (const want of [chosen, ...(navigator.languages || [navigator.language])]) {
    if (!want) continue;
    const lower = want.toLowerCase();
    const found = codes.find((c) => c.toLowerCase() === lower) || codes.find((c) => c.toLowerCase() === lower.split("-")[0]);
    if (found) return found;
  }
  return config.defaultLanguage || codes[0];
}

async function load(lang, folder) {
  const answer = await fetch(`${folder}/${encodeURIComponent(lang)}.json`);
  if (!answer.ok) throw new Error(`catalog ${lang}: ${answer.status}`);
  return answer.json();
}

/**
 * Loads language `lang` from `folder` (the visitor's catalogs; the console's are in i18n/staff)
 * and sets the document's `lang` and `dir`.
 */
export async function use(lang, folder = "i18n") {
  const fallbackCode = config.defaultLanguage || "en";
  const [mine, base] = await Promise.all([load(lang, folder), lang === fallbackCode ? null : load(fallbackCode, folder).catch(() => ({}))]);
  code = lang;
  words = mine;
  fallback = base || mine;
  plurals = new Intl.PluralRules(lang);
  numbers = new Intl.NumberFormat(lang);
  document.documentElement.lang = lang;
  document.documentElement.dir = words._dir === "rtl" ? "rtl" : "ltr";
}

/** The language in use. */
export function language() {
  return code;
}

/** The words of `key`, with `{name}`s filled from `vars` (`n` also picks the plural form). */
export function t(key, vars = {}) {
  let text = words[key] ?? fallback[key];
  if (text === undefined) return key;
  if (typeof text === "object") text = text[plurals.select(vars.n ?? 0)] ?? text.other;
  return text.replace(/\{(\w+)\}/g, (whole, name) => {
    const value = vars[name];
    if (value === undefined) return whole;
    return typeof value === "number" ? numbers.format(value) : String(value);
  });
}

/** A help line's own words from config.js: a string, or `{ en: …, nl: … }` by language. */
export function local(value) {
  if (value == null || typeof value === "string") return value || "";
  return value[code] ?? value[config.defaultLanguage || "en"] ?? Object.values(value)[0] ?? "";
}

/** Fills every `[data-i18n]` element under `root` with its key's words (`[data-i18n-label]`: its label). */
export function translate(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) {
    const text = t(el.dataset.i18n);
    if (el.textContent !== text) el.textContent = text;
  }
  for (const el of root.querySelectorAll("[data-i18n-label]")) el.setAttribute("aria-label", t(el.dataset.i18nLabel));
}
