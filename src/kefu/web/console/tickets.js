// The Tickets pages: a filtered list (newest first, "load more") with an SLA badge per
// ticket, the ticket view (fields, customer, description, comments and internal notes,
// history, SLA targets), and the "New ticket" form. Shapes: docs/rest.md "Tickets".
// Both stay live: `ticket.created` / `ticket.updated` frames (docs/protocol.md) update the
// list and the open ticket without a reload.
//
// This module is the pages' entry point for app.js, chat.js and notifications.js; each
// view lives in its own ticket_*.js module (ticket_common.js says how they connect).

import { $, $$ } from "./dom.js";
import { t } from "./i18n.js";
import { announce } from "./notify.js";
import { state } from "./state.js";
import { FILTER_KEYS, tk } from "./ticket_common.js";
import { applyToList, fillAssigneeFilter, loadMore, readFilters, reloadList, writeFilters } from "./ticket_list.js";
import { paintSla } from "./ticket_sla.js";
import { applyToView, openTicket, refreshView, renderView, showNewForm, showPane, submitNew, toldOf } from "./ticket_view.js";

export { openTicket };

// The badges' countdowns move on every 30 s: a minute is their resolution.
const SLA_TICK_MS = 30000;
let reloadTimer = null;

export function initTickets(options) {
  tk.hooks = { ...tk.hooks, ...options };
  tk.actions = { openTicket, renderView, showCustomerTickets };
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
    tk.hooks.showPage("tickets");
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
    announce(t("tickets.assigned_to_you", { id: item.id }), item.subject, () => {
      tk.hooks.showPage("tickets");
      openTicket(item.id);
    });
  }
  applyToList(item);
  if (tk.view && tk.view.id === item.id) applyToView(item, frame);
}

/** The customer's tickets: the list filtered by their key. */
export function showCustomerTickets(key) {
  for (const name of FILTER_KEYS) tk.filters[name] = "";
  tk.filters.customer_key = key;
  writeFilters();
  tk.hooks.showPage("tickets");
  showPane("placeholder");
}

/** Every badge on screen moves on with the clock; a ticket this console is not told of
 * is read again. */
function tickSla() {
  const view = tk.view;
  const byId = new Map(tk.list.items.map((t) => [t.id, t]));
  if (view && view.ticket) byId.set(view.id, view.ticket);
  for (const node of $$(".sla[data-ticket]")) {
    const ticket = byId.get(node.dataset.ticket);
    if (ticket) paintSla(node, ticket);
  }
  if (view && view.ticket && !toldOf(view.ticket) && !$("#page-tickets").hidden) refreshView();
}
