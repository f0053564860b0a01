// Where the visitor page and the staff console find the XMPP server and the bot. A help line
// edits this file (or serves its own under the same name); nothing else needs changing.
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
  // The bot's `muc.clean_exit_status`: the presence status of a deliberate "End chat".
  cleanExit: "Clean Exit",
};
