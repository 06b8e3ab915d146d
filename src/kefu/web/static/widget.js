/*
 * kefu chat widget: one <script> tag on any page, no build step.
 *
 *   <script src="https://KEFU/widget.js" data-kefu-site="shop" async></script>
 *
 * Optional attributes: data-kefu-external-id + data-kefu-signature (the host site's
 * backend signs the customer id, hex HMAC-SHA256), data-kefu-title, data-kefu-welcome,
 * data-kefu-lang ("zh-CN" or "en"; else the visitor's browser, else the site's locale).
 *
 * Why it is built this way:
 * - Everything lives in a shadow root: the page's CSS cannot reach in, ours cannot leak
 *   out. It is an open root: a closed one would not stop the page's scripts (they run
 *   first and can wrap attachShadow), but it would stop browser automation and
 *   accessibility tooling from reaching the widget.
 * - Styles go through a constructed stylesheet, which a strict page CSP still allows.
 * - Every piece of message data is written with textContent / attributes, never as
 *   markup: a message "<img src=x onerror=...>" is shown as those characters.
 * - Tokens stay in localStorage per kefu origin + site, and travel in a header (REST)
 *   or the socket URL; never in a cookie, so other sites cannot ride on them.
 * - The socket reconnects with exponential backoff and jitter (no thundering herd after
 *   a deploy), then sends `resume` with the last message id shown: nothing is lost.
 *   Unacknowledged messages are resent with the same client_msg_id (stored once).
 * - Words come from two small catalogs (en, zh-CN) that the server splices into this
 *   script where it says kefu:texts (src/kefu/web/static/widget_texts.json): still one
 *   script tag, and a translation is edited in one file with a key-parity test.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || !script.src || window.__kefuWidgetLoaded) return;
  window.__kefuWidgetLoaded = true;

  var BASE = new URL(script.src, location.href).origin;
  var SITE = script.getAttribute("data-kefu-site") || null;
  var EXTERNAL_ID = script.getAttribute("data-kefu-external-id") || null;
  var SIGNATURE = script.getAttribute("data-kefu-signature") || null;
  var TITLE = script.getAttribute("data-kefu-title");
  var WELCOME = script.getAttribute("data-kefu-welcome");
  // One session per identity: a customer signing in (or another signing in on a shared
  // computer) never continues the chat of the anonymous visitor or of someone else.
  var STORE_KEY =
    "kefu:" + BASE + ":" + (SITE || "default") + (EXTERNAL_ID ? ":id:" + EXTERNAL_ID : "");

  // Backoff: 0.5 s doubling to 30 s, each delay scaled by a random 50-100 %.
  var BACKOFF_FIRST_MS = 500;
  var BACKOFF_MAX_MS = 30000;
  // Below the server's heartbeat and typical 60 s proxy idle timeouts.
  var PING_MS = 25000;
  // One typing frame per this interval while the visitor types; the agent's indicator
  // hides after TYPING_SHOW_MS without news.
  var TYPING_SEND_MS = 2000;
  var TYPING_SHOW_MS = 4000;

  // ---- language -------------------------------------------------------------------
  var TEXTS = /* kefu:texts */ { en: {} };
  // A language the catalogs have for a BCP 47 tag: any Chinese is zh-CN, any English en.
  function supported(tag) {
    tag = String(tag || "").toLowerCase();
    if (tag.indexOf("zh") === 0) return "zh-CN";
    if (tag.indexOf("en") === 0) return "en";
    return null;
  }
  function browserLang() {
    var tags = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language];
    for (var i = 0; i < tags.length; i++) if (supported(tags[i])) return supported(tags[i]);
    return null;
  }
  // null until known: then the site's locale decides (asked from the server), en meanwhile.
  var chosenLang = supported(script.getAttribute("data-kefu-lang")) || browserLang();
  var LANG = chosenLang || "en";
  var plurals = {};

  // The string for key in LANG ({name} filled from params), else English, else the key;
  // a {one, other} entry is picked with Intl.PluralRules by params.count.
  function t(key, params) {
    var value = (TEXTS[LANG] || {})[key];
    if (value === undefined) value = (TEXTS.en || {})[key];
    if (value === undefined) return key;
    params = params || {};
    if (typeof value === "object") {
      if (!plurals[LANG]) plurals[LANG] = new Intl.PluralRules(LANG);
      value = value[plurals[LANG].select(params.count)] || value.other;
    }
    return value.replace(/\{(\w+)\}/g, function (all, name) {
      return params[name] !== undefined ? String(params[name]) : all;
    });
  }

  // A server error as a sentence in LANG: its code's, else a generic one (the server's own
  // message is English, for developers).
  function errorText(err) {
    var key = "errors." + ((err && err.code) || (err && err.status ? "generic" : "network"));
    return t(key) === key ? t("errors.generic") : t(key);
  }

  // Texts set when the UI is built, set again if the language changes afterwards (the
  // site's locale arriving for a browser in neither language).
  var labelled = [];
  function label(node, attr, key, params) {
    labelled.push([node, attr, key, params]);
    setLabel(node, attr, key, params);
    return node;
  }
  function setLabel(node, attr, key, params) {
    if (attr === "text") node.textContent = t(key, params);
    else node.setAttribute(attr, t(key, params));
  }
  function useLang(lang) {
    if (!supported(lang) || supported(lang) === LANG) return;
    LANG = supported(lang);
    host.setAttribute("lang", LANG);
    labelled.forEach(function (item) {
      setLabel(item[0], item[1], item[2], item[3]);
    });
    updateBadge();
  }

  // ---- state ----------------------------------------------------------------------
  var saved = load();
  var state = {
    token: saved.token || null,
    conversationId: saved.conversationId || null,
    closed: !!saved.closed,
    rated: !!saved.rated,
    readUpTo: saved.readUpTo || "", // last message id the visitor saw with the panel open
    lastId: "", // last message id shown on this page
    open: false,
    unread: 0,
    ws: null,
    attempts: 0,
    stopped: false,
    pending: {}, // client_msg_id -> {frame, el}
    seen: {}, // message id -> element
    lastReadByAgent: "",
    lastTypingSent: 0,
  };

  function load() {
    try {
      return JSON.parse(localStorage.getItem(STORE_KEY) || "{}") || {};
    } catch (e) {
      return {};
    }
  }

  function persist() {
    try {
      localStorage.setItem(
        STORE_KEY,
        JSON.stringify({
          token: state.token,
          conversationId: state.conversationId,
          closed: state.closed,
          rated: state.rated,
          readUpTo: state.readUpTo,
        })
      );
    } catch (e) {
      /* storage full or disabled: the session lasts as long as the page */
    }
  }

  // ---- DOM helpers ----------------------------------------------------------------
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (key) {
        if (key === "text") node.textContent = attrs[key];
        else if (key === "class") node.className = attrs[key];
        else node.setAttribute(key, attrs[key]);
      });
    }
    (children || []).forEach(function (child) {
      node.appendChild(child);
    });
    return node;
  }

  // Icons as SVG paths, built with createElementNS: no markup strings, and no reliance on
  // an emoji font being installed.
  var ICON_CHAT =
    "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z";
  var ICON_CLIP =
    "M16.5 6.5l-7.8 7.8a2 2 0 0 0 2.8 2.8l7.8-7.8a4 4 0 0 0-5.7-5.7L5.8 11.4a6 6 0 0 0 8.5 8.5l6.2-6.2";
  var ICON_FILE = "M6 2h8l6 6v14H6zM14 2v6h6";
  var ICON_SMILE = "M12 2a10 10 0 1 0 0 20a10 10 0 1 0 0-20zM8 14s1.5 2 4 2 4-2 4-2M9 9h.01M15 9h.01";

  function icon(path, filled) {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "24");
    svg.setAttribute("height", "24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var shape = document.createElementNS(ns, "path");
    shape.setAttribute("d", path);
    shape.setAttribute("fill", filled ? "currentColor" : "none");
    shape.setAttribute("stroke", "currentColor");
    shape.setAttribute("stroke-width", filled ? "0" : "2");
    shape.setAttribute("stroke-linecap", "round");
    shape.setAttribute("stroke-linejoin", "round");
    svg.appendChild(shape);
    return svg;
  }

  var CSS = [
    ":host{all:initial}",
    // Chinese faces before the generic one: Simplified glyphs on every system (with lang).
    "*{box-sizing:border-box;font-family:system-ui,-apple-system,'Segoe UI',Roboto,'PingFang SC','Microsoft YaHei','Noto Sans CJK SC',sans-serif}",
    ".launcher{position:fixed;right:20px;bottom:20px;width:60px;height:60px;border-radius:50%;border:0;display:flex;align-items:center;justify-content:center;",
    "background:#2563eb;color:#fff;font-size:26px;cursor:pointer;box-shadow:0 6px 20px rgba(0,0,0,.25);z-index:2147483646}",
    ".launcher:focus-visible,button:focus-visible,textarea:focus-visible,input:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}",
    ".badge{position:absolute;top:-4px;right:-4px;min-width:22px;height:22px;padding:0 6px;border-radius:11px;",
    "background:#dc2626;color:#fff;font-size:12px;line-height:22px;font-weight:700}",
    ".badge[hidden]{display:none}",
    ".panel{position:fixed;right:20px;bottom:92px;width:370px;height:560px;max-height:calc(100vh - 112px);",
    "display:flex;flex-direction:column;background:#fff;color:#111827;border-radius:14px;overflow:hidden;",
    "box-shadow:0 12px 40px rgba(0,0,0,.3);z-index:2147483647;font-size:14px}",
    ".panel[hidden]{display:none}",
    "header{background:#2563eb;color:#fff;padding:14px 16px;display:flex;align-items:center;gap:10px}",
    "header h2{margin:0;font-size:16px;font-weight:600;flex:1}",
    ".status{font-size:12px;opacity:.9;display:block;font-weight:400}",
    ".close{background:transparent;border:0;color:#fff;font-size:22px;cursor:pointer;padding:4px 8px;border-radius:6px}",
    ".log{flex:1;overflow-y:auto;padding:14px;background:#f3f4f6;display:flex;flex-direction:column;gap:8px}",
    ".msg{max-width:80%;padding:8px 12px;border-radius:12px;white-space:pre-wrap;word-wrap:break-word;overflow-wrap:anywhere}",
    ".msg a{color:inherit;text-decoration:underline;overflow-wrap:anywhere}",
    ".msg .who{display:block;font-size:11px;color:#6b7280;margin-bottom:2px}",
    ".msg.visitor{align-self:flex-end;background:#2563eb;color:#fff;border-bottom-right-radius:4px}",
    ".msg.visitor .who{display:none}",
    ".msg.agent{align-self:flex-start;background:#fff;border:1px solid #e5e7eb;border-bottom-left-radius:4px}",
    ".msg.bot,.msg.system,.welcome{align-self:center;background:#e0e7ff;color:#1e3a8a;font-size:13px;text-align:center}",
    ".msg.system{background:transparent;color:#6b7280;font-size:12px}",
    ".msg.pending{opacity:.6}",
    ".msg img{display:block;max-width:100%;max-height:220px;border-radius:8px;margin-top:6px}",
    ".file{display:inline-block;margin-top:6px;padding:6px 10px;border-radius:8px;background:rgba(0,0,0,.08);",
    "color:inherit;border:0;cursor:pointer;font-size:13px;text-decoration:underline}",
    ".receipt{align-self:flex-end;font-size:11px;color:#6b7280;margin-top:-4px}",
    ".typing{padding:4px 16px;font-size:12px;color:#6b7280;min-height:20px;background:#f3f4f6}",
    "form.composer{position:relative;display:flex;gap:6px;padding:10px;border-top:1px solid #e5e7eb;align-items:flex-end}",
    "textarea{flex:1;resize:none;border:1px solid #d1d5db;border-radius:10px;padding:8px 10px;font-size:14px;min-height:40px;max-height:120px}",
    ".icon{border:0;background:#e5e7eb;color:#374151;border-radius:10px;width:40px;height:40px;cursor:pointer;display:flex;align-items:center;justify-content:center}",
    ".launcher svg{width:28px;height:28px}",
    ".file svg{vertical-align:-3px}",
    ".send{border:0;background:#2563eb;color:#fff;border-radius:10px;height:40px;padding:0 14px;cursor:pointer;font-weight:600}",
    ".card{background:#fff;border:1px solid #e5e7eb;border-radius:12px;padding:12px;display:flex;flex-direction:column;gap:8px}",
    ".card h3{margin:0;font-size:14px}",
    ".card input,.card textarea{border:1px solid #d1d5db;border-radius:8px;padding:8px;font-size:14px;width:100%}",
    ".stars{display:flex;gap:4px}",
    ".star{border:0;background:transparent;font-size:26px;cursor:pointer;color:#d1d5db;padding:0 2px}",
    ".star[aria-checked=true]{color:#f59e0b}",
    ".lost{font-size:13px;color:#fff;background:#b42318;padding:8px 14px}",
    ".lost[hidden]{display:none}",
    ".notice{font-size:13px;color:#92400e;background:#fef3c7;padding:8px 12px;border-radius:8px}",
    ".link{background:none;border:0;color:#2563eb;text-decoration:underline;cursor:pointer;padding:0;font-size:13px}",
    ".emoji{position:absolute;bottom:100%;left:10px;background:#fff;border:1px solid #e5e7eb;border-radius:10px;padding:6px;box-shadow:0 6px 20px rgba(0,0,0,.18)}",
    ".emoji[hidden]{display:none}",
    ".emoji div{display:flex}",
    ".emoji button{width:40px;height:40px;border:0;background:transparent;border-radius:8px;font-size:22px;cursor:pointer;padding:0;font-family:'Noto Color Emoji','Apple Color Emoji','Segoe UI Emoji',sans-serif}",
    ".emoji button:hover,.emoji button:focus{background:#e5e7eb}",
    ".sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}",
    "@media (max-width:480px){.panel{right:0;bottom:0;width:100vw;height:100vh;max-height:100vh;border-radius:0}}",
  ].join("\n");

  // ---- build the UI ---------------------------------------------------------------
  var host = el("div", { "data-kefu-widget": "" });
  var root = host.attachShadow({ mode: "open" });
  if (root.adoptedStyleSheets !== undefined && typeof CSSStyleSheet === "function") {
    var sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    root.adoptedStyleSheets = [sheet];
  } else {
    root.appendChild(el("style", { text: CSS }));
  }

  var badge = el("span", { class: "badge", hidden: "", "aria-hidden": "true" });
  var launcher = el("button", { class: "launcher", type: "button", "aria-expanded": "false" });
  launcher.appendChild(icon(ICON_CHAT, true));
  launcher.appendChild(badge);

  var statusText = el("span", { class: "status", text: "" });
  var titleText = document.createTextNode(TITLE || "");
  if (!TITLE) label(titleText, "text", "title");
  var heading = el("h2", { id: "kefu-title" }, [titleText, statusText]);
  var closeButton = label(el("button", { class: "close", type: "button", text: "×" }), "aria-label", "close_chat");
  var log = label(el("div", { class: "log", role: "log", "aria-live": "polite" }), "aria-label", "conversation");
  var typing = el("div", { class: "typing", "aria-live": "polite" });
  // Shown while the connection is down after having been up: what is sent waits for it.
  var lost = label(el("div", { class: "lost", role: "alert", hidden: "" }), "text", "lost");
  var input = el("textarea", { rows: "1", maxlength: "10000" });
  label(input, "placeholder", "placeholder");
  label(input, "aria-label", "message");
  var fileInput = el("input", {
    type: "file",
    class: "sr",
    tabindex: "-1",
    "aria-hidden": "true",
    accept: "image/png,image/jpeg,image/gif,image/webp,application/pdf,text/plain",
  });
  var attach = label(el("button", { class: "icon", type: "button" }), "aria-label", "attach");
  attach.appendChild(icon(ICON_CLIP, false));
  var smile = label(el("button", { class: "icon", type: "button", "aria-expanded": "false" }), "aria-label", "emoji");
  smile.appendChild(icon(ICON_SMILE, false));
  var emojiGrid = label(el("div", { class: "emoji", role: "grid", hidden: "" }), "aria-label", "emoji_grid");
  var send = label(el("button", { class: "send", type: "submit" }), "text", "send");
  var composer = el("form", { class: "composer" }, [emojiGrid, attach, smile, fileInput, input, send]);
  label(composer, "aria-label", "send_a_message");
  var panel = el(
    "section",
    { class: "panel", hidden: "", role: "dialog", "aria-labelledby": "kefu-title" },
    [el("header", null, [heading, closeButton]), lost, log, typing, composer]
  );
  var welcome = el("div", { class: "msg welcome", text: WELCOME || "" });
  log.appendChild(WELCOME ? welcome : label(welcome, "text", "welcome"));
  host.setAttribute("lang", LANG);
  updateBadge();
  root.appendChild(launcher);
  root.appendChild(panel);

  function mount() {
    document.body.appendChild(host);
  }
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);

  // ---- REST -----------------------------------------------------------------------
  function api(method, path, body, extraHeaders) {
    var headers = extraHeaders || {};
    if (state.token) headers["Authorization"] = "Bearer " + state.token;
    var init = { method: method, headers: headers, mode: "cors", credentials: "omit" };
    if (body !== undefined) {
      if (body instanceof Blob) {
        init.body = body;
      } else {
        headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(body);
      }
    }
    return fetch(BASE + path, init).then(function (resp) {
      if (resp.status === 401 && path !== "/api/v1/visitors") {
        forgetSession();
      }
      if (!resp.ok) {
        return resp
          .json()
          .catch(function () {
            return {};
          })
          .then(function (err) {
            var e = new Error((err.error && err.error.message) || "HTTP " + resp.status); // i18n-ok: for developers
            e.status = resp.status;
            e.code = err.error && err.error.code;
            throw e;
          });
      }
      return resp.status === 204 ? null : resp.json();
    });
  }

  function forgetSession() {
    state.token = null;
    state.conversationId = null;
    state.closed = false;
    persist();
  }

  var starting = null;
  function ensureSession() {
    if (state.token) return Promise.resolve(state.token);
    if (starting) return starting;
    var body = {
      page_url: location.href.slice(0, 2000),
      referrer: document.referrer ? document.referrer.slice(0, 2000) : null,
    };
    if (SITE) body.site = SITE;
    try {
      body.timezone = Intl.DateTimeFormat().resolvedOptions().timeZone || null;
    } catch (e) {
      /* old browser */
    }
    if (navigator.language) body.locale = navigator.language.slice(0, 35);
    if (prechatValues && prechatValues.name) body.name = prechatValues.name;
    if (prechatValues && prechatValues.email) body.email = prechatValues.email;
    if (EXTERNAL_ID) {
      body.external_id = EXTERNAL_ID;
      if (SIGNATURE) body.signature = SIGNATURE;
    }
    starting = api("POST", "/api/v1/visitors", body)
      .then(function (session) {
        state.token = session.token;
        state.conversationId = null;
        state.closed = false;
        state.rated = false;
        persist();
        connect();
        return state.token;
      })
      .finally(function () {
        starting = null;
      });
    return starting;
  }

  // ---- socket ---------------------------------------------------------------------
  var pingTimer = null;
  var reconnectTimer = null;

  function connect() {
    if (!state.token || state.stopped || state.ws) return;
    var url = BASE.replace(/^http/, "ws") + "/ws?token=" + encodeURIComponent(state.token);
    var ws = new WebSocket(url);
    state.ws = ws;
    setStatus(t("status_connecting"));
    ws.onopen = function () {
      state.attempts = 0;
      lost.setAttribute("hidden", "");
      setStatus(idleStatus());
      if (state.conversationId) {
        ws.send(
          JSON.stringify({
            type: "resume",
            conversation_id: state.conversationId,
            after_message_id: state.lastId,
          })
        );
      }
      Object.keys(state.pending).forEach(function (id) {
        ws.send(JSON.stringify(state.pending[id].frame));
      });
      clearInterval(pingTimer);
      pingTimer = setInterval(function () {
        if (ws.readyState === 1) ws.send('{"type":"ping"}');
      }, PING_MS);
    };
    ws.onmessage = function (event) {
      var frame;
      try {
        frame = JSON.parse(event.data);
      } catch (e) {
        return;
      }
      handle(frame);
    };
    ws.onclose = function (event) {
      clearInterval(pingTimer);
      state.ws = null;
      if (event.code === 4401) {
        // The token is gone (expired, or the server's secret changed): start afresh.
        forgetSession();
        setStatus(t("status_expired"));
        return;
      }
      if (event.code === 4403) {
        state.stopped = true;
        setStatus(t("status_refused"));
        return;
      }
      scheduleReconnect();
    };
  }

  function scheduleReconnect() {
    if (state.stopped || reconnectTimer) return;
    var delay = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * Math.pow(2, state.attempts));
    delay = delay * (0.5 + Math.random() / 2);
    state.attempts += 1;
    setStatus(t("status_reconnecting"));
    lost.removeAttribute("hidden");
    reconnectTimer = setTimeout(function () {
      reconnectTimer = null;
      connect();
    }, delay);
  }

  function sendFrame(frame) {
    if (state.ws && state.ws.readyState === 1) {
      state.ws.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }

  function handle(frame) {
    switch (frame.type) {
      case "message.new":
        onMessage(frame.message);
        break;
      case "message.ack":
        onAck(frame);
        break;
      case "typing":
        if (frame.sender && frame.sender.kind === "agent") showTyping(frame.sender.name);
        break;
      case "read":
        if (frame.sender && frame.sender.kind === "agent") markRead(frame.message_id);
        break;
      case "conversation.closed":
        if (frame.conversation_id === state.conversationId) {
          state.closed = true;
          persist();
          setStatus(t("status_ended"));
          showRating();
        }
        break;
      case "conversation.assigned":
        if (!state.closed) agentJoined();
        break;
      case "resume.done":
        if (state.closed) setStatus(t("status_ended"));
        if (state.closed && !state.rated) showRating();
        break;
      case "error":
        if (frame.client_msg_id) notSent(frame.client_msg_id, frame);
        if (frame.code === "conversation_closed") {
          state.closed = true;
          persist();
          showRating();
        }
        break;
    }
  }

  // A message the server refused (err: an error frame or a failed request's error).
  function notSent(clientMsgId, err) {
    var p = state.pending[clientMsgId];
    if (!p) return;
    delete state.pending[clientMsgId];
    if (err.code === "prechat_required") {
      p.el.remove();
      prechatRefused(p.frame.body, err);
      return;
    }
    p.el.classList.remove("pending");
    p.el.appendChild(el("span", { class: "who", text: t("not_sent", { reason: errorText(err) }) }));
  }

  // The server starts no chat without what the site's pre-chat form requires (an admin
  // asked for it after this page loaded or after this visitor's session began): a new
  // session starts from the form, and the refused words wait in the composer.
  function prechatRefused(body, err) {
    if (body && !input.value) input.value = body;
    if (state.ws) {
      state.ws.onclose = null; // not a lost connection: nothing to reconnect
      state.ws.close();
      state.ws = null;
      clearInterval(pingTimer);
    }
    forgetSession();
    prechatValues = null;
    if (!prechatNotice) {
      prechatNotice = el("div", { class: "notice", role: "alert", text: errorText(err) });
      appendToLog(prechatNotice);
    }
    loadSettings(); // the form as the admin set it now; shown once it is known
  }

  // ---- messages -------------------------------------------------------------------
  function idGreater(a, b) {
    // Message ids are strings that sort in storage order (fixed-width).
    if (a.length !== b.length) return a.length > b.length;
    return a > b;
  }

  function onMessage(message) {
    if (message.conversation_id !== state.conversationId) {
      if (state.conversationId && !state.closed) return; // not ours to show
      state.conversationId = message.conversation_id;
      state.closed = false;
      state.rated = false;
      state.readUpTo = "";
      persist();
    }
    if (!state.lastId || idGreater(message.id, state.lastId)) state.lastId = message.id;
    if (state.seen[message.id]) return;
    state.seen[message.id] = render(message);
    var kind = message.sender && message.sender.kind;
    if (kind === "agent") {
      hideTyping();
      if (!state.closed) agentJoined();
    }
    if (kind !== "visitor") {
      if (state.open && document.visibilityState !== "hidden") {
        sendRead(message.id);
      } else if (countsAsUnread(message)) {
        state.unread += 1;
        updateBadge();
      }
    }
  }

  // The badge counts what a person wrote to the visitor that the visitor has not seen: an
  // agent's message, newer than the last one seen with the panel open (so a replay after
  // a reconnect or a reload counts nothing twice). kefu's bot (welcome, offline notice,
  // auto-replies) and system lines never count: the bot only ever answers, at once, a
  // message the visitor just sent from the open panel, so whether its answer counted
  // would depend on whether it arrived before or after the visitor closed the panel.
  // (Chatwoot's widget likewise counts replies, not its greeting templates.)
  function countsAsUnread(message) {
    if (!message.sender || message.sender.kind !== "agent") return false;
    return !state.readUpTo || idGreater(message.id, state.readUpTo);
  }

  function render(message) {
    var kind = (message.sender && message.sender.kind) || "system";
    var bubble = el("div", { class: "msg " + kind, "data-id": message.id });
    if (kind === "agent" || kind === "bot") {
      bubble.appendChild(el("span", { class: "who", text: message.sender.name || t("support") }));
    }
    if (message.body) {
      linkify(message.body).forEach(function (node) {
        bubble.appendChild(node);
      });
    }
    (message.attachments || []).forEach(function (att) {
      bubble.appendChild(renderAttachment(att));
    });
    var later = message.id ? laterThan(message.id) : null;
    if (later) log.insertBefore(bubble, later);
    else appendToLog(bubble);
    return bubble;
  }

  // The log keeps the server's order (message ids), not the frames' arrival order: the
  // welcome stored right behind the first message can arrive after an agent's quick reply
  // (issue 15). Returns the first shown message stored after `id`, walking back from the end.
  function laterThan(id) {
    var shown = log.querySelectorAll(".msg[data-id]");
    var later = null;
    for (var i = shown.length - 1; i >= 0; i--) {
      var other = shown[i].getAttribute("data-id");
      if (!other) continue; // still pending: not stored yet
      if (!idGreater(other, id)) break;
      later = shown[i];
    }
    return later;
  }

  // A message's text as text nodes, with http(s) URLs as links (new tab, no opener, no
  // referrer); nothing in a message is ever parsed as HTML.
  function linkify(text) {
    var nodes = [];
    var at = 0;
    var pattern = /\bhttps?:\/\/[^\s<>"'`]+/gi;
    var match;
    while ((match = pattern.exec(text)) !== null) {
      var url = match[0].replace(/[.,;:!?)\]}'"»。，！？）]+$/, "");
      var parsed = null;
      try {
        parsed = new URL(url);
      } catch (e) {
        parsed = null;
      }
      if (!url || !parsed || (parsed.protocol !== "http:" && parsed.protocol !== "https:")) continue;
      if (match.index > at) nodes.push(document.createTextNode(text.slice(at, match.index)));
      nodes.push(el("a", { href: parsed.href, target: "_blank", rel: "noopener noreferrer", text: url }));
      at = match.index + url.length;
      pattern.lastIndex = at;
    }
    if (at < text.length) nodes.push(document.createTextNode(text.slice(at)));
    return nodes;
  }

  function renderAttachment(att) {
    var isImage = /^image\/(png|jpeg|gif|webp)$/.test(att.content_type);
    if (isImage) {
      var img = el("img", { alt: att.name });
      fetchBlob(att.url).then(function (blob) {
        img.src = URL.createObjectURL(blob);
        img.onload = scrollDown;
      });
      return img;
    }
    var link = el("button", { class: "file", type: "button", "aria-label": t("download", { name: att.name }) });
    var glyph = icon(ICON_FILE, false);
    glyph.setAttribute("width", "16");
    glyph.setAttribute("height", "16");
    link.appendChild(glyph);
    link.appendChild(document.createTextNode(" " + att.name + " (" + formatSize(att.size) + ")"));
    link.addEventListener("click", function () {
      fetchBlob(att.url).then(function (blob) {
        var a = el("a", { href: URL.createObjectURL(blob), download: att.name });
        root.appendChild(a);
        a.click();
        a.remove();
      });
    });
    return link;
  }

  function fetchBlob(path) {
    return fetch(BASE + path, {
      headers: { Authorization: "Bearer " + state.token },
      mode: "cors",
      credentials: "omit",
    }).then(function (resp) {
      if (!resp.ok) throw new Error("HTTP " + resp.status); // i18n-ok: for developers
      return resp.blob();
    });
  }

  function formatSize(bytes) {
    var number = function (n, digits) {
      return new Intl.NumberFormat(LANG, { maximumFractionDigits: digits }).format(n);
    };
    if (bytes < 1024) return number(bytes, 0) + " B";
    if (bytes < 1024 * 1024) return number(Math.round(bytes / 1024), 0) + " KB";
    return number(bytes / 1024 / 1024, 1) + " MB";
  }

  function appendToLog(node) {
    var atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    log.appendChild(node);
    if (atBottom || node.classList.contains("visitor")) scrollDown();
  }

  function scrollDown() {
    log.scrollTop = log.scrollHeight;
  }

  function onAck(frame) {
    var p = state.pending[frame.client_msg_id];
    if (!p) return;
    delete state.pending[frame.client_msg_id];
    if (frame.conversation_id && frame.conversation_id !== state.conversationId) {
      state.conversationId = frame.conversation_id;
      state.closed = false;
      persist();
    }
    if (state.seen[frame.message_id]) {
      p.el.remove(); // a replay already showed it
    } else {
      p.el.classList.remove("pending");
      p.el.setAttribute("data-id", frame.message_id);
      state.seen[frame.message_id] = p.el;
    }
  }

  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  function sendMessage(body, attachments) {
    var frame = { type: "message.send", client_msg_id: newId(), body: body };
    if (state.conversationId && !state.closed) frame.conversation_id = state.conversationId;
    if (attachments && attachments.length) {
      frame.attachment_ids = attachments.map(function (a) {
        return a.id;
      });
    }
    var bubble = render({
      id: "",
      sender: { kind: "visitor" },
      body: body,
      attachments: attachments || [],
    });
    bubble.classList.add("pending");
    state.pending[frame.client_msg_id] = { frame: frame, el: bubble };
    if (state.closed) {
      // A new conversation starts with this message.
      state.closed = false;
      state.conversationId = null;
      state.lastId = "";
      hideRating();
      setStatus(idleStatus());
    }
    ensureSession()
      .then(function () {
        if (!sendFrame(frame)) connect(); // sent from onopen with every pending frame
      })
      .catch(function (err) {
        notSent(frame.client_msg_id, err);
      });
  }

  function sendRead(messageId) {
    if (!state.conversationId) return;
    if (!state.readUpTo || idGreater(messageId, state.readUpTo)) {
      state.readUpTo = messageId;
      persist();
    }
    sendFrame({ type: "read", conversation_id: state.conversationId, message_id: messageId });
  }

  var receipt = label(el("div", { class: "receipt" }), "text", "read");
  function markRead(messageId) {
    if (state.lastReadByAgent && !idGreater(messageId, state.lastReadByAgent)) return;
    state.lastReadByAgent = messageId;
    var target = null;
    Array.prototype.forEach.call(log.querySelectorAll(".msg.visitor[data-id]"), function (node) {
      var id = node.getAttribute("data-id");
      if (id && !idGreater(id, messageId)) target = node;
    });
    if (target) target.after(receipt);
  }

  var typingTimer = null;
  function showTyping(name) {
    typing.textContent = t("typing", { name: name || t("agent") });
    clearTimeout(typingTimer);
    typingTimer = setTimeout(hideTyping, TYPING_SHOW_MS);
  }
  function hideTyping() {
    typing.textContent = "";
  }

  // The header's line when nothing is happening: the conversation ended, or who is there.
  function idleStatus() {
    if (state.closed) return t("status_ended");
    return t(agentsOnline === false ? "status_offline" : "status_online");
  }

  function setStatus(text) {
    statusText.textContent = text;
  }

  function updateBadge() {
    if (state.unread > 0) {
      badge.textContent = state.unread > 99 ? "99+" : String(state.unread);
      badge.removeAttribute("hidden");
      launcher.setAttribute("aria-label", t("open_chat_unread", { count: state.unread }));
    } else {
      badge.setAttribute("hidden", "");
      launcher.setAttribute("aria-label", t("open_chat"));
    }
  }

  // ---- offline and rating cards ---------------------------------------------------
  var agentsOnline = null;
  var opensAt = null; // outside the office hours: when chat opens next (ISO, UTC)
  var offlineCard = null;

  function checkAvailability() {
    var query = SITE ? "?site=" + encodeURIComponent(SITE) : "";
    return fetch(BASE + "/api/v1/availability" + query, { mode: "cors", credentials: "omit" })
      .then(function (r) {
        return r.ok ? r.json() : Promise.reject(r.status);
      })
      .then(function (body) {
        if (!chosenLang && body.locale) useLang(body.locale);
        agentsOnline = !!body.agents_online;
        opensAt = body.open === false && body.opens_at ? body.opens_at : null;
        if (!agentsOnline) showOfflineNotice();
        else if (state.ws) setStatus(idleStatus());
      })
      .catch(function () {});
  }

  // Someone answers after all: "Nobody is online" is no longer true, so it goes (a form the
  // visitor already opened stays theirs to send or ignore).
  function agentJoined() {
    agentsOnline = true;
    setStatus(t("status_joined"));
    if (offlineCard && offlineCard.classList.contains("notice")) offlineCard.remove();
    offlineCard = null;
  }

  function showOfflineNotice() {
    setStatus(t("status_offline"));
    if (offlineCard) return;
    var open = el("button", { class: "link", type: "button", text: t("leave_message") });
    var notice = el("div", { class: "notice" }, [
      document.createTextNode(opensAt ? closedText(opensAt) : t("nobody_online")),
      open,
    ]);
    offlineCard = notice;
    appendToLog(notice);
    open.addEventListener("click", function () {
      notice.replaceWith(offlineForm());
    });
  }

  // "We're closed. We open Mon, Dec 7 09:00." in the visitor's own time zone and LANG.
  function closedText(iso) {
    var when = new Date(iso);
    var time = when.toLocaleTimeString(LANG, { hour: "2-digit", minute: "2-digit" });
    if (when.toDateString() === new Date().toDateString()) return t("closed_today", { time: time });
    var day = when.toLocaleDateString(LANG, { weekday: "short", month: "short", day: "numeric" });
    return t("closed_later", { day: day, time: time });
  }

  function offlineForm() {
    // A site that asks for a name before chatting asks it here too: the message's session
    // is refused without it (prechat_required), and whoever answers by email can use it.
    var name = null;
    if (prechat.name === "optional" || prechat.name === "required") {
      var nameLabel = prechat.name === "required" ? t("your_name") : t("optional_field", { label: t("your_name") });
      name = el("input", { type: "text", autocomplete: "name", maxlength: "200", "aria-label": nameLabel, placeholder: nameLabel });
      if (prechat.name === "required") name.setAttribute("required", "");
      if (prechatValues && prechatValues.name) name.value = prechatValues.name;
    }
    var email = el("input", {
      type: "email",
      required: "",
      autocomplete: "email",
      "aria-label": t("your_email"),
      placeholder: t("email_placeholder"),
    });
    var body = el("textarea", {
      required: "",
      rows: "3",
      "aria-label": t("your_message"),
      placeholder: t("how_can_we_help"),
    });
    var submit = el("button", { class: "send", type: "submit", text: t("send_message") });
    var form = el("form", { class: "card", "aria-label": t("leave_message") }, [
      el("h3", { text: t("leave_us_message") }),
    ].concat(name ? [name] : [], [email, body, submit]));
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      submit.disabled = true;
      var given = { name: name ? name.value.trim() : "", email: email.value.trim() };
      // No session yet: it starts with what this form gives (the pre-chat form's fields).
      if (!state.token) prechatValues = { name: given.name || (prechatValues || {}).name || "", email: given.email };
      ensureSession()
        .then(function () {
          var message = { email: given.email, body: body.value.trim() };
          if (given.name) message.name = given.name;
          return api("POST", "/api/v1/offline-messages", message);
        })
        .then(function () {
          form.replaceWith(
            el("div", { class: "notice", text: t("offline_thanks") })
          );
          if (prechatCard) {
            // Who is writing is known now: the pre-chat form has nothing left to ask.
            prechatCard.remove();
            prechatCard = null;
            composer.style.display = "";
          }
        })
        .catch(function (err) {
          submit.disabled = false;
          submit.textContent = t("retry");
          form.appendChild(el("div", { class: "notice", role: "alert", text: errorText(err) }));
        });
    });
    return form;
  }

  var ratingCard = null;
  function showRating() {
    if (ratingCard || state.rated || !state.conversationId) return;
    var conversationId = state.conversationId;
    var score = 0;
    var stars = [];
    var group = el("div", { class: "stars", role: "radiogroup", "aria-label": t("your_rating") });
    for (var i = 1; i <= 5; i++) {
      (function (value) {
        var star = el("button", {
          class: "star",
          type: "button",
          role: "radio",
          "aria-checked": "false",
          "aria-label": t("stars", { count: value }),
          text: "★",
        });
        star.addEventListener("click", function () {
          score = value;
          error.textContent = ""; // "pick 1 to 5 stars" no longer applies
          stars.forEach(function (s, index) {
            s.setAttribute("aria-checked", index < value ? "true" : "false");
          });
        });
        stars.push(star);
        group.appendChild(star);
      })(i);
    }
    var comment = el("textarea", {
      rows: "2",
      "aria-label": t("comment"),
      placeholder: t("comment_placeholder"),
      maxlength: "2000",
    });
    var submit = el("button", { class: "send", type: "submit", text: t("send_rating") });
    var error = el("div", { role: "alert" });
    ratingCard = el("form", { class: "card rating", "aria-label": t("rate_conversation") }, [
      el("h3", { text: t("how_did_we_do") }),
      group,
      comment,
      submit,
      error,
    ]);
    ratingCard.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!score) {
        error.textContent = t("pick_stars");
        return;
      }
      submit.disabled = true;
      var body = { score: score };
      if (comment.value.trim()) body.comment = comment.value.trim();
      api("POST", "/api/v1/conversations/" + encodeURIComponent(conversationId) + "/rating", body)
        .then(function () {
          state.rated = true;
          persist();
          ratingCard.replaceWith(el("div", { class: "notice", text: t("rating_thanks") }));
          ratingCard = null;
        })
        .catch(function (err) {
          if (err.code === "already_rated") {
            state.rated = true;
            persist();
          }
          submit.disabled = false;
          error.textContent = errorText(err);
        });
    });
    appendToLog(ratingCard);
    scrollDown();
  }

  function hideRating() {
    if (ratingCard) ratingCard.remove();
    ratingCard = null;
  }

  // ---- user actions ---------------------------------------------------------------
  function openPanel() {
    state.open = true;
    panel.removeAttribute("hidden");
    launcher.setAttribute("aria-expanded", "true");
    state.unread = 0;
    updateBadge();
    if (state.lastId) sendRead(state.lastId);
    if (agentsOnline === null) checkAvailability();
    input.focus();
    scrollDown();
    showPrechat();
  }

  function closePanel() {
    closeEmoji(false);
    state.open = false;
    panel.setAttribute("hidden", "");
    launcher.setAttribute("aria-expanded", "false");
    launcher.focus();
  }

  launcher.addEventListener("click", function () {
    if (state.open) closePanel();
    else openPanel();
  });
  closeButton.addEventListener("click", closePanel);
  panel.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    if (!emojiGrid.hidden) closeEmoji(true); // one layer at a time: the grid, then the chat
    else closePanel();
  });

  composer.addEventListener("submit", function (event) {
    event.preventDefault();
    var body = input.value;
    if (!body.trim()) return;
    input.value = "";
    sendMessage(body);
  });
  // Enter picks a candidate while an input method (pinyin...) composes, it does not send:
  // isComposing, keyCode 229 (Safari sends the committing keydown after compositionend)
  // and our own flag for browsers that report neither.
  var composing = false;
  input.addEventListener("compositionstart", function () {
    composing = true;
  });
  input.addEventListener("compositionend", function () {
    composing = false;
  });
  input.addEventListener("blur", function () {
    composing = false;
  });
  input.addEventListener("keydown", function (event) {
    if (event.isComposing || event.keyCode === 229 || composing) return;
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      composer.requestSubmit();
    }
  });
  input.addEventListener("input", function () {
    var now = Date.now();
    if (state.conversationId && !state.closed && now - state.lastTypingSent > TYPING_SEND_MS) {
      state.lastTypingSent = now;
      sendFrame({ type: "typing", conversation_id: state.conversationId });
    }
  });

  attach.addEventListener("click", function () {
    fileInput.click();
  });

  // ---- emoji picker (the console composer's set and keys: console/emoji.js) ---------
  // Arrow keys, Home and End move (one cell in the tab order), Enter or a click inserts at
  // the caret, Esc or a click elsewhere closes. An emoji is text: messages stay text-only.
  var EMOJI = [
    ["😀", "emoji_grin"], ["🙂", "emoji_smile"], ["😊", "emoji_blush"], ["😉", "emoji_wink"],
    ["😂", "emoji_joy"], ["😅", "emoji_sweat_smile"], ["🤔", "emoji_thinking"], ["😢", "emoji_cry"],
    ["😮", "emoji_wow"], ["🙏", "emoji_thanks"], ["👍", "emoji_thumbs_up"], ["👎", "emoji_thumbs_down"],
    ["👌", "emoji_ok"], ["👏", "emoji_clap"], ["👋", "emoji_wave"], ["🤝", "emoji_handshake"],
    ["💪", "emoji_strong"], ["❤️", "emoji_heart"], ["🎉", "emoji_party"], ["✅", "emoji_done"],
    ["❌", "emoji_no"], ["⚠️", "emoji_warning"], ["⏰", "emoji_clock"], ["📦", "emoji_parcel"],
    ["🚚", "emoji_delivery"], ["💳", "emoji_card"], ["🎁", "emoji_gift"], ["📞", "emoji_phone"],
    ["📧", "emoji_email"], ["💡", "emoji_idea"],
  ];
  var EMOJI_COLUMNS = 6;
  var emojiCells = [];
  var emojiRow = null;
  EMOJI.forEach(function (item, index) {
    if (index % EMOJI_COLUMNS === 0) emojiRow = emojiGrid.appendChild(el("div", { role: "row" }));
    var cell = el("button", { type: "button", role: "gridcell", tabindex: index ? "-1" : "0", text: item[0] });
    label(cell, "aria-label", item[1]);
    label(cell, "title", item[1]);
    cell.addEventListener("click", function () {
      insertEmoji(item[0]);
    });
    emojiCells.push(emojiRow.appendChild(cell));
  });

  function openEmoji() {
    emojiGrid.removeAttribute("hidden");
    smile.setAttribute("aria-expanded", "true");
    (emojiGrid.querySelector('[tabindex="0"]') || emojiCells[0]).focus();
  }
  function closeEmoji(refocus) {
    emojiGrid.setAttribute("hidden", "");
    smile.setAttribute("aria-expanded", "false");
    if (refocus) input.focus();
  }
  function insertEmoji(emoji) {
    var start = typeof input.selectionStart === "number" ? input.selectionStart : input.value.length;
    var end = typeof input.selectionEnd === "number" ? input.selectionEnd : start;
    input.setRangeText(emoji, start, end, "end");
    input.dispatchEvent(new Event("input", { bubbles: true })); // typing is sent as for keys
    closeEmoji(true);
  }
  function moveEmoji(to) {
    var index = Math.max(0, Math.min(emojiCells.length - 1, to));
    emojiCells.forEach(function (cell) {
      cell.tabIndex = -1;
    });
    emojiCells[index].tabIndex = 0;
    emojiCells[index].focus();
  }
  smile.addEventListener("click", function () {
    if (emojiGrid.hidden) openEmoji();
    else closeEmoji(true);
  });
  emojiGrid.addEventListener("keydown", function (event) {
    var at = emojiCells.indexOf(root.activeElement);
    var steps = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: EMOJI_COLUMNS, ArrowUp: -EMOJI_COLUMNS };
    if (steps[event.key]) moveEmoji(at + steps[event.key]);
    else if (event.key === "Home") moveEmoji(0); // i18n-ok: a key's name
    else if (event.key === "End") moveEmoji(emojiCells.length - 1); // i18n-ok: a key's name
    else if (event.key === "Escape") closeEmoji(true);
    else return;
    event.preventDefault();
    event.stopPropagation(); // Esc here closes the grid, not the chat
  });
  // A click anywhere else, in the widget or on the page, closes it (the path crosses the
  // shadow root; a target alone would be the host for every click inside it).
  document.addEventListener("click", function (event) {
    if (emojiGrid.hidden) return;
    var path = event.composedPath ? event.composedPath() : [];
    if (path.indexOf(emojiGrid) < 0 && path.indexOf(smile) < 0) closeEmoji(false);
  });
  fileInput.addEventListener("change", function () {
    var file = fileInput.files && fileInput.files[0];
    fileInput.value = "";
    if (!file) return;
    attach.disabled = true;
    ensureSession()
      .then(function () {
        return api(
          "POST",
          "/api/v1/attachments?name=" + encodeURIComponent(file.name.slice(0, 255)),
          file
        );
      })
      .then(function (attachment) {
        var text = input.value;
        input.value = "";
        sendMessage(text, [attachment]);
      })
      .catch(function (err) {
        appendToLog(el("div", { class: "notice", text: t("upload_failed", { reason: errorText(err) }) }));
      })
      .finally(function () {
        attach.disabled = false;
      });
  });

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && state.open) {
      // What arrived while the page was hidden is on screen now: read, and no longer counted.
      state.unread = 0;
      updateBadge();
      if (state.lastId) sendRead(state.lastId);
    }
  });

  // ---- the site's settings (set by an admin in the console) ------------------------
  // Colour, side, greeting and pre-chat form: one public read per page load.
  var prechat = { name: "off", email: "off" };
  var prechatValues = null; // what the visitor gave in the pre-chat form
  var prechatCard = null;
  var prechatNotice = null; // why the form is back (prechatRefused), until it is sent
  function loadSettings() {
    // No language of its own (a browser in neither): the site's, which the answer names.
    var query = "?lang=" + (chosenLang ? encodeURIComponent(chosenLang) : "") + (SITE ? "&site=" + encodeURIComponent(SITE) : "");
    return fetch(BASE + "/api/v1/widget-settings" + query, { mode: "cors", credentials: "omit" })
      .then(function (r) {
        return r.ok ? r.json() : Promise.reject(r.status);
      })
      .then(function (settings) {
        if (!chosenLang && settings.locale) useLang(settings.locale);
        applyLook(settings.color, settings.position);
        if (settings.greeting) {
          labelled = labelled.filter(function (item) {
            return item[0] !== welcome;
          });
          welcome.textContent = settings.greeting;
        }
        if (settings.prechat) prechat = settings.prechat;
        if (state.open) showPrechat();
      })
      .catch(function () {});
  }

  // The colour is #rrggbb (the server checks, so does this); left moves launcher and panel
  // (a phone's panel stays full-screen).
  function applyLook(color, position) {
    var css = "";
    if (/^#[0-9a-fA-F]{6}$/.test(color || "") && color.toLowerCase() !== "#2563eb") {
      css += ".launcher,header,.msg.visitor,.send{background:" + color + "}.link{color:" + color + "}";
    }
    if (position === "left") {
      css += ".launcher{left:20px;right:auto}@media (min-width:481px){.panel{left:20px;right:auto}}";
    }
    if (!css) return;
    if (root.adoptedStyleSheets !== undefined && typeof CSSStyleSheet === "function") {
      var extra = new CSSStyleSheet();
      extra.replaceSync(css);
      root.adoptedStyleSheets = root.adoptedStyleSheets.concat([extra]);
    } else {
      root.appendChild(el("style", { text: css }));
    }
  }

  // Before the first message of a new visitor, when the site asks for a name or email.
  function showPrechat() {
    var asks = prechat.name !== "off" || prechat.email !== "off";
    if (!asks || state.token || prechatValues || prechatCard) return;
    var inputs = {};
    var fields = [];
    ["name", "email"].forEach(function (field) {
      if (prechat[field] !== "optional" && prechat[field] !== "required") return;
      var key = field === "name" ? "your_name" : "your_email";
      var text = prechat[field] === "required" ? t(key) : t("optional_field", { label: t(key) });
      var attrs = {
        type: field === "email" ? "email" : "text",
        name: field,
        autocomplete: field,
        "aria-label": text,
        placeholder: text,
        maxlength: field === "email" ? "320" : "200",
      };
      if (prechat[field] === "required") attrs.required = "";
      inputs[field] = el("input", attrs);
      fields.push(inputs[field]);
    });
    var submit = el("button", { class: "send", type: "submit", text: t("start_chat") });
    prechatCard = el(
      "form",
      { class: "card prechat", "aria-label": t("prechat_title") },
      [el("h3", { text: t("prechat_title") })].concat(fields, [submit])
    );
    composer.style.display = "none";
    appendToLog(prechatCard);
    prechatCard.addEventListener("submit", function (event) {
      event.preventDefault();
      prechatValues = {
        name: inputs.name ? inputs.name.value.trim() : "",
        email: inputs.email ? inputs.email.value.trim() : "",
      };
      prechatCard.remove();
      prechatCard = null;
      if (prechatNotice) prechatNotice.remove();
      prechatNotice = null;
      composer.style.display = "";
      input.focus();
    });
    (fields[0] || submit).focus();
  }

  loadSettings(); // also tells a browser in neither language the site's locale
  // A returning visitor: reconnect at once, so replies while away show as unread.
  if (state.token) connect();
})();
