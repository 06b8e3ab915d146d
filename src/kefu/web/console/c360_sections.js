// The Customer 360 panel's parts: one badge per source saying how fresh its part is, the
// profile, and the orders, tickets and calls sections, plus how their values read
// (money, dates, durations). Pure rendering: customer360.js decides what to show.
//
// Everything from a source is untrusted text: it goes in through el()/textContent only.

import { el } from "./dom.js";

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
  const took = ms === null ? "" : ms < 1 ? "<1 ms" : `${Math.round(ms)} ms`;
  const fetched = s.fetched_at ? ` Fetched ${dateTime(s.fetched_at)}.` : "";
  switch (s.status) {
    case "ok":
      return [`${name} · live${took ? ` ${took}` : ""}`, `${name}: answered live${took ? ` in ${took}` : ""}.${fetched}`];
    case "cached":
      return [
        `${name} · cached${s.fetched_at ? ` ${ago(s.fetched_at)}` : ""}`,
        `${name}: served from kefu's cache.${fetched} Refresh to ask the system again.`,
      ];
    case "timeout":
      return [`${name} · timed out`, `${name}: no answer within the deadline${took ? ` (${took})` : ""}; everything else is shown.`];
    case "circuit_open":
      return [`${name} · unavailable`, `${name}: failing repeatedly, so kefu is not asking it for a while (circuit open); everything else is shown.`];
    default:
      return [`${name} · unavailable`, `${name}: could not be reached, or answered with an error; everything else is shown.`];
  }
}

/** `failing`: the names of the systems feeding this part that did not answer (none: []). */
export function profile(customer, failing, key) {
  const box = el("div", { class: "c360-profile" });
  if (!customer.name && !customer.email && !customer.phone) {
    box.append(
      el("p", {
        class: "c360-empty",
        text: failing.length ? `No profile for ${key}: ${listed(failing)} did not answer.` : `No profile found for ${key}.`,
      }),
    );
    return box;
  }
  box.append(
    el(
      "div",
      { class: "c360-who" },
      el("strong", { class: "c360-name", text: customer.name || key }),
      customer.tier ? el("span", { class: `tier tier-${slug(customer.tier)}`, title: "Tier", text: customer.tier }) : null,
    ),
    el("div", { class: "c360-key", text: customer.key || key }),
  );
  const facts = el("dl", { class: "facts c360-facts" });
  const tags = (customer.tags || []).filter(Boolean);
  const rows = [
    ["Email", customer.email],
    ["Phone", customer.phone],
    ["Company", customer.company],
    ["Locale", customer.locale],
    ["Tags", tags.length ? el("span", { class: "tags" }, tags.map((t) => el("span", { class: "tag", text: t }))) : null],
    ["Since", customer.customer_since ? day(customer.customer_since) : null],
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
  return el("p", { class: "c360-empty", text: failing.length ? `No ${what} found: ${listed(failing)} did not answer.` : `No ${what}.` });
}

function listed(names) {
  return names.length > 1 ? `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}` : names[0];
}

/** `action(order)` may answer a button for the order's row (the 360's "Refund"), or null. */
export function ordersSection(orders, failing, showAll, toggle, action = () => null) {
  if (!orders.length) return section("orders", "Orders", 0, emptyText("orders", failing));
  const sorted = [...orders].sort((a, b) => String(b.created_at || "").localeCompare(String(a.created_at || "")));
  const shown = showAll ? sorted : sorted.slice(0, ORDERS_SHOWN);
  const list = el(
    "ul",
    { class: "c360-list" },
    shown.map((o) =>
      el(
        "li",
        { class: "c360-row", dataset: { order: o.id } },
        el("div", { class: "c360-line" }, el("span", { class: "c360-id", text: o.id }), chip(o.status)),
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
          text: showAll ? "Show fewer" : `Show all ${sorted.length} orders`,
          onclick: toggle,
        })
      : null;
  return section("orders", "Orders", orders.length, list, more);
}

function orderActions(button) {
  return button ? el("div", { class: "c360-line c360-row-actions" }, button) : null;
}

export function ticketsSection(tickets, failing) {
  if (!tickets.length) return section("tickets", "Tickets", 0, emptyText("tickets", failing));
  const list = el(
    "ul",
    { class: "c360-list" },
    tickets.map((t) =>
      el(
        "li",
        { class: "c360-row", dataset: { ticket: t.id } },
        el("div", { class: "c360-line" }, el("span", { class: "c360-id", text: t.id }), el("span", { class: "chips" }, chip(t.priority, "prio"), chip(t.status))),
        el("div", { class: "c360-subject", text: t.subject || "(no subject)" }),
      ),
    ),
  );
  return section("tickets", "Tickets", tickets.length, list);
}

export function callsSection(calls, failing) {
  if (!calls.length) return section("calls", "Calls", 0, emptyText("calls", failing));
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
          chip(c.outcome),
        ),
        el(
          "div",
          { class: "c360-line muted" },
          el("span", { text: [c.direction, c.agent].filter(Boolean).join(" · ") }),
          el("span", { title: "Duration", text: duration(c.duration_seconds) }),
        ),
        c.notes ? el("p", { class: "c360-notes", text: c.notes }) : null,
      ),
    ),
  );
  return section("calls", "Calls", calls.length, list);
}

function chip(value, kind = "st") {
  if (!value) return null;
  return el("span", { class: `st ${kind}-${slug(value)}`, text: String(value).replace(/_/g, " ") });
}

// ---- formatting ------------------------------------------------------------------

function slug(value) {
  return String(value).toLowerCase().replace(/[^a-z0-9]+/g, "-");
}

function money(total, currency) {
  const n = Number(total);
  if (total === undefined || total === null || total === "" || Number.isNaN(n)) return [total, currency].filter(Boolean).join(" ");
  const amount = n.toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  return currency ? `${amount} ${currency}` : amount;
}

function day(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toLocaleDateString([], { year: "numeric", month: "short", day: "numeric" });
}

function dateTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return `${day(iso)} ${d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}`;
}

/** 811 -> "13:31"; an hour or more -> "1:02:03". */
function duration(seconds) {
  const total = Math.max(0, Math.round(Number(seconds) || 0));
  const s = String(total % 60).padStart(2, "0");
  const m = Math.floor(total / 60);
  if (m < 60) return `${m}:${s}`;
  return `${Math.floor(m / 60)}:${String(m % 60).padStart(2, "0")}:${s}`;
}

function ago(iso) {
  const seconds = Math.round((Date.now() - Date.parse(iso)) / 1000);
  if (Number.isNaN(seconds)) return "";
  if (seconds < 10) return "just now";
  if (seconds < 60) return `${seconds} s ago`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  return `on ${day(iso)}`;
}
