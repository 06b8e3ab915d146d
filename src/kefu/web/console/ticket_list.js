// The Tickets list: filters, newest first with "load more", one row per ticket with its
// SLA badge. Live frames and REST answers merge into it (applyToList, remember) without
// a reload. Shapes: docs/rest.md "Tickets".

import { listTickets } from "./api.js";
import { $, clear, el } from "./dom.js";
import { t } from "./i18n.js";
import { state } from "./state.js";
import {
  FILTER_KEYS, assigneeName, matches, newer, priorityBadge, statusBadge, teamMembers, tk,
} from "./ticket_common.js";
import { slaChip } from "./ticket_sla.js";
import { typed, why } from "./why.js";

const PAGE = 50;

export function readFilters() {
  const form = $("#tk-filters");
  for (const name of FILTER_KEYS) tk.filters[name] = typed(form.elements[name].value);
}

export function writeFilters() {
  const form = $("#tk-filters");
  for (const name of FILTER_KEYS) form.elements[name].value = tk.filters[name];
}

export function fillAssigneeFilter() {
  const select = $("#tk-filters").elements.assignee;
  const chosen = tk.filters.assignee;
  clear(select);
  select.append(el("option", { value: "", text: t("tickets.anyone") }), el("option", { value: "me", text: t("tickets.me") }));
  for (const agent of teamMembers()) {
    if (agent.id === state.me.id) continue;
    select.append(el("option", { value: agent.id, text: agent.name }));
  }
  select.value = chosen;
  if (select.value !== chosen) tk.filters.assignee = select.value;
}

export async function reloadList() {
  const list = tk.list;
  const mine = ++list.seq;
  list.loading = true;
  list.heard = new Map(); // tickets frames told of while the page is on its way
  listError("");
  $("#tk-list-pane").setAttribute("aria-busy", "true");
  try {
    const page = await listTickets(tk.filters, null, PAGE);
    if (mine !== list.seq) return;
    list.items = withHeard(page.items, page.next, list.heard);
    list.next = page.next;
  } catch (err) {
    if (mine !== list.seq) return;
    listError(t("tickets.load_failed", { error: why(err) }));
  } finally {
    if (mine === list.seq) {
      list.loading = false;
      $("#tk-list-pane").setAttribute("aria-busy", "false");
    }
  }
  renderList();
}

/**
 * The page, with what frames said while it was on its way: it was read before them, so a
 * ticket a frame changed meanwhile keeps the frame's newer state (and leaves the page if
 * it no longer matches the filters), and one created meanwhile joins it as a frame would.
 */
function withHeard(items, next, heard) {
  if (!heard.size) return items;
  const shown = (t) => matches(t) || (tk.view && tk.view.id === t.id);
  const last = items[items.length - 1];
  const byId = new Map(items.map((t) => [t.id, t]));
  for (const [id, item] of heard) {
    const known = byId.get(id);
    if (known) {
      if (!newer(known, item)) continue;
      const merged = { ...known, ...item };
      if (shown(merged)) byId.set(id, merged);
      else byId.delete(id);
    } else if (matches(item) && (!next || !last || Number(id) > Number(last.id))) {
      byId.set(id, item);
    }
  }
  return [...byId.values()].sort((a, b) => Number(b.id) - Number(a.id));
}

export async function loadMore() {
  const list = tk.list;
  if (!list.next || list.loading) return;
  const mine = list.seq;
  const button = $("#tk-more");
  button.disabled = true;
  listError("");
  try {
    const page = await listTickets(tk.filters, list.next, PAGE);
    if (mine !== list.seq) return;
    const seen = new Set(list.items.map((t) => t.id));
    list.items.push(...page.items.filter((t) => !seen.has(t.id)));
    list.next = page.next;
    renderList();
  } catch (err) {
    listError(t("tickets.more_failed", { error: why(err) }));
  } finally {
    button.disabled = false;
  }
}

function listError(text) {
  $("#tk-list-error").textContent = text;
}

export function renderList() {
  const box = $("#tk-list");
  clear(box);
  for (const ticket of tk.list.items) box.append(el("li", {}, row(ticket)));
  const filtered = FILTER_KEYS.some((key) => tk.filters[key]);
  $("#tk-empty").hidden = tk.list.items.length > 0 || tk.list.loading;
  $("#tk-empty").textContent = t(filtered ? "tickets.empty_filtered" : "tickets.empty");
  $("#tk-more").hidden = !tk.list.next;
}

function row(ticket) {
  const selected = tk.view && tk.view.id === ticket.id;
  return el(
    "button",
    {
      type: "button",
      class: `tk-row${selected ? " selected" : ""}`,
      "aria-current": selected ? "true" : null,
      dataset: { id: ticket.id },
      onclick: () => tk.actions.openTicket(ticket),
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
      ticket.customer_key ? el("span", { class: "tk-customer", title: t("tickets.customer"), text: ticket.customer_key }) : null,
      ticket.queue ? el("span", { class: "tk-queue", title: t("tickets.queue"), dataset: { label: t("tickets.field_queue") }, text: ticket.queue }) : null,
    ),
  );
}

/** A frame's ticket: updated in place, added when it matches the filters, or dropped. */
export function applyToList(item) {
  const list = tk.list;
  const view = tk.view;
  if (list.loading && list.heard && newer(list.heard.get(item.id), item)) list.heard.set(item.id, item);
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

function flashRow(id) {
  const node = $(`#tk-list .tk-row[data-id="${CSS.escape(id)}"]`);
  if (!node) return;
  node.classList.remove("tk-flash");
  void node.offsetWidth; // restart the animation
  node.classList.add("tk-flash");
}

/** A ticket answer replaces what the list knew about it, unless a frame brought newer. */
export function remember(ticket) {
  const list = tk.list;
  const index = list.items.findIndex((t) => t.id === ticket.id);
  if (index >= 0 && newer(list.items[index], ticket)) list.items[index] = { ...list.items[index], ...ticket };
  renderList();
}
