// The Customer 360 panel's parts: one badge per source saying how fresh its part is, the
// profile, and the orders, tickets and calls sections, plus how their values read
// (money, dates, durations). Pure rendering: customer360.js decides what to show.
//
// Everything from a source is untrusted text: it goes in through el()/textContent only.

import { el } from "./dom.js";
import { fmtDate, fmtDateTime, fmtList, fmtMoney, fmtNumber, fmtRelative, t, tn } from "./i18n.js";
import { codeText } from "./why.js";

const ORDERS_SHOWN = 5;
const SOURCE_STATES = {
  ok: "ok",
  cached: "cached",
  timeout: "timeout",
  error: "error",
  circuit_open: "error",
};

export function sourceBadges(map) {
  return Object.keys(map)
    .sort()
    .map((name) => {
      const s = map[name] || {};
      const status = SOURCE_STATES[s.status] || "error";
      const [text, title] = describeSource(name, s);
      return el("span", { class: `src-badge ${status}`, title, dataset: { source: name, status: s.status || "error" }, text });
    });
}

export function describeSource(name, s) {
  const ms = typeof s.latency_ms === "number" ? s.latency_ms : null;
  const took = ms === null ? "" : ms < 1 ? t("c360.ms_under") : t("c360.ms", { ms: fmtNumber(Math.round(ms)) });
  const fetched = (text) => (s.fetched_at ? t("c360.src_fetched", { text, when: dateTime(s.fetched_at) }) : text);
  switch (s.status) {
    case "ok":
      return took
        ? [t("c360.src_live_took", { name, took }), fetched(t("c360.src_live_took_title", { name, took }))]
        : [t("c360.src_live", { name }), fetched(t("c360.src_live_title", { name }))];
    case "cached":
      return [
        s.fetched_at ? t("c360.src_cached_ago", { name, ago: ago(s.fetched_at) }) : t("c360.src_cached", { name }),
        s.fetched_at ? t("c360.src_cached_at_title", { name, when: dateTime(s.fetched_at) }) : t("c360.src_cached_title", { name }),
      ];
    case "timeout":
      return [t("c360.src_timeout", { name }), took ? t("c360.src_timeout_took_title", { name, took }) : t("c360.src_timeout_title", { name })];
    case "circuit_open":
      return [t("c360.src_unavailable", { name }), t("c360.src_circuit_title", { name })];
    default:
      return [t("c360.src_unavailable", { name }), t("c360.src_error_title", { name })];
  }
}

/** `failing`: the names of the systems feeding this part that did not answer (none: []). */
export function profile(customer, failing, key) {
  const box = el("div", { class: "c360-profile" });
  if (!customer.name && !customer.email && !customer.phone) {
    box.append(
      el("p", {
        class: "c360-empty",
        text: failing.length ? t("c360.no_profile_failing", { key, systems: fmtList(failing) }) : t("c360.no_profile", { key }),
      }),
    );
    return box;
  }
  box.append(
    el(
      "div",
      { class: "c360-who" },
      el("strong", { class: "c360-name", text: customer.name || key }),
      customer.tier ? el("span", { class: `tier tier-${slug(customer.tier)}`, title: t("c360.tier"), text: codeText("c360.tier_", customer.tier) }) : null,
    ),
    el("div", { class: "c360-key", text: customer.key || key }),
  );
  const facts = el("dl", { class: "facts c360-facts" });
  const tags = (customer.tags || []).filter(Boolean);
  const rows = [
    [t("c360.email"), customer.email],
    [t("c360.phone"), customer.phone],
    [t("c360.company"), customer.company],
    [t("c360.locale"), customer.locale],
    [t("c360.tags"), tags.length ? el("span", { class: "tags" }, tags.map((t) => el("span", { class: "tag", text: t }))) : null],
    [t("c360.since"), customer.customer_since ? day(customer.customer_since) : null],
  ];
  for (const [label, value] of rows) {
    if (value === null || value === undefined || value === "") continue;
    facts.append(el("dt", { text: label }), el("dd", {}, value));
  }
  box.append(facts);
  return box;
}

function section(id, title, count, ...children) {
  return el(
    "section",
    { class: "c360-section", "aria-labelledby": `c360-${id}-h`, dataset: { section: id } },
    el("h4", { id: `c360-${id}-h` }, el("span", { text: title }), count ? el("span", { class: "count", text: String(count) }) : null),
    ...children,
  );
}

function emptyText(what, failing) {
  return el("p", { class: "c360-empty", text: failing.length ? t(`c360.no_${what}_failing`, { systems: fmtList(failing) }) : t(`c360.no_${what}`) });
}

/** `action(order)` may answer a button for the order's row (the 360's "Refund"), or null. */
export function ordersSection(orders, failing, showAll, toggle, action = () => null) {
  if (!orders.length) return section("orders", t("c360.orders"), 0, emptyText("orders", failing));
  const sorted = [...orders].sort((a, b) => String(b.created_at || "").localeCompare(String(a.created_at || "")));
  const shown = showAll ? sorted : sorted.slice(0, ORDERS_SHOWN);
  const list = el(
    "ul",
    { class: "c360-list" },
    shown.map((o) =>
      el(
        "li",
        { class: "c360-row", dataset: { order: o.id } },
        el("div", { class: "c360-line" }, el("span", { class: "c360-id", text: o.id }), chip(o.status, "st", "c360.order_")),
        el("div", { class: "c360-line muted" }, el("span", { text: money(o.total, o.currency) }), el("span", { text: o.created_at ? day(o.created_at) : "" })),
        orderActions(action(o)),
      ),
    ),
  );
  const more =
    sorted.length > ORDERS_SHOWN
      ? el("button", {
          type: "button",
          class: "link-btn",
          text: showAll ? t("c360.show_fewer") : tn("c360.show_all_orders", sorted.length),
          onclick: toggle,
        })
      : null;
  return section("orders", t("c360.orders"), orders.length, list, more);
}

function orderActions(button) {
  return button ? el("div", { class: "c360-line c360-row-actions" }, button) : null;
}

export function ticketsSection(tickets, failing) {
  if (!tickets.length) return section("tickets", t("c360.tickets"), 0, emptyText("tickets", failing));
  const list = el(
    "ul",
    { class: "c360-list" },
    tickets.map((ticket) =>
      el(
        "li",
        { class: "c360-row", dataset: { ticket: ticket.id } },
        el("div", { class: "c360-line" }, el("span", { class: "c360-id", text: ticket.id }), el("span", { class: "chips" }, chip(ticket.priority, "prio", "tickets.priority_"), chip(ticket.status, "st", "tickets.status_"))),
        el("div", { class: "c360-subject", text: ticket.subject || t("c360.no_subject") }),
      ),
    ),
  );
  return section("tickets", t("c360.tickets"), tickets.length, list);
}

export function callsSection(calls, failing) {
  if (!calls.length) return section("calls", t("c360.calls"), 0, emptyText("calls", failing));
  const sorted = [...calls].sort((a, b) => String(b.started_at || "").localeCompare(String(a.started_at || "")));
  const list = el(
    "ul",
    { class: "c360-list" },
    sorted.map((c) =>
      el(
        "li",
        { class: "c360-row", dataset: { call: c.id } },
        el(
          "div",
          { class: "c360-line" },
          el("span", { class: "c360-id", text: c.started_at ? dateTime(c.started_at) : c.id }),
          chip(c.outcome, "st", "c360.call_"),
        ),
        el(
          "div",
          { class: "c360-line muted" },
          el("span", { text: [codeText("c360.call_", c.direction), c.agent].filter(Boolean).join(" · ") }),
          el("span", { title: t("c360.duration"), text: duration(c.duration_seconds) }),
        ),
        c.notes ? el("p", { class: "c360-notes", text: c.notes }) : null,
      ),
    ),
  );
  return section("calls", t("c360.calls"), calls.length, list);
}

/** A status from a department system, in the catalog's words when it knows the code. */
function chip(value, kind, prefix) {
  if (!value) return null;
  return el("span", { class: `st ${kind}-${slug(value)}`, text: codeText(prefix, value).replace(/_/g, " ") });
}

// ---- formatting ------------------------------------------------------------------

function slug(value) {
  return String(value).toLowerCase().replace(/[^a-z0-9]+/g, "-");
}

function money(total, currency) {
  const n = Number(total);
  if (total === undefined || total === null || total === "" || Number.isNaN(n)) return [total, currency].filter(Boolean).join(" ");
  return currency ? fmtMoney(n, currency) : fmtNumber(n);
}

function day(iso) {
  return fmtDate(iso) || String(iso);
}

function dateTime(iso) {
  return fmtDateTime(iso) || String(iso);
}

/** 811 -> "13:31"; an hour or more -> "1:02:03". */
function duration(seconds) {
  const total = Math.max(0, Math.round(Number(seconds) || 0));
  const s = String(total % 60).padStart(2, "0");
  const m = Math.floor(total / 60);
  if (m < 60) return `${m}:${s}`;
  return `${Math.floor(m / 60)}:${String(m % 60).padStart(2, "0")}:${s}`;
}

/** "just now", else "3 minutes ago" in the agent's language. */
function ago(iso) {
  const seconds = Math.round((Date.now() - Date.parse(iso)) / 1000);
  if (Number.isNaN(seconds)) return "";
  if (seconds < 45) return t("c360.just_now");
  return fmtRelative(iso);
}
