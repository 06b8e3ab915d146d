// What the Tickets modules share: the list and the ticket on screen, the filters, and
// the small pieces every view draws (badges, names, dates, icons).
//
// The pages are split by view (list, ticket, fields, comments and history, SLA, new
// form); they reach each other's entry points through `actions`, filled in by
// tickets.js, so no module imports one that imports it back.

import { $, el } from "./dom.js";
import { fmtDateTime, lang, t } from "./i18n.js";
import { state } from "./state.js";
import { codeText } from "./why.js";

export const FILTER_KEYS = ["status", "priority", "assignee", "queue", "customer_key"];

export const tk = {
  // app.js's: show a page, open a conversation.
  hooks: { showPage: () => {}, openConversation: () => {} },
  filters: Object.fromEntries(FILTER_KEYS.map((key) => [key, ""])),
  // The list: `seq` grows with every reload, so an answer for older filters is dropped.
  list: { items: [], next: null, seq: 0, loading: false },
  // The ticket on screen; `viewSeq` drops late answers for a ticket no longer shown.
  view: null, // {id, ticket, comments, history, seq, customer: {open, data, error, loading}, live}
  viewSeq: 0,
  // Set by tickets.js: openTicket, renderView, showCustomerTickets.
  actions: {},
};

export function newer(known, item) {
  // Frames can cross a REST answer in flight: an older state never replaces a newer one.
  return !known || !known.updated_at || Date.parse(item.updated_at) >= Date.parse(known.updated_at);
}

/** Does a ticket belong in the list under the current filters? */
export function matches(ticket) {
  const filters = tk.filters;
  const assignee = filters.assignee === "me" ? state.me.id : filters.assignee;
  return (
    (!filters.status || ticket.status === filters.status) &&
    (!filters.priority || ticket.priority === filters.priority) &&
    (!assignee || ticket.assignee_id === assignee) &&
    (!filters.queue || ticket.queue === filters.queue) &&
    (!filters.customer_key || ticket.customer_key === filters.customer_key)
  );
}

export function teamMembers() {
  return [...state.agents.values()].filter((a) => !a.disabled).sort(byName);
}

/** Agents by name in the agent's language (zh-CN: by pinyin, as a Chinese team expects). */
export function byName(a, b) {
  return a.name.localeCompare(b.name, lang());
}

export function assigneeName(id) {
  if (!id) return t("tickets.unassigned");
  const agent = state.agents.get(id);
  const name = agent ? agent.name : t("tickets.unknown_agent");
  return id === state.me.id ? t("tickets.name_you", { name }) : name;
}

export function actorName(actor) {
  if (!actor) return "kefu";
  const [kind, id] = [actor.slice(0, actor.indexOf(":")), actor.slice(actor.indexOf(":") + 1)];
  if (kind === "agent") return assigneeName(id);
  if (kind === "rule") return t("tickets.actor_rule", { id });
  if (kind === "machine") return t("tickets.actor_api", { id });
  return actor;
}

export function statusBadge(status) {
  return el("span", { class: `st st-${status}`, dataset: { status }, text: statusText(status) });
}

export function priorityBadge(priority) {
  return el("span", { class: `prio prio-${priority}`, dataset: { priority }, title: t("tickets.priority"), text: priorityText(priority) });
}

export function dateTime(iso) {
  return fmtDateTime(iso);
}

/** A ticket status ("open") or priority ("urgent") in the agent's language. */
export function statusText(status) {
  return codeText("tickets.status_", status);
}

export function priorityText(priority) {
  return codeText("tickets.priority_", priority);
}

export function svgIcon(d) {
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

/** A section of the open ticket's view (head, body, fields, sla). */
export function part(name) {
  return $(`#tk-view [data-part=${name}]`);
}
