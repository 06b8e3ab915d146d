// The console's entry point: sign-in, the socket, and the wiring between frames, state and
// views. Plain ES modules, no build step; no inline script anywhere (strict CSP).

import { loadCannedList, initAdmin, loadPage } from "./admin.js";
import { initEmoji } from "./emoji.js";
import { errorMessage, get, login, patch, post, session, whenUnauthorized } from "./api.js";
import { lang, langFromUrl, setLanguage, t, translatePage } from "./i18n.js";
import { initIme } from "./ime.js";
import {
  currentId, initChat, onAck, onConversationChanged, onMessage, onRead, onSendError, onTyping, openConversation, refresh,
} from "./chat.js";
import { showCustomer } from "./customer360.js";
import { showVisitor } from "./details.js";
import { initDrawer } from "./drawer.js";
import { $, $$ } from "./dom.js";
import { initList, renderList, selectTab } from "./list.js";
import { initRail } from "./rail.js";
import { initSearch } from "./search.js";
import { initKeys } from "./keys.js";
import { initTicketForm } from "./ticket_form.js";
import { initPrevious } from "./previous.js";
import { clearNotifications, initNotifications, onNotification } from "./notifications.js";
import { announce } from "./notify.js";
import { reloadPanelSagas } from "./c360_sagas.js";
import { onSagaFrame, resetSagas } from "./saga_state.js";
import { initSagasPage, sagasPageMayHaveChanged, showSagas } from "./sagas_page.js";
import { ChatSocket } from "./socket.js";
import {
  initTickets, onTicketFrame, openTicket, showCustomerTickets, showTickets, ticketsMayHaveChanged,
} from "./tickets.js";
import { atLeast, changed, currentStamp, state, subscribe, touch, upsert, visitorName } from "./state.js";

let socket = null;

const ENDED_KEY = "kefu.console.session_ended";

function showLogin(message = "") {
  if (socket) socket.stop();
  socket = null;
  session.clear();
  clearNotifications();
  resetSagas();
  $("#app-view").hidden = true;
  everOnline = false;
  $("#offline-banner").hidden = true;
  $("#login-view").hidden = false;
  $("#login-error").textContent = message;
  $("#login-email").focus();
  // The next person's login page follows ?lang= or the browser, not this agent's language
  // (issue 16): the cached language goes, and a page shown in it reloads, notice kept.
  if (setLanguage(null)) {
    if (message) sessionStorage.setItem(ENDED_KEY, "1");
    location.reload();
  }
}

/** Whether the session ended just before a reload to the login page's language. */
function endedBeforeReload() {
  const ended = sessionStorage.getItem(ENDED_KEY) !== null;
  sessionStorage.removeItem(ENDED_KEY);
  return ended;
}

async function onLogin(event) {
  event.preventDefault();
  const button = event.target.querySelector("button");
  button.disabled = true;
  $("#login-error").textContent = "";
  try {
    await login($("#login-email").value.trim(), $("#login-password").value);
    $("#login-password").value = "";
    await start();
  } catch (err) {
    $("#login-error").textContent = err.code === "invalid_credentials" ? t("common.login_wrong") : errorMessage(err);
  } finally {
    button.disabled = false;
  }
}

async function start() {
  state.me = session.agent;
  if (followLanguage(state.me.language)) return; // reloading in the agent's language
  $("#login-view").hidden = true;
  $("#app-view").hidden = false;
  $("#me-name").textContent = state.me.name;
  for (const node of $$("[data-role]")) node.hidden = !atLeast(node.dataset.role);
  socket = new ChatSocket(session.token, {
    onFrame,
    onState: (s) => {
      connection = s;
      renderPresence();
      if (s === "online") {
        loadConversations();
        refresh();
        reloadPanelSagas(); // saga frames missed while offline
        sagasPageMayHaveChanged();
      }
    },
    onRevoked: () => showLogin(t("common.session_ended")),
  });
  $("#away-btn").onclick = toggleAway;
  renderPresence();
  renderLanguage();
  // Away and the language may have been set from another device since this sign-in.
  get("/api/v1/auth/me")
    .then((me) => {
      state.me = { ...state.me, away: me.away, language: me.language ?? null };
      session.save(session.token, state.me);
      if (followLanguage(state.me.language)) return;
      renderPresence();
      renderLanguage();
    })
    .catch(() => {});
  initChat(socket);
  // The inbox shows before anything loads: an agent may pick another page while the
  // shared lists are on their way, and their arrival must not take the agent back.
  showPage("inbox"); // also loads the canned replies
  socket.connect();
  await loadShared();
}

let connection = "connecting";
let everOnline = false;

/** The badge says how this console is connected and whether its agent is away. */
function renderPresence() {
  const badge = $("#conn-state");
  const away = Boolean(state.me && state.me.away);
  // Lost after being connected: say so plainly until it is back.
  if (connection === "online") everOnline = true;
  $("#offline-banner").hidden = !everOnline || connection === "online";
  badge.textContent = t(connection === "online" ? (away ? "inbox.conn_away" : "inbox.conn_online") : connection === "connecting" ? "inbox.conn_connecting" : "inbox.conn_reconnecting");
  badge.className = `conn ${connection}${away ? " away" : ""}`;
  const button = $("#away-btn");
  button.textContent = t(away ? "inbox.away_back" : "inbox.away_set");
  button.setAttribute("aria-pressed", String(away));
}

async function toggleAway() {
  const button = $("#away-btn");
  button.disabled = true;
  try {
    const me = await patch("/api/v1/auth/me", { away: !state.me.away });
    state.me = { ...state.me, away: me.away };
    session.save(session.token, state.me);
    renderPresence();
    button.title = t("inbox.away_hint");
  } catch (err) {
    button.title = t("inbox.away_failed", { error: errorMessage(err) });
  } finally {
    button.disabled = false;
  }
}

// ---- the console's language: ?lang=, else the agent's saved choice, else the browser's ----

/** Follow the agent's saved language; true when the page reloads to show it. */
function followLanguage(saved) {
  if (!setLanguage(saved)) return false;
  location.reload();
  return true;
}

function renderLanguage() {
  const select = $("#lang-select");
  // ?lang= shows that language for this page; the select still says what is saved.
  select.value = state.me.language || "";
  select.dataset.saved = state.me.language || ""; // what the server has
  select.dataset.shown = lang();
  select.dataset.fromUrl = String(langFromUrl());
}

/** The agent picked a language: saved on their account (it follows them to any device). */
async function chooseLanguage() {
  const select = $("#lang-select");
  const language = select.value || null;
  select.disabled = true;
  try {
    const me = await patch("/api/v1/auth/me", { language });
    state.me = { ...state.me, language: me.language ?? null };
    session.save(session.token, state.me);
    select.title = t("common.language");
    select.dataset.saved = state.me.language || "";
    if (langFromUrl()) {
      // ?lang= chose this page's language: drop it so the saved choice shows.
      const url = new URL(location.href);
      url.searchParams.delete("lang");
      setLanguage(state.me.language);
      location.replace(url.href);
      return;
    }
    if (followLanguage(state.me.language)) return;
  } catch (err) {
    select.value = state.me.language || "";
    select.title = t("common.language_failed", { error: errorMessage(err) });
  } finally {
    select.disabled = false;
  }
}

async function loadShared() {
  // Every agent may see the team (for transfer); the full records are for supervisors.
  const team = await get("/api/v1/team");
  for (const member of team) state.agents.set(member.id, { ...(state.agents.get(member.id) || {}), ...member });
  changed();
}

async function loadConversations() {
  const queries = ["/api/v1/conversations?status=open&assignee=me&limit=200", "/api/v1/conversations?status=waiting&limit=200"];
  if (atLeast("supervisor")) queries.push("/api/v1/conversations?status=open&limit=200");
  const started = currentStamp();
  try {
    const pages = await Promise.all(queries.map((q) => get(q)));
    const fresh = new Map();
    for (const page of pages) for (const item of page.items) fresh.set(item.id, item);
    const kept = new Map();
    for (const [id, known] of state.conversations) {
      // Frames that arrived during the fetch are newer than its snapshot.
      if (known._stamp > started || (id === state.currentId && !fresh.has(id))) kept.set(id, known);
    }
    state.conversations = new Map();
    for (const item of fresh.values()) if (!kept.has(item.id)) upsert(item);
    for (const item of kept.values()) state.conversations.set(item.id, item);
    changed();
  } catch {
    /* shown as offline by the socket state */
  }
}

function isNewForMe(item) {
  return item.status === "waiting" || item.assignee_id === state.me.id;
}

async function onFrame(frame) {
  switch (frame.type) {
    case "conversation.opened": {
      const item = touch(upsert(frame.conversation)); // heard live: newer than any answer in flight
      if (isNewForMe(item)) announce(t("inbox.new_conversation", { name: visitorName(item) }), item.last_message ? item.last_message.body : "", () => open(item.id));
      changed();
      break;
    }
    case "conversation.updated": {
      const item = state.conversations.get(frame.conversation_id);
      if (!item) {
        if (frame.status !== "closed" && (frame.assignee_id === state.me.id || frame.status === "waiting" || atLeast("supervisor"))) fetchOne(frame.conversation_id);
        break;
      }
      item.status = frame.status;
      item.assignee_id = frame.assignee_id;
      touch(item);
      if (frame.last_message) noteLast(item, frame.last_message);
      if ("labels" in frame) item.labels = frame.labels;
      if ("customer_key" in frame) {
        // Linked or unlinked by an agent: the 360 panel follows, here as on their screen.
        item.customer_key = frame.customer_key;
        item.customer_linked = !!frame.customer_linked;
        if (state.currentId === item.id) showCustomer(item);
      }
      onConversationChanged(item.id);
      changed();
      break;
    }
    case "conversation.assigned": {
      const item = state.conversations.get(frame.conversation_id);
      if (item) {
        item.assignee_id = frame.agent_id;
        item.status = "assigned";
        touch(item);
        onConversationChanged(item.id);
        changed();
      }
      if (frame.agent_id === state.me.id) {
        const fetched = await fetchOne(frame.conversation_id);
        if (fetched && !item) announce(t("inbox.assigned_to_you", { name: visitorName(fetched) }), "", () => open(fetched.id));
      }
      break;
    }
    case "conversation.closed": {
      const item = state.conversations.get(frame.conversation_id);
      if (item) {
        item.status = "closed";
        touch(item);
        onConversationChanged(item.id);
        changed();
      }
      break;
    }
    case "message.new": {
      const message = frame.message;
      const shown = onMessage(message);
      const item = state.conversations.get(message.conversation_id);
      if (item) {
        noteLast(item, message, shown);
        changed();
      } else {
        fetchOne(message.conversation_id);
      }
      break;
    }
    case "message.ack":
      onAck(frame);
      break;
    case "typing":
      onTyping(frame);
      break;
    case "read":
      onRead(frame);
      break;
    case "error":
      onSendError(frame);
      break;
    case "ticket.created":
    case "ticket.updated": // made or changed by anyone, anywhere: the Tickets pages follow
      onTicketFrame(frame);
      break;
    case "saga.updated": // a saga's step moved: the 360 timeline and the Sagas page follow
      onSagaFrame(frame);
      break;
    case "notification": // a rule's `notify` action; its rule may have made a ticket too
      onNotification(frame);
      ticketsMayHaveChanged();
      break;
    default:
      break;
  }
}

function noteLast(item, message, shown = currentId() === item.id && !document.hidden) {
  // A private note is not the conversation's last message, and the preview is what a
  // person said, not the bot's welcome or offline notice (the server's list agrees).
  if (message.internal || ["bot", "system"].includes(message.sender.kind)) return;
  if (item.last_message && item.last_message.id >= message.id) return;
  touch(item);
  item.last_message = message;
  item.last_message_id = message.id;
  item.updated_at = message.created_at;
  if (message.sender.kind === "visitor" && !shown) item.unread = (item.unread || 0) + 1;
}

async function fetchOne(id) {
  const since = currentStamp(); // frames heard while it is on its way are newer than its answer
  try {
    const item = upsert(await get(`/api/v1/conversations/${encodeURIComponent(id)}`), since);
    changed();
    return item;
  } catch {
    return null;
  }
}

function open(id, options = {}) {
  showPage("inbox");
  const item = state.conversations.get(id);
  openConversation(id, options);
  if (item) showVisitor(item);
}

function showPage(page) {
  for (const button of $$(".rail-btn[data-page]")) {
    const active = button.dataset.page === page;
    button.classList.toggle("active", active);
    if (active) button.setAttribute("aria-current", "page");
    else button.removeAttribute("aria-current");
  }
  for (const section of $$(".page")) section.hidden = section.id !== `page-${page}`;
  if (page === "tickets") showTickets();
  else if (page === "sagas") showSagas();
  else if (page !== "inbox") loadPage(page);
  else loadCannedList().catch(() => {});
}

function boot() {
  translatePage(); // index.html's words in the chosen language (i18n.js)
  initIme(); // Enter that picks an IME candidate never sends or submits
  whenUnauthorized(() => showLogin(t("common.session_ended")));
  $("#lang-select").addEventListener("change", chooseLanguage);
  $("#login-form").addEventListener("submit", onLogin);
  $("#logout-btn").addEventListener("click", async () => {
    // Stopped first: the server closes it (4401) on logout, which is no "session ended".
    if (socket) socket.stop();
    socket = null;
    try {
      await post("/api/v1/auth/logout");
    } catch {
      /* signing out locally is what matters */
    }
    showLogin();
  });
  initNotifications({ showCustomerTickets, openTicket }); // the bell: recent notifications, desktop alerts
  initTickets({ showPage, openConversation: open });
  initSagasPage({ showPage });
  for (const button of $$(".rail-btn[data-page]")) button.addEventListener("click", () => showPage(button.dataset.page));
  initList(open);
  initSearch(); // the Closed tab, search and filters
  initPrevious(); // the visitor's or customer's other conversations, read-only
  initDrawer(); // the visitor details: a column, or a drawer on narrow screens
  initRail(); // a phone's bottom bar and its More menu
  initAdmin(loadShared);
  subscribe(renderList);
  initKeys({ open, selectTab }); // "?" help, Alt+1…4, arrows in the list
  initTicketForm(); // "Create ticket" beside the chat
  initEmoji(); // the composer's emoji grid
  if (session.token && session.agent) start();
  else showLogin(endedBeforeReload() ? t("common.session_ended") : "");
}

boot();
