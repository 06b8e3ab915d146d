// The Tickets pages: a filtered list (newest first, "load more") with a live SLA countdown
// per ticket, the ticket view (fields, customer, description, comments and internal notes,
// history, SLA targets), and the "New ticket" form. Shapes: docs/rest.md "Tickets".
// Both stay live: `ticket.created` / `ticket.updated` frames (docs/protocol.md) update the
// list and the open ticket without a reload.
//
// Every ticket field, comment and customer detail is untrusted text: it goes in through
// el()/textContent only.

import {
  addTicketComment, createTicket, customer360, getTicket, listTickets, ticketLog, updateTicket,
} from "./api.js";
import { $, $$, clear, el } from "./dom.js";
import { announce } from "./notify.js";
import { atLeast, state } from "./state.js";

const STATUSES = ["new", "open", "pending", "solved", "closed"];
const PRIORITIES = ["low", "normal", "high", "urgent"];
const PAGE = 50;
const SLA_TICK_MS = 30000;
const SOON_MS = 3600e3; // amber under an hour left
const FILTER_KEYS = ["status", "priority", "assignee", "queue", "customer_key"];

let hooks = { showPage: () => {}, openConversation: () => {} };
const filters = Object.fromEntries(FILTER_KEYS.map((key) => [key, ""]));
// The list: `seq` grows with every reload, so an answer for older filters is dropped.
const list = { items: [], next: null, seq: 0, loading: false };
// The ticket on screen; `seq` drops late answers for a ticket no longer shown.
let view = null; // {id, ticket, comments, history, seq, customer: {open, data, error, loading}}
let viewSeq = 0;
let reloadTimer = null;

// ---- entry points (app.js, chat.js, notifications.js) ---------------------------------

export function initTickets(options) {
  hooks = { ...hooks, ...options };
  const form = $("#tk-filters");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    readFilters();
    reloadList();
  });
  form.addEventListener("change", () => {
    readFilters();
    reloadList();
  });
  let typing = null;
  form.addEventListener("input", (event) => {
    if (event.target.tagName !== "INPUT") return;
    clearTimeout(typing);
    typing = setTimeout(() => {
      readFilters();
      reloadList();
    }, 400);
  });
  $("#tk-refresh").addEventListener("click", () => reloadList());
  $("#tk-more").addEventListener("click", loadMore);
  $("#tk-new-btn").addEventListener("click", showNewForm);
  $("#tk-new-form").addEventListener("submit", submitNew);
  $("#tk-new-cancel").addEventListener("click", () => showPane("placeholder"));
  $("#tk-new-back").addEventListener("click", () => showPane("placeholder"));
  // chat.js: "Create ticket" made (or found) the conversation's ticket.
  document.addEventListener("kefu:open-ticket", (event) => {
    hooks.showPage("tickets");
    openTicket(event.detail.ticket);
  });
  setInterval(tickSla, SLA_TICK_MS);
}

/** The Tickets page was shown: fresh team names for the filter, a fresh list. */
export function showTickets() {
  fillAssigneeFilter();
  reloadList();
}

/** Something may have made or changed tickets (a rule's notification): refresh what shows. */
export function ticketsMayHaveChanged() {
  if ($("#page-tickets").hidden) return;
  clearTimeout(reloadTimer);
  reloadTimer = setTimeout(() => reloadList(), 300);
}

/** A `ticket.created` or `ticket.updated` frame: the list and the open ticket follow. */
export function onTicketFrame(frame) {
  const item = frame.ticket;
  if (!item || !item.id) return;
  const mine = item.assignee_id === state.me.id;
  const byOther = frame.actor !== `agent:${state.me.id}`;
  const assignee = frame.changes && frame.changes.assignee_id;
  if (mine && byOther && (frame.type === "ticket.created" || assignee)) {
    announce(`Ticket #${item.id} assigned to you`, item.subject, () => {
      hooks.showPage("tickets");
      openTicket(item.id);
    });
  }
  applyToList(item);
  if (view && view.id === item.id) applyToView(item, frame);
}

function newer(known, item) {
  // Frames can cross a REST answer in flight: an older state never replaces a newer one.
  return !known || !known.updated_at || Date.parse(item.updated_at) >= Date.parse(known.updated_at);
}

function applyToList(item) {
  const index = list.items.findIndex((t) => t.id === item.id);
  if (index >= 0) {
    const known = list.items[index];
    if (!newer(known, item)) return;
    const merged = { ...known, ...item }; // the frame's item has every field but `body`
    // A ticket that stops matching the filters leaves the list, unless it is on screen.
    if (matches(merged) || (view && view.id === item.id)) list.items[index] = merged;
    else list.items.splice(index, 1);
  } else {
    if (!matches(item)) return;
    // Inside the loaded window only: older than the last row loaded, "load more" has it.
    const last = list.items[list.items.length - 1];
    if (list.next && last && Number(item.id) < Number(last.id)) return;
    list.items.push(item);
    list.items.sort((a, b) => Number(b.id) - Number(a.id));
  }
  renderList();
  flashRow(item.id);
}

/** Does a ticket belong in the list under the current filters? */
function matches(ticket) {
  const assignee = filters.assignee === "me" ? state.me.id : filters.assignee;
  return (
    (!filters.status || ticket.status === filters.status) &&
    (!filters.priority || ticket.priority === filters.priority) &&
    (!assignee || ticket.assignee_id === assignee) &&
    (!filters.queue || ticket.queue === filters.queue) &&
    (!filters.customer_key || ticket.customer_key === filters.customer_key)
  );
}

function flashRow(id) {
  const node = $(`#tk-list .tk-row[data-id="${CSS.escape(id)}"]`);
  if (!node) return;
  node.classList.remove("tk-flash");
  void node.offsetWidth; // restart the animation
  node.classList.add("tk-flash");
}

async function applyToView(item, frame) {
  const mine = viewSeq;
  if (view.ticket && !newer(view.ticket, item)) return;
  view.ticket = { ...(view.ticket || {}), ...item };
  const comment = frame.comment;
  if (comment && !view.comments.some((c) => c.id === comment.id)) view.comments.push(comment);
  if (frame.actor !== `agent:${state.me.id}`) liveNote(frame);
  renderView();
  try {
    const history = await ticketLog(item.id, "history"); // rows the frame does not carry
    if (mine !== viewSeq) return;
    view.history = history;
    renderHistory();
  } catch {
    /* the next change or a reload brings it */
  }
}

/** "Updated by Bob: status, priority", read out by screen readers (aria-live). */
function liveNote(frame) {
  const fields = Object.keys(frame.changes || {}).map((name) => FIELD_NAMES[name] || name.replace(/_/g, " "));
  if (frame.comment) fields.unshift(frame.comment.internal ? "internal note" : "reply");
  const what = fields.length ? `: ${fields.join(", ")}` : "";
  view.live = `Updated just now by ${actorName(frame.actor)}${what}`;
}

const FIELD_NAMES = {
  assignee_id: "assignee",
  first_responded_at: "first response",
  resolution_due_at: "resolution target",
  first_response_due_at: "first-response target",
  paused_at: "SLA clock",
  warned_at: "SLA warning",
  breached_at: "SLA breach",
  solved_at: "solved",
};

/** The customer's tickets: the list filtered by their key. */
export function showCustomerTickets(key) {
  for (const name of FILTER_KEYS) filters[name] = "";
  filters.customer_key = key;
  writeFilters();
  hooks.showPage("tickets");
  showPane("placeholder");
}

// ---- filters and the list --------------------------------------------------------------

function readFilters() {
  const form = $("#tk-filters");
  for (const name of FILTER_KEYS) filters[name] = (form.elements[name].value || "").trim();
}

function writeFilters() {
  const form = $("#tk-filters");
  for (const name of FILTER_KEYS) form.elements[name].value = filters[name];
}

function fillAssigneeFilter() {
  const select = $("#tk-filters").elements.assignee;
  const chosen = filters.assignee;
  clear(select);
  select.append(el("option", { value: "", text: "Anyone" }), el("option", { value: "me", text: "Me" }));
  for (const agent of teamMembers()) {
    if (agent.id === state.me.id) continue;
    select.append(el("option", { value: agent.id, text: agent.name }));
  }
  select.value = chosen;
  if (select.value !== chosen) filters.assignee = select.value;
}

function teamMembers() {
  return [...state.agents.values()].filter((a) => !a.disabled).sort((a, b) => a.name.localeCompare(b.name));
}

async function reloadList() {
  const mine = ++list.seq;
  list.loading = true;
  listError("");
  $("#tk-list-pane").setAttribute("aria-busy", "true");
  try {
    const page = await listTickets(filters, null, PAGE);
    if (mine !== list.seq) return;
    list.items = page.items;
    list.next = page.next;
  } catch (err) {
    if (mine !== list.seq) return;
    listError(`Could not load tickets: ${err.message}`);
  } finally {
    if (mine === list.seq) {
      list.loading = false;
      $("#tk-list-pane").setAttribute("aria-busy", "false");
    }
  }
  renderList();
}

async function loadMore() {
  if (!list.next || list.loading) return;
  const mine = list.seq;
  const button = $("#tk-more");
  button.disabled = true;
  listError("");
  try {
    const page = await listTickets(filters, list.next, PAGE);
    if (mine !== list.seq) return;
    const seen = new Set(list.items.map((t) => t.id));
    list.items.push(...page.items.filter((t) => !seen.has(t.id)));
    list.next = page.next;
    renderList();
  } catch (err) {
    listError(`Could not load more: ${err.message}`);
  } finally {
    button.disabled = false;
  }
}

function listError(text) {
  $("#tk-list-error").textContent = text;
}

function renderList() {
  const box = $("#tk-list");
  clear(box);
  for (const ticket of list.items) box.append(el("li", {}, row(ticket)));
  const filtered = FILTER_KEYS.some((key) => filters[key]);
  $("#tk-empty").hidden = list.items.length > 0 || list.loading;
  $("#tk-empty").textContent = filtered ? "No tickets match these filters." : "No tickets yet.";
  $("#tk-more").hidden = !list.next;
}

function row(ticket) {
  const selected = view && view.id === ticket.id;
  return el(
    "button",
    {
      type: "button",
      class: `tk-row${selected ? " selected" : ""}`,
      "aria-current": selected ? "true" : null,
      dataset: { id: ticket.id },
      onclick: () => openTicket(ticket),
    },
    el(
      "span",
      { class: "tk-row-top" },
      el("span", { class: "tk-id", text: `#${ticket.id}` }),
      el("span", { class: "tk-subject", text: ticket.subject }),
    ),
    slaChip(ticket),
    el(
      "span",
      { class: "tk-row-bottom" },
      statusBadge(ticket.status),
      priorityBadge(ticket.priority),
      el("span", { class: `tk-assignee${ticket.assignee_id ? "" : " none"}`, text: assigneeName(ticket.assignee_id) }),
      ticket.customer_key ? el("span", { class: "tk-customer", title: "Customer", text: ticket.customer_key }) : null,
      ticket.queue ? el("span", { class: "tk-queue", title: "Queue", text: ticket.queue }) : null,
    ),
  );
}

function statusBadge(status) {
  return el("span", { class: `st st-${status}`, dataset: { status }, text: status });
}

function priorityBadge(priority) {
  return el("span", { class: `prio prio-${priority}`, dataset: { priority }, title: "Priority", text: priority });
}

function assigneeName(id) {
  if (!id) return "Unassigned";
  const agent = state.agents.get(id);
  const name = agent ? agent.name : "Unknown agent";
  return id === state.me.id ? `${name} (you)` : name;
}

// ---- SLA ---------------------------------------------------------------------------------

/** What the SLA of a ticket says now: the next due target, how long is left or since when
 * it is breached; amber under an hour (or once warned), red when past due (or breached). */
export function slaState(ticket, now = Date.now()) {
  const s = ticket.sla || {};
  if (ticket.status === "solved" || ticket.status === "closed") {
    const late = (doneAt, dueAt) => !!dueAt && (!doneAt || Date.parse(doneAt) > Date.parse(dueAt));
    const missed = !!s.breached_at || late(s.first_responded_at, s.first_response_due_at) || late(s.solved_at, s.resolution_due_at);
    const none = !s.first_response_due_at && !s.resolution_due_at;
    return {
      kind: "done",
      text: none ? "no SLA" : missed ? "SLA missed" : "SLA met",
      title: s.solved_at ? `Solved ${dateTime(s.solved_at)}` : "",
    };
  }
  const first = !s.first_responded_at && !!s.first_response_due_at;
  const dueAt = first ? s.first_response_due_at : s.resolution_due_at;
  if (!dueAt) return { kind: "none", text: "no SLA", title: "No SLA target applies to this ticket" };
  if (!first && s.paused_at) {
    // Pending: the resolution clock waits on the customer (the first response never does).
    const since = `Resolution clock paused since ${dateTime(s.paused_at)}: waiting on the customer`;
    if (Date.parse(s.paused_at) >= Date.parse(dueAt)) {
      return { kind: "breach", text: "resolution · breached, paused", title: `${since} (already breached)` };
    }
    return { kind: "paused", text: "resolution · paused", title: since };
  }
  const target = first ? "1st reply" : "resolution";
  const targetLong = first ? "First response" : "Resolution";
  const due = Date.parse(dueAt);
  const left = due - now;
  // The stamps name the latest announcement; one made before the first response belongs
  // to that target, not to the resolution's.
  const since = first ? 0 : Date.parse(s.first_responded_at || 0);
  const stamped = (stamp) => !!stamp && Date.parse(stamp) >= since;
  const title = `${targetLong} due ${dateTime(dueAt)}`;
  if (left <= 0 || (stamped(s.breached_at) && Date.parse(s.breached_at) >= due)) {
    return { kind: "breach", text: `${target} · breached ${human(now - due)} ago`, title: `${title} (breached)` };
  }
  const warned = left < SOON_MS || stamped(s.warned_at);
  return { kind: warned ? "warn" : "ok", text: `${target} · ${human(left)} left`, title };
}

function slaChip(ticket) {
  const node = el("span", { class: "sla", dataset: { ticket: ticket.id } });
  paintSla(node, ticket);
  return node;
}

function paintSla(node, ticket) {
  const sla = slaState(ticket);
  node.className = `sla sla-${sla.kind}`;
  node.textContent = sla.text;
  node.title = sla.title;
  node.dataset.sla = sla.kind;
}

function tickSla() {
  const byId = new Map(list.items.map((t) => [t.id, t]));
  if (view && view.ticket) byId.set(view.id, view.ticket);
  for (const node of $$(".sla[data-ticket]")) {
    const ticket = byId.get(node.dataset.ticket);
    if (ticket) paintSla(node, ticket);
  }
  if (view && view.ticket && !toldOf(view.ticket) && !$("#page-tickets").hidden) refreshView();
}

/** Whether this console gets the ticket's live frames: its assignee's, a supervisor's, and
 * everyone's while unassigned (docs/protocol.md). Anyone else viewing it re-reads it on
 * the SLA tick instead. */
function toldOf(ticket) {
  return !ticket.assignee_id || ticket.assignee_id === state.me.id || atLeast("supervisor");
}

async function refreshView() {
  const mine = viewSeq;
  const id = view.id;
  try {
    const [ticket, comments, history] = await Promise.all([getTicket(id), ticketLog(id, "comments"), ticketLog(id, "history")]);
    if (mine !== viewSeq || !newer(view.ticket, ticket)) return;
    if (ticket.updated_at === view.ticket.updated_at && comments.length === view.comments.length) return;
    Object.assign(view, { ticket: { ...view.ticket, ...ticket }, comments, history });
    remember(view.ticket);
    renderView();
  } catch {
    /* the next tick tries again */
  }
}

/** "<1 min", "12 min", "3 h 05 min", "2 d 4 h". */
export function human(ms) {
  const minutes = Math.floor(Math.max(0, ms) / 60000);
  if (minutes < 1) return "<1 min";
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} h ${String(minutes % 60).padStart(2, "0")} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

function dateTime(iso) {
  return new Date(iso).toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}

// ---- panes (the right-hand side, or the whole page on a phone) --------------------------

function showPane(which) {
  $("#tk-placeholder").hidden = which !== "placeholder";
  $("#tk-new").hidden = which !== "new";
  $("#tk-view").hidden = which !== "view";
  $("#page-tickets").classList.toggle("tk-detail-open", which !== "placeholder");
  if (which !== "view") {
    view = null;
    viewSeq++;
    renderList();
  }
}

function showNewForm() {
  showPane("new");
  const form = $("#tk-new-form");
  $("#tk-new-error").textContent = "";
  if (filters.customer_key && !form.elements.customer_key.value) form.elements.customer_key.value = filters.customer_key;
  (form.elements.customer_key.value ? form.elements.subject : form.elements.customer_key).focus();
}

async function submitNew(event) {
  event.preventDefault();
  const form = event.target;
  const button = form.querySelector("button[type=submit]");
  const data = Object.fromEntries(new FormData(form).entries());
  $("#tk-new-error").textContent = "";
  button.disabled = true;
  try {
    const ticket = await createTicket({
      customer_key: data.customer_key.trim(),
      subject: data.subject.trim(),
      body: data.body,
      priority: data.priority,
    });
    form.reset();
    openTicket(ticket);
    reloadList();
  } catch (err) {
    $("#tk-new-error").textContent = err.message;
  } finally {
    button.disabled = false;
  }
}

// ---- the ticket view ----------------------------------------------------------------------

/** Show a ticket (an id, or a ticket already fetched). */
export async function openTicket(ticketOrId) {
  const id = typeof ticketOrId === "object" ? ticketOrId.id : String(ticketOrId);
  const mine = ++viewSeq;
  view = { id, ticket: typeof ticketOrId === "object" ? ticketOrId : null, comments: [], history: [], seq: mine, customer: { open: false } };
  showPane("view");
  buildView();
  renderList();
  try {
    const [ticket, comments, history] = await Promise.all([getTicket(id), ticketLog(id, "comments"), ticketLog(id, "history")]);
    if (mine !== viewSeq) return;
    // A live frame may have come while these loaded: the newer state wins, and comments
    // it brought stay.
    const live = view.ticket && !newer(view.ticket, ticket) ? view.ticket : {};
    const seen = new Set(comments.map((c) => c.id));
    Object.assign(view, {
      ticket: { ...ticket, ...live },
      comments: [...comments, ...view.comments.filter((c) => !seen.has(c.id))],
      history,
    });
    remember(view.ticket);
    renderView();
  } catch (err) {
    if (mine !== viewSeq) return;
    if (!view.ticket) {
      const box = $("#tk-view");
      clear(box);
      box.append(backButton(), el("p", { class: "tk-error-box", role: "alert", text: `Could not load ticket #${id}: ${err.message}` }));
      return;
    }
    fieldError(`Could not load everything: ${err.message}`);
  }
}

function backButton() {
  return el(
    "button",
    { type: "button", class: "icon-btn only-narrow tk-back", "aria-label": "Back to the tickets", onclick: () => showPane("placeholder") },
    svgIcon("M19 12H5M12 19l-7-7 7-7"),
  );
}

/** The view's frame, once per ticket: sections filled by renderView (the composer keeps
 * what the agent is typing across re-renders). */
function buildView() {
  const box = $("#tk-view");
  clear(box);
  const composer = el(
    "form",
    { class: "tk-composer", id: "tk-comment-form", onsubmit: submitComment },
    el(
      "div",
      { class: "tk-kind", role: "radiogroup", "aria-label": "Who sees it" },
      el("label", { class: "tk-kind-opt public" }, el("input", { type: "radio", name: "kind", value: "public", checked: true }), " Public reply"),
      el("label", { class: "tk-kind-opt internal" }, el("input", { type: "radio", name: "kind", value: "internal" }), " Internal note"),
    ),
    el("label", { for: "tk-comment-input", class: "sr-only", text: "Comment" }),
    el("textarea", { id: "tk-comment-input", name: "body", rows: "3", maxlength: "50000", placeholder: "Write a reply to the customer…", required: true }),
    el(
      "div",
      { class: "tk-composer-row" },
      el("p", { class: "form-error", role: "alert", dataset: { error: "comment" } }),
      el("button", { type: "submit", class: "btn primary", text: "Add comment" }),
    ),
  );
  composer.addEventListener("change", () => {
    const internal = composer.elements.kind.value === "internal";
    composer.classList.toggle("internal", internal);
    composer.elements.body.placeholder = internal ? "A note only agents see…" : "Write a reply to the customer…";
    composer.querySelector("button[type=submit]").textContent = internal ? "Add note" : "Add comment";
  });
  box.append(
    el("header", { class: "tk-view-head", dataset: { part: "head" } }),
    el(
      "div",
      { class: "tk-view-grid" },
      el(
        "div",
        { class: "tk-main" },
        el("section", { class: "card tk-desc", "aria-label": "Description", dataset: { part: "body" } }),
        el(
          "section",
          { class: "card tk-comments-card", "aria-labelledby": "tk-comments-h" },
          el("h3", { id: "tk-comments-h", text: "Comments" }),
          el("ol", { class: "tk-comments", id: "tk-comments", "aria-label": "Comments" }),
          composer,
        ),
      ),
      el(
        "aside",
        { class: "tk-side" },
        el("section", { class: "card tk-fields-card", "aria-label": "Ticket fields", dataset: { part: "fields" } }),
        el("section", { class: "card tk-sla-card", id: "tk-sla", "aria-labelledby": "tk-sla-h", dataset: { part: "sla" } }),
        el(
          "section",
          { class: "card tk-history-card", "aria-labelledby": "tk-history-h" },
          el("h3", { id: "tk-history-h", text: "History" }),
          el("ol", { class: "tk-history", id: "tk-history", "aria-label": "History" }),
        ),
      ),
    ),
  );
  renderView();
}

function part(name) {
  return $(`#tk-view [data-part=${name}]`);
}

function renderView() {
  if (!view) return;
  const ticket = view.ticket;
  renderHead(ticket);
  if (!ticket) return;
  renderFields(ticket);
  renderBody(ticket);
  renderSla(ticket);
  renderComments();
  renderHistory();
  const closed = ticket.status === "closed";
  const composer = $("#tk-comment-form");
  for (const control of composer.elements) control.disabled = closed;
  composer.classList.toggle("closed", closed);
  if (closed) composer.elements.body.placeholder = "This ticket is closed: it takes no more comments.";
}

function renderHead(ticket) {
  const head = part("head");
  clear(head);
  head.append(backButton());
  if (!ticket) {
    head.append(el("div", { class: "tk-title" }, el("h2", { text: `Ticket #${view.id}` }), el("p", { class: "sub", text: "Loading…" })));
    return;
  }
  const bits = [`#${ticket.id}`, `via ${ticket.channel}`, `created ${dateTime(ticket.created_at)}`];
  if (ticket.updated_at !== ticket.created_at) bits.push(`updated ${dateTime(ticket.updated_at)}`);
  head.append(
    el(
      "div",
      { class: "tk-title" },
      el("div", { class: "tk-badges" }, statusBadge(ticket.status), priorityBadge(ticket.priority), slaChip(ticket)),
      el("h2", { id: "tk-subject", text: ticket.subject }),
      el("p", { class: "sub", text: bits.join(" · ") }),
      el("p", { class: "tk-live", id: "tk-live", role: "status", "aria-live": "polite", text: view.live || "" }),
    ),
  );
}

function renderBody(ticket) {
  const box = part("body");
  clear(box);
  box.append(el("h3", { text: "Description" }), el("p", { class: "tk-body", text: ticket.body }));
}

function renderFields(ticket) {
  const box = part("fields");
  clear(box);
  const closed = ticket.status === "closed";
  const status = el(
    "select",
    { id: "tk-status", class: "select", disabled: closed, onchange: (e) => change("status", e.target.value, e.target) },
    STATUSES.map((s) => el("option", { value: s, selected: s === ticket.status, text: s })),
  );
  const priority = el(
    "select",
    { id: "tk-priority", class: "select", disabled: closed, onchange: (e) => change("priority", e.target.value, e.target) },
    PRIORITIES.map((p) => el("option", { value: p, selected: p === ticket.priority, text: p })),
  );
  const members = teamMembers();
  const assignee = el(
    "select",
    { id: "tk-assignee", class: "select", disabled: closed, onchange: (e) => change("assignee_id", e.target.value || null, e.target) },
    el("option", { value: "", text: "Unassigned" }),
    members.map((a) => el("option", { value: a.id, text: a.id === state.me.id ? `${a.name} (you)` : a.name })),
    ticket.assignee_id && !members.some((a) => a.id === ticket.assignee_id) ? el("option", { value: ticket.assignee_id, text: "Unknown agent" }) : null,
  );
  assignee.value = ticket.assignee_id || "";
  const queue = el("input", {
    id: "tk-queue",
    value: ticket.queue || "",
    placeholder: "none",
    maxlength: "40",
    autocomplete: "off",
    spellcheck: "false",
    disabled: closed,
  });
  const saveQueue = () => {
    const value = queue.value.trim().toLowerCase();
    if (value === (view.ticket.queue || "")) return;
    change("queue", value || null, queue);
  };
  queue.addEventListener("change", saveQueue);
  queue.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      saveQueue();
    }
  });
  const facts = el("dl", { class: "facts tk-facts" });
  facts.append(el("dt", { text: "Customer" }), el("dd", {}, customerLink(ticket)));
  if (ticket.conversation_id) {
    facts.append(
      el("dt", { text: "Chat" }),
      el("dd", {}, el("button", { type: "button", class: "link-btn", text: "Open the conversation", onclick: () => hooks.openConversation(ticket.conversation_id) })),
    );
  }
  box.append(
    el(
      "div",
      { class: "tk-field-grid" },
      el("label", { for: "tk-status", text: "Status" }), status,
      el("label", { for: "tk-priority", text: "Priority" }), priority,
      el("label", { for: "tk-assignee", text: "Assignee" }), assignee,
      el("label", { for: "tk-queue", text: "Queue" }), queue,
    ),
    el("p", { class: "form-error", role: "alert", id: "tk-field-error" }),
    facts,
  );
  const customer = customerPanel();
  if (customer) box.append(customer);
}

function fieldError(text) {
  const box = $("#tk-field-error");
  if (box) box.textContent = text;
}

async function change(name, value, control) {
  if (!view || !view.ticket) return;
  const ticket = view.ticket;
  const before = ticket[name];
  const mine = viewSeq;
  fieldError("");
  control.disabled = true;
  let changed;
  try {
    changed = await updateTicket(ticket.id, { [name]: value });
  } catch (err) {
    if (mine !== viewSeq) return;
    control.value = before || "";
    control.disabled = false;
    fieldError(
      err.code === "illegal_transition" && name === "status"
        ? `Can't go from ${before} to ${value}.`
        : `Could not change the ${name === "assignee_id" ? "assignee" : name}: ${err.message}`,
    );
    return;
  }
  if (mine !== viewSeq) return;
  if (newer(view.ticket, changed)) view.ticket = { ...view.ticket, ...changed };
  remember(view.ticket);
  renderView();
  try {
    const history = await ticketLog(changed.id, "history");
    if (mine !== viewSeq) return;
    view.history = history;
    renderHistory();
  } catch (err) {
    if (mine === viewSeq) fieldError(`Could not load the history: ${err.message}`);
  }
}

/** A ticket answer replaces what the list knew about it, unless a frame brought newer. */
function remember(ticket) {
  const index = list.items.findIndex((t) => t.id === ticket.id);
  if (index >= 0 && newer(list.items[index], ticket)) list.items[index] = { ...list.items[index], ...ticket };
  renderList();
}

// ---- the customer: a compact 360 on demand ---------------------------------------------------

function customerLink(ticket) {
  if (!ticket.customer_key) return el("span", { class: "muted", text: "none" });
  const open = view.customer.open && view.customer.key === ticket.customer_key;
  return el(
    "span",
    { class: "tk-cust-links" },
    el("button", {
      type: "button",
      class: "link-btn tk-cust-key",
      "aria-expanded": String(open),
      "aria-controls": "tk-customer",
      title: "Show the customer's 360",
      text: ticket.customer_key,
      onclick: () => toggleCustomer(ticket.customer_key),
    }),
    el("button", { type: "button", class: "link-btn muted-link", text: "all tickets", onclick: () => showCustomerTickets(ticket.customer_key) }),
  );
}

async function toggleCustomer(key) {
  const c = view.customer;
  if (c.open && c.key === key) {
    view.customer = { open: false };
    renderFields(view.ticket);
    return;
  }
  const mine = viewSeq;
  view.customer = { open: true, key, loading: true };
  renderFields(view.ticket);
  try {
    const data = await customer360(key);
    if (mine !== viewSeq || view.customer.key !== key) return;
    view.customer = { open: true, key, data };
  } catch (err) {
    if (mine !== viewSeq || view.customer.key !== key) return;
    view.customer = { open: true, key, error: err };
  }
  renderFields(view.ticket);
}

function customerPanel() {
  const c = view.customer;
  if (!c.open) return null;
  const box = el("div", { id: "tk-customer", class: "tk-customer-card", "aria-live": "polite" });
  if (c.loading) {
    box.append(el("p", { class: "c360-loading", text: `Loading ${c.key}…` }));
    return box;
  }
  if (c.error) {
    box.append(el("p", { class: "c360-inline-error", text: `Could not load the customer: ${c.error.message}` }));
    return box;
  }
  const data = c.data || {};
  const who = data.customer || {};
  if (!who.name && !who.email && !who.phone) {
    box.append(el("p", { class: "c360-empty", text: `No profile found for ${c.key}.` }));
  } else {
    box.append(
      el(
        "div",
        { class: "c360-who" },
        el("strong", { class: "c360-name", text: who.name || c.key }),
        who.tier ? el("span", { class: `tier tier-${String(who.tier).toLowerCase().replace(/[^a-z0-9]+/g, "-")}`, text: who.tier }) : null,
      ),
    );
    const facts = el("dl", { class: "facts c360-facts" });
    for (const [label, value] of [["Email", who.email], ["Phone", who.phone], ["Company", who.company]]) {
      if (value) facts.append(el("dt", { text: label }), el("dd", { text: value }));
    }
    box.append(facts);
  }
  const counts = [["order", data.orders], ["ticket", data.tickets], ["call", data.calls]]
    .filter(([, items]) => Array.isArray(items))
    .map(([name, items]) => `${items.length} ${name}${items.length === 1 ? "" : "s"}`);
  if (counts.length) box.append(el("p", { class: "c360-via", text: counts.join(" · ") }));
  return box;
}

// ---- SLA panel ------------------------------------------------------------------------------

function renderSla(ticket) {
  const box = part("sla");
  clear(box);
  const s = ticket.sla || {};
  box.append(
    el("div", { class: "tk-card-head" }, el("h3", { id: "tk-sla-h", text: "SLA" }), slaChip(ticket)),
  );
  const facts = el("dl", { class: "facts tk-sla-facts" });
  const met = (doneAt, dueAt) => (doneAt && dueAt ? (Date.parse(doneAt) <= Date.parse(dueAt) ? " (met)" : " (late)") : "");
  const rows = [
    ["Policy", s.policy || "none"],
    ["1st reply due", s.first_response_due_at ? dateTime(s.first_response_due_at) : "—"],
    ["Replied", s.first_responded_at ? `${dateTime(s.first_responded_at)}${met(s.first_responded_at, s.first_response_due_at)}` : "not yet"],
    ["Resolve by", s.resolution_due_at ? dateTime(s.resolution_due_at) : "—"],
    ["Solved", s.solved_at ? `${dateTime(s.solved_at)}${met(s.solved_at, s.resolution_due_at)}` : "not yet"],
  ];
  if (s.paused_at) rows.push(["Paused", `since ${dateTime(s.paused_at)} (pending)`]);
  if (s.warned_at) rows.push(["Warned", dateTime(s.warned_at)]);
  if (s.breached_at) rows.push(["Breached", dateTime(s.breached_at)]);
  for (const [label, value] of rows) facts.append(el("dt", { text: label }), el("dd", { text: value }));
  box.append(facts);
}

// ---- comments ------------------------------------------------------------------------------

function renderComments() {
  const box = $("#tk-comments");
  clear(box);
  if (!view.comments.length) {
    box.append(el("li", { class: "tk-none", text: "No comments yet." }));
    return;
  }
  for (const comment of view.comments) {
    const kind = comment.internal ? "internal" : "public";
    box.append(
      el(
        "li",
        { class: `tk-comment ${kind}`, dataset: { id: comment.id, kind } },
        el(
          "div",
          { class: "tk-comment-head" },
          el("strong", { text: authorName(comment) }),
          el(
            "span",
            { class: `tk-comment-kind ${kind}` },
            comment.internal ? svgIcon("M7 11V7a5 5 0 0 1 10 0v4M5 11h14v10H5z") : null,
            comment.internal ? "Internal note" : "Public reply",
          ),
          el("time", { datetime: comment.created_at, text: dateTime(comment.created_at) }),
        ),
        el("p", { class: "tk-comment-body", text: comment.body }),
      ),
    );
  }
}

function authorName(comment) {
  if (comment.author && comment.author === `agent:${state.me.id}`) return `${comment.author_name || state.me.name} (you)`;
  return comment.author_name || actorName(comment.author);
}

async function submitComment(event) {
  event.preventDefault();
  if (!view || !view.ticket) return;
  const form = event.target;
  const body = form.elements.body.value;
  const error = form.querySelector("[data-error=comment]");
  error.textContent = "";
  if (!body.trim()) {
    error.textContent = "Write something first.";
    return;
  }
  const internal = form.elements.kind.value === "internal";
  const button = form.querySelector("button[type=submit]");
  const mine = viewSeq;
  button.disabled = true;
  try {
    await addTicketComment(view.ticket.id, body, internal);
    if (mine !== viewSeq) return;
    form.elements.body.value = "";
    // The first public reply stamps the SLA's first response: fetch the ticket again too.
    const [ticket, comments, history] = await Promise.all([
      getTicket(view.id), ticketLog(view.id, "comments"), ticketLog(view.id, "history"),
    ]);
    if (mine !== viewSeq) return;
    const live = newer(view.ticket, ticket) ? {} : view.ticket;
    Object.assign(view, { ticket: { ...ticket, ...live }, comments, history });
    remember(view.ticket);
    renderView();
  } catch (err) {
    if (mine === viewSeq) error.textContent = err.code === "ticket_closed" ? "This ticket is closed: it takes no more comments." : err.message;
  } finally {
    button.disabled = false;
  }
}

// ---- history -------------------------------------------------------------------------------

function renderHistory() {
  const box = $("#tk-history");
  clear(box);
  for (const entry of [...view.history].reverse()) {
    box.append(
      el(
        "li",
        { class: `tk-hist tk-hist-${entry.action.replace(/\./g, "-")}`, dataset: { action: entry.action } },
        el("span", { class: "tk-hist-what" }, el("strong", { text: actorName(entry.actor) }), " ", describe(entry)),
        el("time", { datetime: entry.at, text: dateTime(entry.at) }),
      ),
    );
  }
  if (!view.history.length) box.append(el("li", { class: "tk-none", text: "Nothing yet." }));
}

function actorName(actor) {
  if (!actor) return "kefu";
  const [kind, id] = [actor.slice(0, actor.indexOf(":")), actor.slice(actor.indexOf(":") + 1)];
  if (kind === "agent") return assigneeName(id);
  if (kind === "rule") return `Rule ${id}`;
  if (kind === "machine") return `API (${id})`;
  return actor;
}

function describe(entry) {
  const d = entry.detail || {};
  const change = (what, show = (v) => v ?? "none") => `changed ${what}: ${show(d.before)} → ${show(d.after)}`;
  switch (entry.action) {
    case "created":
      return "created the ticket";
    case "status":
      return change("the status");
    case "priority":
      return `${change("the priority")}${d.resolution_due_at || d.first_response_due_at ? " (SLA targets moved)" : ""}`;
    case "assignee":
      return change("the assignee", (id) => (id ? assigneeName(id) : "nobody"));
    case "queue":
      return change("the queue");
    case "comment":
      return d.internal ? "added an internal note" : `replied publicly${d.first_response ? " (first response)" : ""}`;
    case "sla.warning":
      return `warned: the ${targetName(d.target)} is due ${d.due_at ? dateTime(d.due_at) : "soon"}`;
    case "sla.breach":
      return `announced a breach: the ${targetName(d.target)} was due ${d.due_at ? dateTime(d.due_at) : ""}`;
    default:
      return entry.action;
  }
}

function targetName(target) {
  return target === "first_response" ? "first response" : target || "target";
}

// ---- bits ----------------------------------------------------------------------------------

function svgIcon(d) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", d);
  svg.append(path);
  return svg;
}
