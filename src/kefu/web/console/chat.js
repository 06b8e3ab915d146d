// The chat pane: history (latest page first, older ones on scroll), sending with an
// optimistic bubble replaced on ack, typing both ways, read receipts, canned replies on
// "/", attachments, take / transfer / close.

import { errorMessage, get, post, upload } from "./api.js";
import { attachmentView } from "./attachment_links.js";
import { t } from "./i18n.js";
import { composing } from "./ime.js";
import { initCanned, cannedKeydown, cannedInput } from "./canned.js";
import { $, clear, clock, el, hue, initials, linkify } from "./dom.js";
import { renderLabels } from "./labels.js";
import { initTransfer, renderTransfer } from "./transfer.js";
import { closeTicketForm, openTicketForm } from "./ticket_form.js";
import { agentName, atLeast, changed, state, touch, upsert, visitorName } from "./state.js";

const PAGE = 30;
const TYPING_EVERY_MS = 3000; // protocol.md: at most every few seconds
const TYPING_SHOWN_MS = 5000;

let socket = null;
let view = null; // {id, oldest, loadingOlder, done, byId: Map, pending: Map, lastReadSent}
let typingTimer = null;
let lastTypingSent = 0;
let files = []; // uploaded attachments waiting for the next send
let watching = null;

export function initChat(chatSocket) {
  socket = chatSocket;
  const input = $("#composer-input");
  $("#composer").addEventListener("submit", (event) => {
    event.preventDefault();
    send();
  });
  input.addEventListener("keydown", (event) => {
    // Enter that picks a Chinese IME candidate (pinyin) is the IME's, not a send.
    if (composing(event)) return;
    if (cannedKeydown(event)) return;
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      send();
    }
  });
  for (const radio of document.querySelectorAll('input[name="composer-mode"]')) radio.addEventListener("change", renderMode);
  input.addEventListener("input", () => {
    autosize(input);
    cannedInput(input);
    // A private note is not typing the visitor should see.
    if (view && !noteMode() && Date.now() - lastTypingSent > TYPING_EVERY_MS && input.value.trim()) {
      lastTypingSent = Date.now();
      socket.send({ type: "typing", conversation_id: view.id });
    }
  });
  initCanned(input);
  $("#messages").addEventListener("scroll", () => {
    if ($("#messages").scrollTop < 60) loadOlder();
  });
  $("#file-input").addEventListener("change", onFile);
  $("#close-btn").addEventListener("click", closeConversation);
  $("#claim-btn").addEventListener("click", claim);
  $("#reopen-btn").addEventListener("click", reopen);
  document.addEventListener("kefu:titles", () => view && renderHead()); // a 360 name arrived
  initTransfer({ current: () => (view ? state.conversations.get(view.id) : null), note, rendered: () => view && renderHead() });
  $("#ticket-btn").addEventListener("click", createTicket);
  $("#back-btn").addEventListener("click", () => document.body.classList.remove("show-chat"));
  document.addEventListener("visibilitychange", markRead);
  window.addEventListener("focus", markRead);
}

function autosize(input) {
  if (!input.value) {
    input.style.height = ""; // a long placeholder must not grow the box
    return;
  }
  input.style.height = "auto";
  input.style.height = `${Math.min(input.scrollHeight, 160)}px`;
}

export function currentId() {
  return view ? view.id : null;
}

/** `keepFocus`: the agent is moving through the list with the keyboard; stay there. */
export async function openConversation(id, { keepFocus = false } = {}) {
  if (watching && watching !== id) {
    socket.send({ type: "unwatch", conversation_id: watching });
    watching = null;
  }
  state.currentId = id;
  view = { id, oldest: null, loadingOlder: false, done: false, byId: new Map(), pending: new Map(), lastReadSent: "" };
  files = [];
  renderFiles();
  note(""); // a question about the last conversation is not about this one
  closeTicketForm();
  $("#chat-empty").hidden = true;
  $("#chat").hidden = false;
  document.body.classList.add("show-chat");
  const box = $("#messages");
  clear(box);
  box.append(el("div", { id: "history-top", class: "history-top" }));
  $("#typing").textContent = "";
  renderHead();
  changed();
  const focusAtOpen = document.activeElement;
  const item = state.conversations.get(id);
  if (item && item.assignee_id !== state.me.id && atLeast("supervisor")) {
    socket.send({ type: "watch", conversation_id: id });
    watching = id;
  }
  try {
    const page = await get(`/api/v1/conversations/${encodeURIComponent(id)}/messages?before=&limit=${PAGE}`);
    if (!view || view.id !== id) return;
    view.done = page.items.length < PAGE;
    for (const message of page.items) addMessage(message, { initial: true });
    markTop();
    box.scrollTop = box.scrollHeight;
    markRead();
  } catch (err) {
    note(t("chat.history_failed", { error: errorMessage(err) }));
  }
  // The history may land after the agent has moved on (typing a label, say): taking the
  // focus then would send their next Enter to the customer. Only take it if nobody has.
  const active = document.activeElement;
  if (!keepFocus && (active === focusAtOpen || active === document.body || active === null)) $("#composer-input").focus();
}

/** After a reconnect: fetch what was missed and follow again. */
export async function refresh() {
  if (!view) return;
  const id = view.id;
  if (watching === id) socket.send({ type: "watch", conversation_id: id });
  const ids = [...view.byId.keys()].sort();
  const after = ids.length ? ids[ids.length - 1] : "";
  try {
    const page = await get(`/api/v1/conversations/${encodeURIComponent(id)}/messages?after=${after}&limit=500`);
    if (view && view.id === id) for (const message of page.items) addMessage(message);
  } catch {
    /* the list refresh reports problems */
  }
}

async function loadOlder() {
  if (!view || view.loadingOlder || view.done || !view.oldest) return;
  view.loadingOlder = true;
  const id = view.id;
  const box = $("#messages");
  const before = box.scrollHeight;
  try {
    const page = await get(`/api/v1/conversations/${encodeURIComponent(id)}/messages?before=${view.oldest}&limit=${PAGE}`);
    if (!view || view.id !== id) return;
    view.done = page.items.length < PAGE;
    for (const message of [...page.items].reverse()) addMessage(message, { prepend: true });
    markTop();
    box.scrollTop = box.scrollHeight - before;
  } finally {
    if (view) view.loadingOlder = false;
  }
}

function markTop() {
  const top = $("#history-top");
  if (top) top.textContent = view.done ? t("chat.start") : "";
}

function renderHead() {
  const item = state.conversations.get(view.id) || { visitor_id: "", visitor: {}, status: "" };
  const name = visitorName(item);
  $("#chat-name").textContent = name;
  const avatar = $("#chat-avatar");
  avatar.textContent = initials(name);
  avatar.style.background = hue(item.visitor_id);
  const parts = [];
  if (item.visitor && item.visitor.email) parts.push(item.visitor.email);
  if (item.status === "waiting") parts.push(t("chat.sub_waiting"));
  else if (item.status === "assigned") parts.push(t("chat.sub_assigned", { name: agentName(item.assignee_id) }));
  else if (item.status === "closed") parts.push(t("common.status_closed"));
  $("#chat-sub").textContent = parts.join(" · ");
  const mine = item.assignee_id === state.me.id;
  const senior = atLeast("supervisor");
  const open = item.status !== "closed";
  $("#claim-btn").hidden = !(item.status === "waiting");
  // Closed: its agent (or a supervisor) may open it again; the server says no to others.
  $("#reopen-btn").hidden = !(item.status === "closed" && (mine || senior));
  $("#close-btn").hidden = !(open && (mine || senior));
  $("#ticket-btn").hidden = !(mine || senior); // the ticket carries the transcript: its readers only
  renderLabels(item, Boolean(item.id) && (mine || senior));
  renderTransfer(item, open && (mine || senior));
  const canWrite = open && (mine || senior);
  $("#composer-input").disabled = !canWrite;
  $("#send-btn").disabled = !canWrite;
  $("#composer-input").placeholder = !open
    ? t("chat.ph_closed")
    : canWrite
      ? t(noteMode() ? "chat.ph_note" : "chat.ph_reply")
      : item.status === "waiting"
        ? t("chat.ph_take")
        : t("chat.ph_other", { name: agentName(item.assignee_id) });
}

export function onConversationChanged(id) {
  if (view && view.id === id) renderHead();
}

function bubble(message, pending = false) {
  const kind = message.sender.kind;
  const own = kind === "agent";
  const row = el("div", {
    class: `msg ${kind}${own ? " out" : ""}${message.internal ? " note" : ""}${pending ? " pending" : ""}`,
    dataset: { id: message.id || "", client: message.client_msg_id || "" },
  });
  if (kind === "system" || kind === "bot") {
    row.append(el("div", { class: "msg-body", text: message.body }));
    row.append(el("div", { class: "msg-meta", text: t("common.meta", { who: t(kind === "bot" ? "common.bot" : "common.system"), when: clock(message.created_at) }) }));
    return row;
  }
  const body = el("div", { class: "msg-body" });
  if (message.body) body.append(el("p", { class: "msg-text" }, linkify(message.body)));
  for (const file of message.attachments || []) body.append(attachmentView(file));
  row.append(body);
  const who = own ? (message.sender.id === state.me.id ? t("chat.you") : message.sender.name || t("common.agent")) : message.sender.name || t("common.visitor");
  const meta = el("div", { class: "msg-meta" });
  if (message.internal) meta.append(el("span", { class: "note-tag", text: `${t("chat.mode_note")} · ` }));
  meta.append(el("span", { class: "when", text: t("common.meta", { who, when: pending ? t("chat.sending") : clock(message.created_at) }) }));
  if (!message.internal) meta.append(el("span", { class: "seen" })); // a visitor never reads a note
  row.append(meta);
  return row;
}

/** Insert a stored message in id order (dedupe by id). */
export function addMessage(message, { initial = false, prepend = false } = {}) {
  if (!view || message.conversation_id !== view.id || view.byId.has(message.id)) return;
  const box = $("#messages");
  const nearBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 120;
  const node = bubble(message);
  view.byId.set(message.id, node);
  if (!view.oldest || message.id < view.oldest) view.oldest = message.id;
  if (prepend) {
    $("#history-top").after(node);
  } else {
    // Keep id order even if a live frame overtakes a page.
    const later = [...box.querySelectorAll(".msg[data-id]")].find((n) => n.dataset.id && n.dataset.id > message.id);
    const firstPending = box.querySelector(".msg.pending");
    box.insertBefore(node, later || firstPending || null);
  }
  if (!initial && !prepend && nearBottom) box.scrollTop = box.scrollHeight;
  showSeen();
}

export function onMessage(message) {
  if (!view || message.conversation_id !== view.id) return false;
  if (message.sender.kind === "agent" && message.sender.id === state.me.id) {
    const pending = [...view.pending.entries()].find(([, p]) => p.id === message.id);
    if (pending) {
      view.pending.get(pending[0]).node.remove();
      view.pending.delete(pending[0]);
    }
  }
  addMessage(message);
  if (message.sender.kind === "visitor") $("#typing").textContent = "";
  markRead();
  return true;
}

export function onAck(frame) {
  if (!view) return;
  const pending = view.pending.get(frame.client_msg_id);
  if (!pending) return;
  pending.id = frame.message_id;
  if (view.byId.has(frame.message_id)) {
    pending.node.remove();
    view.pending.delete(frame.client_msg_id);
    return;
  }
  // Becomes the stored message: it keeps its place, gets its id and its time.
  pending.node.classList.remove("pending");
  pending.node.dataset.id = frame.message_id;
  view.byId.set(frame.message_id, pending.node);
  const meta = pending.node.querySelector(".msg-meta .when");
  if (meta) meta.textContent = t("common.meta", { who: t("chat.you"), when: clock(new Date().toISOString()) });
  view.pending.delete(frame.client_msg_id);
}

export function onSendError(frame) {
  if (!view || !frame.client_msg_id) return false;
  const pending = view.pending.get(frame.client_msg_id);
  if (!pending) return false;
  pending.node.classList.add("failed");
  const meta = pending.node.querySelector(".msg-meta .when");
  if (meta) meta.textContent = t("chat.not_sent", { error: errorMessage(frame) });
  return true;
}

export function onTyping(frame) {
  if (!view || frame.conversation_id !== view.id || frame.sender.kind !== "visitor") return;
  $("#typing").textContent = t("chat.typing", { name: frame.sender.name || t("chat.the_visitor") });
  clearTimeout(typingTimer);
  typingTimer = setTimeout(() => ($("#typing").textContent = ""), TYPING_SHOWN_MS);
}

export function onRead(frame) {
  if (frame.sender.kind !== "visitor") return;
  const item = state.conversations.get(frame.conversation_id);
  if (item && (!item.visitor_read_id || item.visitor_read_id < frame.message_id)) item.visitor_read_id = frame.message_id;
  if (view && frame.conversation_id === view.id) showSeen();
}

/** "Seen" under the last agent message the visitor has read. */
function showSeen() {
  if (!view) return;
  const item = state.conversations.get(view.id);
  const read = item && item.visitor_read_id;
  let last = null;
  for (const node of $("#messages").querySelectorAll(".msg.agent:not(.note)[data-id]")) {
    node.querySelector(".seen").textContent = "";
    if (read && node.dataset.id && node.dataset.id <= read) last = node;
  }
  if (last) last.querySelector(".seen").textContent = ` · ${t("chat.seen")}`;
}

/** Tell the server (and the visitor) we read up to the last message, when we can see it. */
export function markRead() {
  if (!view || document.hidden) return;
  const ids = [...view.byId.keys()].filter(Boolean).sort();
  const last = ids[ids.length - 1];
  const item = state.conversations.get(view.id);
  if (item && item.unread) {
    item.unread = 0;
    touch(item);
    changed();
  }
  if (!last || last <= view.lastReadSent || !item) return;
  const senior = atLeast("supervisor");
  if (item.assignee_id !== state.me.id && !senior) return;
  view.lastReadSent = last;
  socket.send({ type: "read", conversation_id: view.id, message_id: last });
}

function send() {
  const input = $("#composer-input");
  const body = input.value.trim();
  if (!view || (!body && !files.length) || input.disabled) return;
  const clientMsgId = crypto.randomUUID();
  const attachments = files;
  const internal = noteMode();
  if (internal && (!body || attachments.length)) {
    note(attachments.length ? t("chat.note_text_only") : "");
    return;
  }
  const frame = { type: "message.send", client_msg_id: clientMsgId, body, conversation_id: view.id };
  if (attachments.length) frame.attachment_ids = attachments.map((f) => f.id);
  if (internal) frame.internal = true;
  const node = bubble(
    { id: "", client_msg_id: clientMsgId, body, attachments, internal, created_at: new Date().toISOString(), sender: { kind: "agent", id: state.me.id, name: state.me.name } },
    true,
  );
  $("#messages").append(node);
  $("#messages").scrollTop = $("#messages").scrollHeight;
  view.pending.set(clientMsgId, { node, id: null });
  socket.send(frame);
  input.value = "";
  autosize(input);
  files = [];
  renderFiles();
  lastTypingSent = 0;
}

async function onFile(event) {
  const file = event.target.files[0];
  event.target.value = "";
  if (!file) return;
  note(t("chat.uploading", { name: file.name }));
  try {
    files.push(await upload(file));
    note("");
    renderFiles();
  } catch (err) {
    note(t("chat.upload_failed", { error: errorMessage(err) }));
  }
}

function renderFiles() {
  const box = $("#pending-files");
  clear(box);
  files.forEach((file, index) => {
    box.append(
      el("span", { class: "chip" }, el("span", { text: file.name }), el("button", {
        type: "button",
        class: "chip-x",
        "aria-label": t("chat.remove_file", { name: file.name }),
        text: "×",
        onclick: () => {
          files.splice(index, 1);
          renderFiles();
        },
      })),
    );
  });
}

/** The line under the composer: a sentence, or a node (the transfer's question). */
function note(text) {
  const line = $("#composer-note");
  clear(line);
  line.append(text);
}

function noteMode() {
  const checked = document.querySelector('input[name="composer-mode"]:checked');
  return Boolean(checked && checked.value === "note");
}

function renderMode() {
  const on = noteMode();
  $("#composer").classList.toggle("note-mode", on);
  const input = $("#composer-input");
  if (!input.disabled) input.placeholder = t(on ? "chat.ph_note" : "chat.ph_reply");
  input.focus();
}

async function closeConversation() {
  if (!view) return;
  try {
    const item = await post(`/api/v1/conversations/${encodeURIComponent(view.id)}/close`);
    upsert(item);
    changed();
    renderHead();
  } catch (err) {
    note(t("chat.close_failed", { error: errorMessage(err) }));
  }
}

async function reopen() {
  if (!view) return;
  const button = $("#reopen-btn");
  button.disabled = true;
  try {
    upsert(await post(`/api/v1/conversations/${encodeURIComponent(view.id)}/reopen`));
    note("");
    changed();
    renderHead();
    await refresh(); // "Conversation reopened." may have been sent before it was ours
  } catch (err) {
    note(t("chat.reopen_failed", { error: errorMessage(err) }));
  } finally {
    button.disabled = false;
  }
}

async function claim() {
  if (!view) return;
  try {
    upsert(await post(`/api/v1/conversations/${encodeURIComponent(view.id)}/claim`));
    changed();
    renderHead();
    if (watching === view.id) {
      socket.send({ type: "unwatch", conversation_id: view.id });
      watching = null;
    }
  } catch (err) {
    note(t("chat.take_failed", { error: errorMessage(err) }));
  }
}

/** "Create ticket": a side form beside the chat (ticket_form.js). */
function createTicket() {
  if (view) openTicketForm(view.id);
}
