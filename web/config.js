// Where the visitor page and the staff console find the XMPP server and the bot, and the help
// line's own words for visitors. A help line edits this file (or serves its own under the same
// name); nothing else needs changing. Words for visitors are a string, or one per language:
// { en: "…", nl: "…", ar: "…" } (a language missing falls back to `defaultLanguage`).
window.HELPIM_CONFIG = {
  // Prosody's mod_websocket. By default the pages are served by the same server (or the same
  // reverse proxy), so the WebSocket is on the page's own host: no cross-origin request.
  websocket: (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/xmpp-websocket",
  // The bot's full JID: `xmpp.jid` + "/" + `xmpp.resource` of its bot.toml.
  bot: "bot@localhost/helpim-bot",
  // The anonymous VirtualHost visitors log in on (listed in the bot's `visitors.domains`).
  visitorDomain: "anon.localhost",
  // The domain a staff member's account is on, when they type only their user name.
  staffDomain: "localhost",
  // The bot's `staff.room`: the staff console joins it and shows it as "Team" ("": none). The
  // console joins only a room the server has (the bot creates it at start), never creates one.
  staffRoom: "team@conference.localhost",
  // The bot's `muc.clean_exit_status`: the presence status of a deliberate "End chat".
  cleanExit: "Clean Exit",

  // The visitor page's languages: a catalog web/i18n/<code>.json each. The browser's language
  // is used when listed here, else `defaultLanguage`; the visitor may pick another.
  languages: [
    { code: "en", name: "English" },
    { code: "nl", name: "Nederlands" },
    { code: "ar", name: "العربية" },
  ],
  defaultLanguage: "en",
  // Where "Exit this page" (or Shift pressed 3 times) goes: a neutral page, replacing this one
  // in the tab's history. The default ships with the pages (same origin: no request elsewhere).
  quickExitUrl: "away.html",
  // The bot's `transcripts.keep_days`, told in the privacy words.
  transcriptDays: 90,
  // The privacy words of the start page, if the help line's differ from the catalogs' (which
  // say what this software keeps and for how long). null: the catalogs' words.
  privacy: null,
  // Opening hours, shown when the help line is closed, busy or refuses a chat.
  hours: {
    en: "Every evening from 18:00 to 02:00.",
    nl: "Elke avond van 18:00 tot 02:00.",
    ar: "كل مساء من الساعة 18:00 حتى الساعة 02:00.",
  },
  // The emergency number, and other ways to get help (shown with closed, busy and blocked).
  // These are examples: put the help line's own here.
  emergency: "112",
  alternatives: [
    { label: { en: "Call us for free: 0800 0000", nl: "Bel ons gratis: 0800 0000", ar: "اتصل بنا مجانًا: 0800 0000" }, href: "tel:08000000" },
    { label: { en: "Send us a text: 06 0000 0000", nl: "Stuur ons een sms: 06 0000 0000", ar: "أرسل لنا رسالة نصية: 06 0000 0000" }, href: "sms:+31600000000" },
  ],
  // What a visitor can do after a chat: links to the help line's own pages.
  resources: [
    { label: { en: "Tips for difficult moments", nl: "Tips voor moeilijke momenten", ar: "نصائح للّحظات الصعبة" }, href: "https://www.example.org/tips" },
  ],
};
