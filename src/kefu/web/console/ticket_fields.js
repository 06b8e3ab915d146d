// The open ticket's fields card: status, priority, assignee and queue (each saved on
// change, a refused move explained), the customer with a compact 360 on demand, and the
// conversation the ticket came from.
//
// Customer details come from department systems: untrusted text, el()/textContent only.

import { customer360, updateTicket } from "./api.js";
import { $, clear, el } from "./dom.js";
import { t, tn } from "./i18n.js";
import { state } from "./state.js";
import { newer, part, priorityText, statusText, teamMembers, tk } from "./ticket_common.js";
import { remember } from "./ticket_list.js";
import { reloadHistory } from "./ticket_thread.js";
import { codeText, typed, why } from "./why.js";

const STATUSES = ["new", "open", "pending", "solved", "closed"];
const PRIORITIES = ["low", "normal", "high", "urgent"];

export function renderFields(ticket) {
  const box = part("fields");
  clear(box);
  const closed = ticket.status === "closed";
  const status = el(
    "select",
    { id: "tk-status", class: "select", disabled: closed, onchange: (e) => change("status", e.target.value, e.target) },
    STATUSES.map((s) => el("option", { value: s, selected: s === ticket.status, text: statusText(s) })),
  );
  const priority = el(
    "select",
    { id: "tk-priority", class: "select", disabled: closed, onchange: (e) => change("priority", e.target.value, e.target) },
    PRIORITIES.map((p) => el("option", { value: p, selected: p === ticket.priority, text: priorityText(p) })),
  );
  const members = teamMembers();
  const assignee = el(
    "select",
    { id: "tk-assignee", class: "select", disabled: closed, onchange: (e) => change("assignee_id", e.target.value || null, e.target) },
    el("option", { value: "", text: t("tickets.unassigned") }),
    members.map((a) => el("option", { value: a.id, text: a.id === state.me.id ? t("tickets.name_you", { name: a.name }) : a.name })),
    ticket.assignee_id && !members.some((a) => a.id === ticket.assignee_id) ? el("option", { value: ticket.assignee_id, text: t("tickets.unknown_agent") }) : null,
  );
  assignee.value = ticket.assignee_id || "";
  const queue = el("input", {
    id: "tk-queue",
    value: ticket.queue || "",
    placeholder: t("tickets.none"),
    maxlength: "40",
    autocomplete: "off",
    spellcheck: "false",
    disabled: closed,
  });
  const saveQueue = () => {
    const value = typed(queue.value).toLowerCase();
    if (value === (tk.view.ticket.queue || "")) return;
    change("queue", value || null, queue);
  };
  queue.addEventListener("change", saveQueue);
  queue.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.isComposing) { // Enter picks an IME candidate first
      event.preventDefault();
      saveQueue();
    }
  });
  const facts = el("dl", { class: "facts tk-facts" });
  facts.append(el("dt", { text: t("tickets.customer") }), el("dd", {}, customerLink(ticket)));
  if (ticket.conversation_id) {
    facts.append(
      el("dt", { text: t("tickets.chat") }),
      el("dd", {}, el("button", { type: "button", class: "link-btn", text: t("tickets.open_conversation"), onclick: () => tk.hooks.openConversation(ticket.conversation_id) })),
    );
  }
  box.append(
    el(
      "div",
      { class: "tk-field-grid" },
      el("label", { for: "tk-status", text: t("tickets.status") }), status,
      el("label", { for: "tk-priority", text: t("tickets.priority") }), priority,
      el("label", { for: "tk-assignee", text: t("tickets.assignee") }), assignee,
      el("label", { for: "tk-queue", text: t("tickets.queue") }), queue,
    ),
    el("p", { class: "form-error", role: "alert", id: "tk-field-error" }),
    facts,
  );
  const customer = customerPanel();
  if (customer) box.append(customer);
}

export function fieldError(text) {
  const box = $("#tk-field-error");
  if (box) box.textContent = text;
}

async function change(name, value, control) {
  const view = tk.view;
  if (!view || !view.ticket) return;
  const ticket = view.ticket;
  const before = ticket[name];
  const mine = tk.viewSeq;
  fieldError("");
  control.disabled = true;
  let changed;
  try {
    changed = await updateTicket(ticket.id, { [name]: value });
  } catch (err) {
    if (mine !== tk.viewSeq) return;
    control.value = before || "";
    control.disabled = false;
    fieldError(
      err.code === "illegal_transition" && name === "status"
        ? t("tickets.illegal_transition", { from: statusText(before), to: statusText(value) })
        : t("tickets.change_failed", { field: t(`tickets.field_${name === "assignee_id" ? "assignee" : name}`), error: why(err) }),
    );
    return;
  }
  if (mine !== tk.viewSeq) return;
  if (newer(view.ticket, changed)) view.ticket = { ...view.ticket, ...changed };
  remember(view.ticket);
  tk.actions.renderView();
  await reloadHistory(changed.id, mine, (err) => fieldError(t("tickets.history_failed", { error: why(err) })));
}

// ---- the customer: a compact 360 on demand ---------------------------------------------

function customerLink(ticket) {
  if (!ticket.customer_key) return el("span", { class: "muted", text: t("tickets.none") });
  const open = tk.view.customer.open && tk.view.customer.key === ticket.customer_key;
  return el(
    "span",
    { class: "tk-cust-links" },
    el("button", {
      type: "button",
      class: "link-btn tk-cust-key",
      "aria-expanded": String(open),
      "aria-controls": "tk-customer",
      title: t("tickets.show_360"),
      text: ticket.customer_key,
      onclick: () => toggleCustomer(ticket.customer_key),
    }),
    el("button", { type: "button", class: "link-btn muted-link", text: t("tickets.all_tickets"), onclick: () => tk.actions.showCustomerTickets(ticket.customer_key) }),
  );
}

async function toggleCustomer(key) {
  const view = tk.view;
  const c = view.customer;
  if (c.open && c.key === key) {
    view.customer = { open: false };
    renderFields(view.ticket);
    return;
  }
  const mine = tk.viewSeq;
  view.customer = { open: true, key, loading: true };
  renderFields(view.ticket);
  try {
    const data = await customer360(key);
    if (mine !== tk.viewSeq || view.customer.key !== key) return;
    view.customer = { open: true, key, data };
  } catch (err) {
    if (mine !== tk.viewSeq || view.customer.key !== key) return;
    view.customer = { open: true, key, error: err };
  }
  renderFields(view.ticket);
}

function customerPanel() {
  const c = tk.view.customer;
  if (!c.open) return null;
  const box = el("div", { id: "tk-customer", class: "tk-customer-card", "aria-live": "polite" });
  if (c.loading) {
    box.append(el("p", { class: "c360-loading", text: t("tickets.loading_key", { key: c.key }) }));
    return box;
  }
  if (c.error) {
    box.append(el("p", { class: "c360-inline-error", text: t("tickets.customer_failed", { error: why(c.error) }) }));
    return box;
  }
  const data = c.data || {};
  const who = data.customer || {};
  if (!who.name && !who.email && !who.phone) {
    box.append(el("p", { class: "c360-empty", text: t("tickets.no_profile", { key: c.key }) }));
  } else {
    box.append(
      el(
        "div",
        { class: "c360-who" },
        el("strong", { class: "c360-name", text: who.name || c.key }),
        who.tier ? el("span", { class: `tier tier-${String(who.tier).toLowerCase().replace(/[^a-z0-9]+/g, "-")}`, text: codeText("c360.tier_", who.tier) }) : null,
      ),
    );
    const facts = el("dl", { class: "facts c360-facts" });
    for (const [label, value] of [[t("c360.email"), who.email], [t("c360.phone"), who.phone], [t("c360.company"), who.company]]) {
      if (value) facts.append(el("dt", { text: label }), el("dd", { text: value }));
    }
    box.append(facts);
  }
  const counts = [["orders", data.orders], ["tickets", data.tickets], ["calls", data.calls]]
    .filter(([, items]) => Array.isArray(items))
    .map(([name, items]) => tn(`tickets.count_${name}`, items.length));
  if (counts.length) box.append(el("p", { class: "c360-via", text: counts.join(" · ") }));
  return box;
}
