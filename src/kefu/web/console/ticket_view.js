// The right-hand side of the Tickets page (the whole page on a phone): the open ticket
// (header, description, comments, fields, SLA, history), kept live by frames, or the
// "New ticket" form, or the placeholder.
//
// Every ticket field is untrusted text: it goes in through el()/textContent only.

import { createTicket, getTicket, ticketLog } from "./api.js";
import { $, clear, el } from "./dom.js";
import { t } from "./i18n.js";
import { atLeast, state } from "./state.js";
import { actorName, dateTime, newer, part, priorityBadge, statusBadge, svgIcon, tk } from "./ticket_common.js";
import { fieldError, renderFields } from "./ticket_fields.js";
import { loadFiles, renderFiles } from "./ticket_files.js";
import { reloadList, remember, renderList } from "./ticket_list.js";
import { renderSla, slaChip } from "./ticket_sla.js";
import { reloadHistory, renderComments, renderHistory, submitComment } from "./ticket_thread.js";
import { codeText, typed, why } from "./why.js";

const FIELD_NAMES = {
  status: "tickets.field_status",
  priority: "tickets.field_priority",
  queue: "tickets.field_queue",
  subject: "tickets.field_subject",
  assignee_id: "tickets.field_assignee",
  first_responded_at: "tickets.field_first_response",
  resolution_due_at: "tickets.field_resolution_target",
  first_response_due_at: "tickets.field_first_response_target",
  paused_at: "tickets.field_sla_clock",
  warned_at: "tickets.field_sla_warning",
  breached_at: "tickets.field_sla_breach",
  solved_at: "tickets.field_solved",
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
      customer_key: typed(data.customer_key),
      subject: data.subject.trim(),
      body: data.body,
      priority: data.priority,
    });
    form.reset();
    openTicket(ticket);
    reloadList();
  } catch (err) {
    $("#tk-new-error").textContent = why(err);
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
  loadFiles(id, mine); // apart: the ticket shows even if its files cannot be read
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
      box.append(backButton(), el("p", { class: "tk-error-box", role: "alert", text: t("tickets.ticket_failed", { id, error: why(err) }) }));
      return;
    }
    fieldError(t("tickets.partly_failed", { error: why(err) }));
  }
}

function backButton() {
  return el(
    "button",
    { type: "button", class: "icon-btn only-narrow tk-back", "aria-label": t("tickets.back"), onclick: () => showPane("placeholder") },
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
      { class: "tk-kind", role: "radiogroup", "aria-label": t("tickets.who_sees") },
      el("label", { class: "tk-kind-opt public" }, el("input", { type: "radio", name: "kind", value: "public", checked: true }), ` ${t("tickets.public_reply")}`),
      el("label", { class: "tk-kind-opt internal" }, el("input", { type: "radio", name: "kind", value: "internal" }), ` ${t("tickets.internal_note")}`),
    ),
    el("label", { for: "tk-comment-input", class: "sr-only", text: t("tickets.comment") }),
    el("textarea", { id: "tk-comment-input", name: "body", rows: "3", maxlength: "50000", placeholder: t("tickets.reply_placeholder"), required: true }),
    el(
      "div",
      { class: "tk-composer-row" },
      el("p", { class: "form-error", role: "alert", dataset: { error: "comment" } }),
      el("button", { type: "submit", class: "btn primary", text: t("tickets.add_comment") }),
    ),
  );
  composer.addEventListener("change", () => {
    const internal = composer.elements.kind.value === "internal";
    composer.classList.toggle("internal", internal);
    composer.elements.body.placeholder = t(internal ? "tickets.note_placeholder" : "tickets.reply_placeholder");
    composer.querySelector("button[type=submit]").textContent = t(internal ? "tickets.add_note" : "tickets.add_comment");
  });
  box.append(
    el("header", { class: "tk-view-head", dataset: { part: "head" } }),
    el(
      "div",
      { class: "tk-view-grid" },
      el(
        "div",
        { class: "tk-main" },
        el("section", { class: "card tk-desc", "aria-label": t("tickets.description"), dataset: { part: "body" } }),
        el("section", { class: "card tk-files-card", "aria-labelledby": "tk-files-h", hidden: true, dataset: { part: "files" } }),
        el(
          "section",
          { class: "card tk-comments-card", "aria-labelledby": "tk-comments-h" },
          el("h3", { id: "tk-comments-h", text: t("tickets.comments") }),
          el("ol", { class: "tk-comments", id: "tk-comments", "aria-label": t("tickets.comments") }),
          composer,
        ),
      ),
      el(
        "aside",
        { class: "tk-side" },
        el("section", { class: "card tk-fields-card", "aria-label": t("tickets.fields_aria"), dataset: { part: "fields" } }),
        el("section", { class: "card tk-sla-card", id: "tk-sla", "aria-labelledby": "tk-sla-h", dataset: { part: "sla" } }),
        el(
          "section",
          { class: "card tk-history-card", "aria-labelledby": "tk-history-h" },
          el("h3", { id: "tk-history-h", text: t("tickets.history") }),
          el("ol", { class: "tk-history", id: "tk-history", "aria-label": t("tickets.history") }),
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
  renderFiles();
  renderSla(ticket);
  renderComments();
  renderHistory();
  const closed = ticket.status === "closed";
  const composer = $("#tk-comment-form");
  for (const control of composer.elements) control.disabled = closed;
  composer.classList.toggle("closed", closed);
  if (closed) composer.elements.body.placeholder = t("tickets.closed_no_comments");
}

function renderHead(ticket) {
  const head = part("head");
  clear(head);
  head.append(backButton());
  if (!ticket) {
    head.append(el("div", { class: "tk-title" }, el("h2", { text: t("tickets.ticket_title", { id: tk.view.id }) }), el("p", { class: "sub", text: t("common.loading") })));
    return;
  }
  const bits = [
    `#${ticket.id}`,
    t("tickets.via", { channel: codeText("tickets.channel_", ticket.channel) }),
    t("tickets.created_when", { when: dateTime(ticket.created_at) }),
  ];
  if (ticket.updated_at !== ticket.created_at) bits.push(t("tickets.updated_when", { when: dateTime(ticket.updated_at) }));
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
  box.append(el("h3", { text: t("tickets.description") }), el("p", { class: "tk-body", text: ticket.body }));
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
  if (comment) loadFiles(item.id, mine); // a mail reply may bring files
  await reloadHistory(item.id, mine); // on failure the next change or a reload brings it
}

/** "Updated by Bob: status, priority", read out by screen readers (aria-live). */
function liveNote(frame) {
  const fields = Object.keys(frame.changes || {}).map((name) => (FIELD_NAMES[name] ? t(FIELD_NAMES[name]) : name.replace(/_/g, " ")));
  if (frame.comment) fields.unshift(t(frame.comment.internal ? "tickets.live_internal_note" : "tickets.live_reply"));
  const who = actorName(frame.actor);
  tk.view.live = fields.length ? t("tickets.live_updated_fields", { who, fields: fields.join(t("common.list_sep")) }) : t("tickets.live_updated", { who });
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
    loadFiles(id, mine);
  } catch {
    /* the next tick tries again */
  }
}
