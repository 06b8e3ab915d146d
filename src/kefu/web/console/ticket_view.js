// The right-hand side of the Tickets page (the whole page on a phone): the open ticket
// (header, description, comments, fields, SLA, history), kept live by frames, or the
// "New ticket" form, or the placeholder.
//
// Every ticket field is untrusted text: it goes in through el()/textContent only.

import { createTicket, getTicket, ticketLog } from "./api.js";
import { $, clear, el } from "./dom.js";
import { atLeast, state } from "./state.js";
import { actorName, dateTime, newer, part, priorityBadge, statusBadge, svgIcon, tk } from "./ticket_common.js";
import { fieldError, renderFields } from "./ticket_fields.js";
import { reloadList, remember, renderList } from "./ticket_list.js";
import { renderSla, slaChip } from "./ticket_sla.js";
import { reloadHistory, renderComments, renderHistory, submitComment } from "./ticket_thread.js";

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

// ---- panes -----------------------------------------------------------------------------

export function showPane(which) {
  $("#tk-placeholder").hidden = which !== "placeholder";
  $("#tk-new").hidden = which !== "new";
  $("#tk-view").hidden = which !== "view";
  $("#page-tickets").classList.toggle("tk-detail-open", which !== "placeholder");
  if (which !== "view") {
    tk.view = null;
    tk.viewSeq++;
    renderList();
  }
}

export function showNewForm() {
  showPane("new");
  const form = $("#tk-new-form");
  $("#tk-new-error").textContent = "";
  if (tk.filters.customer_key && !form.elements.customer_key.value) form.elements.customer_key.value = tk.filters.customer_key;
  (form.elements.customer_key.value ? form.elements.subject : form.elements.customer_key).focus();
}

export async function submitNew(event) {
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

// ---- the ticket view -------------------------------------------------------------------

/** Show a ticket (an id, or a ticket already fetched). */
export async function openTicket(ticketOrId) {
  const id = typeof ticketOrId === "object" ? ticketOrId.id : String(ticketOrId);
  // Another ticket starts at its subject, not where the last one was scrolled to.
  if (!tk.view || tk.view.id !== id) $("#page-tickets .tk-detail-pane").scrollTop = 0;
  const mine = ++tk.viewSeq;
  tk.view = { id, ticket: typeof ticketOrId === "object" ? ticketOrId : null, comments: [], history: [], seq: mine, customer: { open: false } };
  showPane("view");
  buildView();
  renderList();
  try {
    const [ticket, comments, history] = await Promise.all([getTicket(id), ticketLog(id, "comments"), ticketLog(id, "history")]);
    if (mine !== tk.viewSeq) return;
    const view = tk.view;
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
    if (mine !== tk.viewSeq) return;
    if (!tk.view.ticket) {
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

export function renderView() {
  const view = tk.view;
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
    head.append(el("div", { class: "tk-title" }, el("h2", { text: `Ticket #${tk.view.id}` }), el("p", { class: "sub", text: "Loading…" })));
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
      el("p", { class: "tk-live", id: "tk-live", role: "status", "aria-live": "polite", text: tk.view.live || "" }),
    ),
  );
}

function renderBody(ticket) {
  const box = part("body");
  clear(box);
  box.append(el("h3", { text: "Description" }), el("p", { class: "tk-body", text: ticket.body }));
}

// ---- staying live ----------------------------------------------------------------------

/** A frame about the ticket on screen: its fields, a new comment, a spoken note. */
export async function applyToView(item, frame) {
  const view = tk.view;
  const mine = tk.viewSeq;
  if (view.ticket && !newer(view.ticket, item)) return;
  view.ticket = { ...(view.ticket || {}), ...item };
  const comment = frame.comment;
  if (comment && !view.comments.some((c) => c.id === comment.id)) view.comments.push(comment);
  if (frame.actor !== `agent:${state.me.id}`) liveNote(frame);
  renderView();
  await reloadHistory(item.id, mine); // on failure the next change or a reload brings it
}

/** "Updated by Bob: status, priority", read out by screen readers (aria-live). */
function liveNote(frame) {
  const fields = Object.keys(frame.changes || {}).map((name) => FIELD_NAMES[name] || name.replace(/_/g, " "));
  if (frame.comment) fields.unshift(frame.comment.internal ? "internal note" : "reply");
  const what = fields.length ? `: ${fields.join(", ")}` : "";
  tk.view.live = `Updated just now by ${actorName(frame.actor)}${what}`;
}

/** Whether this console gets the ticket's live frames: its assignee's, a supervisor's, and
 * everyone's while unassigned (docs/protocol.md). Anyone else viewing it re-reads it on
 * the SLA tick instead. */
export function toldOf(ticket) {
  return !ticket.assignee_id || ticket.assignee_id === state.me.id || atLeast("supervisor");
}

export async function refreshView() {
  const mine = tk.viewSeq;
  const view = tk.view;
  const id = view.id;
  try {
    const [ticket, comments, history] = await Promise.all([getTicket(id), ticketLog(id, "comments"), ticketLog(id, "history")]);
    if (mine !== tk.viewSeq || !newer(view.ticket, ticket)) return;
    if (ticket.updated_at === view.ticket.updated_at && comments.length === view.comments.length) return;
    Object.assign(view, { ticket: { ...view.ticket, ...ticket }, comments, history });
    remember(view.ticket);
    renderView();
  } catch {
    /* the next tick tries again */
  }
}
