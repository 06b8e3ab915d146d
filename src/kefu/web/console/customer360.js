// The Customer 360 block of the right-hand panel: who this customer is in the company's
// systems (profile, orders, tickets, calls), fetched live by kefu from every source, with
// one badge per source saying how fresh its part is. A conversation without a customer
// key (an anonymous visitor) gets a small search to find the customer and link them.
//
// Everything from a source is untrusted text: it goes in through el()/textContent only.

import { customer360, customerSources, linkCustomer, lookupCustomers } from "./api.js";
import { $, clear, el } from "./dom.js";
import { changed, upsert } from "./state.js";

const ORDERS_SHOWN = 5;
const LOOKUPS = [
  ["email", "Email", "name@example.com", "email"],
  ["phone", "Phone", "+86 138 0000 1001", "tel"],
  ["order", "Order number", "SO-100251", "text"],
];
const SOURCE_STATES = {
  ok: "ok",
  cached: "cached",
  timeout: "timeout",
  error: "error",
  circuit_open: "error",
};

// What the panel shows now. `seq` grows with every fetch and every switch of
// conversation: an answer that comes back for an older `seq` is dropped, so a slow
// response for a previously selected conversation never overwrites the current one.
let seq = 0;
let view = null; // {conversationId, key, linked, data, error, loading, showAllOrders}
let sourcesPromise = null;

/** The configured sources, once per page: which lookups exist, or none at all. */
function sources() {
  if (!sourcesPromise) {
    sourcesPromise = customerSources().catch(() => {
      sourcesPromise = null; // try again next time
      return null; // unknown: assume the 360 is there
    });
  }
  return sourcesPromise;
}

/** Called whenever a conversation is selected (or its summary changed). */
export function showCustomer(item) {
  const key = item.customer_key || null;
  const linked = !!item.customer_linked;
  if (view && view.conversationId === item.id && view.key === key && (view.data || view.loading)) {
    view.linked = linked;
    render();
    return;
  }
  const mine = ++seq;
  view = { conversationId: item.id, key, linked, data: null, error: null, loading: !!key, showAllOrders: false };
  view.find = { by: "email", value: (item.visitor && item.visitor.email) || "", results: null, error: null, busy: false };
  render();
  sources().then((list) => {
    if (mine !== seq) return;
    view.sources = list;
    if (list && list.length === 0) {
      view.loading = false;
      render();
      return;
    }
    if (key) load(false);
    else render();
  });
}

async function load(refresh) {
  const mine = ++seq;
  const { key } = view;
  view.loading = true;
  view.error = null;
  render();
  try {
    const data = await customer360(key, { refresh });
    if (mine !== seq) return;
    view.data = data;
  } catch (err) {
    if (mine !== seq) return;
    view.error = err;
  }
  view.loading = false;
  render();
}

// ---- rendering -------------------------------------------------------------------

function render() {
  const box = $("#customer-360");
  if (!box || !view) return;
  const body = $("#c360-body", box);
  const badges = $("#c360-sources", box);
  const actions = $("#c360-actions", box);
  clear(body);
  clear(badges);
  clear(actions);
  const none = view.sources && view.sources.length === 0;
  box.classList.toggle("placeholder", !!none);
  box.classList.toggle("loading", view.loading);
  box.setAttribute("aria-busy", String(view.loading));
  if (none) {
    body.append(el("p", { class: "c360-note", text: "No company systems are connected: configure sources to see profile, orders, tickets and calls here." }));
    return;
  }
  if (!view.key) {
    body.append(findForm());
    return;
  }
  actions.append(
    el(
      "button",
      {
        type: "button",
        class: "icon-btn c360-refresh",
        "aria-label": "Refresh",
        title: "Fetch again from every system, bypassing the cache",
        disabled: view.loading,
        onclick: () => load(true),
      },
      refreshIcon(),
    ),
  );
  if (view.data) {
    for (const badge of sourceBadges(view.data.sources || {})) badges.append(badge);
  } else if (view.loading) {
    badges.append(el("span", { class: "src-badge pending", text: "fetching…" }));
  }
  if (view.error) {
    body.append(
      el(
        "div",
        { class: "c360-error", role: "alert" },
        el("span", { text: `Could not load the customer: ${view.error.message}` }),
        el("button", { type: "button", class: "btn small", text: "Try again", onclick: () => load(false) }),
      ),
    );
  }
  if (!view.data) {
    if (view.loading) body.append(skeleton());
    body.append(via());
    return;
  }
  const data = view.data;
  const degraded = Object.values(data.sources || {}).some((s) => !["ok", "cached"].includes(s.status));
  body.append(profile(data.customer || {}, degraded), via());
  body.append(ordersSection(data.orders || [], degraded));
  body.append(ticketsSection(data.tickets || [], degraded));
  body.append(callsSection(data.calls || [], degraded));
}

function refreshIcon() {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", "M21 12a9 9 0 1 1-2.64-6.36M21 3v6h-6");
  svg.append(path);
  return svg;
}

function skeleton() {
  return el(
    "div",
    { class: "c360-skeleton", "aria-label": `Loading customer ${view.key}` },
    el("span", { class: "c360-loading", text: `Loading ${view.key}…` }),
    el("div", { class: "bone wide" }),
    el("div", { class: "bone" }),
    el("div", { class: "bone" }),
  );
}

/** How this conversation got its customer: a verified identity, or an agent's link. */
function via() {
  if (!view.linked) {
    return el("p", { class: "c360-via", text: "✓ Verified identity of the visitor" });
  }
  return el(
    "p",
    { class: "c360-via" },
    el("span", { text: "Linked by an agent · " }),
    el("button", {
      type: "button",
      class: "link-btn",
      text: "Unlink",
      title: `Unlink this conversation from ${view.key}`,
      onclick: (event) => link(null, event.currentTarget),
    }),
    el("span", { class: "c360-inline-error", role: "alert", dataset: { error: "unlink" } }),
  );
}

function sourceBadges(map) {
  return Object.keys(map)
    .sort()
    .map((name) => {
      const s = map[name] || {};
      const status = SOURCE_STATES[s.status] || "error";
      const [text, title] = describeSource(name, s);
      return el("span", { class: `src-badge ${status}`, title, dataset: { source: name, status: s.status || "error" }, text });
    });
}

function describeSource(name, s) {
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
      return [`${name} · unavailable`, `${name}: the system answered with an error; everything else is shown.`];
  }
}

function profile(customer, degraded) {
  const box = el("div", { class: "c360-profile" });
  if (!customer.name && !customer.email && !customer.phone) {
    box.append(
      el("p", {
        class: "c360-empty",
        text: degraded ? `No profile for ${view.key}: a system did not answer.` : `No profile found for ${view.key}.`,
      }),
    );
    return box;
  }
  box.append(
    el(
      "div",
      { class: "c360-who" },
      el("strong", { class: "c360-name", text: customer.name || view.key }),
      customer.tier ? el("span", { class: `tier tier-${slug(customer.tier)}`, title: "Tier", text: customer.tier }) : null,
    ),
    el("div", { class: "c360-key", text: customer.key || view.key }),
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

function emptyText(what, degraded) {
  return el("p", { class: "c360-empty", text: degraded ? `No ${what} found (not every system answered).` : `No ${what}.` });
}

function ordersSection(orders, degraded) {
  if (!orders.length) return section("orders", "Orders", 0, emptyText("orders", degraded));
  const sorted = [...orders].sort((a, b) => String(b.created_at || "").localeCompare(String(a.created_at || "")));
  const shown = view.showAllOrders ? sorted : sorted.slice(0, ORDERS_SHOWN);
  const list = el(
    "ul",
    { class: "c360-list" },
    shown.map((o) =>
      el(
        "li",
        { class: "c360-row", dataset: { order: o.id } },
        el("div", { class: "c360-line" }, el("span", { class: "c360-id", text: o.id }), chip(o.status)),
        el("div", { class: "c360-line muted" }, el("span", { text: money(o.total, o.currency) }), el("span", { text: o.created_at ? day(o.created_at) : "" })),
      ),
    ),
  );
  const more =
    sorted.length > ORDERS_SHOWN
      ? el("button", {
          type: "button",
          class: "link-btn",
          text: view.showAllOrders ? "Show fewer" : `Show all ${sorted.length} orders`,
          onclick: () => {
            view.showAllOrders = !view.showAllOrders;
            render();
          },
        })
      : null;
  return section("orders", "Orders", orders.length, list, more);
}

function ticketsSection(tickets, degraded) {
  if (!tickets.length) return section("tickets", "Tickets", 0, emptyText("tickets", degraded));
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

function callsSection(calls, degraded) {
  if (!calls.length) return section("calls", "Calls", 0, emptyText("calls", degraded));
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

// ---- find and link ---------------------------------------------------------------

function findForm() {
  const find = view.find;
  const kinds = availableLookups();
  if (!kinds.length) {
    return el("p", { class: "c360-note", text: "Anonymous visitor. None of the connected systems can look customers up." });
  }
  if (!kinds.some(([by]) => by === find.by)) find.by = kinds[0][0];
  const current = kinds.find(([by]) => by === find.by);
  const select = el(
    "select",
    { id: "c360-by", class: "select", name: "by" },
    kinds.map(([by, label]) => el("option", { value: by, text: label, selected: by === find.by })),
  );
  const input = el("input", {
    id: "c360-value",
    name: "value",
    type: current[3],
    required: true,
    maxlength: "200",
    placeholder: current[2],
    autocomplete: "off",
  });
  input.value = find.value;
  select.addEventListener("change", () => {
    find.by = select.value;
    find.value = input.value;
    render();
    $("#c360-value").focus();
  });
  input.addEventListener("input", () => {
    find.value = input.value;
  });
  const form = el(
    "form",
    { class: "c360-find", role: "search", "aria-label": "Find customer", novalidate: true },
    el("p", { class: "c360-note", text: "Anonymous visitor: find the customer to see their 360." }),
    el("label", { for: "c360-by", class: "sr-only", text: "Search by" }),
    el("label", { for: "c360-value", class: "sr-only", text: "Search value" }),
    el(
      "div",
      { class: "c360-find-row" },
      select,
      input,
    ),
    el("button", { type: "submit", class: "btn small primary", disabled: find.busy, text: find.busy ? "Searching…" : "Search" }),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    search(select.value, input.value.trim());
  });
  const out = el("div", { class: "c360-results" });
  if (find.error) out.append(el("p", { class: "form-error", role: "alert", text: find.error }));
  if (find.results) {
    if (!find.results.length) {
      out.append(el("p", { class: "c360-empty", role: "status", text: "No customer found." }));
    } else {
      out.append(
        el(
          "ul",
          { class: "c360-list c360-candidates", "aria-label": "Matching customers" },
          find.results.map((c) =>
            el(
              "li",
              { class: "c360-row c360-candidate", dataset: { key: c.key } },
              el(
                "div",
                { class: "c360-cand-who" },
                el("strong", { text: c.name || c.key }),
                el("span", { class: "c360-key", text: `${c.key} · ${c.source}` }),
              ),
              el("button", {
                type: "button",
                class: "btn small",
                text: "Link",
                "aria-label": `Link ${c.name || c.key} (${c.key})`,
                onclick: (event) => link(c.key, event.currentTarget),
              }),
            ),
          ),
        ),
      );
    }
  }
  return el("div", {}, form, out);
}

function availableLookups() {
  if (!view.sources) return LOOKUPS; // unknown: offer everything, the server decides
  const offered = new Set(view.sources.flatMap((s) => s.lookup || []));
  return LOOKUPS.filter(([by]) => offered.has(by));
}

async function search(by, value) {
  const find = view.find;
  find.by = by;
  find.value = value;
  if (!value) {
    find.error = "Type what to search for.";
    find.results = null;
    render();
    $("#c360-value").focus();
    return;
  }
  const mine = seq;
  find.busy = true;
  find.error = null;
  render();
  try {
    const answer = await lookupCustomers(by, value);
    if (mine !== seq) return;
    find.results = answer.items || [];
  } catch (err) {
    if (mine !== seq) return;
    find.results = null;
    find.error = err.message;
  }
  find.busy = false;
  render();
}

/** Link the conversation to `key` (or unlink with null); the server answers its summary. */
async function link(key, button) {
  const conversationId = view.conversationId;
  const mine = seq;
  if (button) button.disabled = true;
  try {
    const summary = await linkCustomer(conversationId, key);
    const item = upsert(summary);
    changed();
    if (mine !== seq || !view || view.conversationId !== conversationId) return;
    showCustomer(item);
  } catch (err) {
    if (mine !== seq || !view || view.conversationId !== conversationId) return;
    if (button) button.disabled = false;
    if (key === null) {
      const slot = $("#customer-360 [data-error=unlink]");
      if (slot) slot.textContent = ` ${err.message}`;
    } else {
      view.find.error = `Could not link: ${err.message}`;
      render();
    }
  }
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

// "cached 2 min ago" keeps true while the panel stays open.
setInterval(() => {
  if (!view || !view.data || view.loading) return;
  for (const badge of document.querySelectorAll("#c360-sources .src-badge[data-status=cached]")) {
    const s = (view.data.sources || {})[badge.dataset.source];
    if (s) badge.textContent = describeSource(badge.dataset.source, s)[0];
  }
}, 30000);
