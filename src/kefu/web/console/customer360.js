// The Customer 360 block of the right-hand panel: who this customer is in the company's
// systems (profile, orders, tickets, calls), fetched live by kefu from every source, with
// one badge per source saying how fresh its part is. A conversation without a customer
// key (an anonymous visitor) gets a small search to find the customer and link them
// (c360_find.js); the sections are drawn by c360_sections.js.
//
// Everything from a source is untrusted text: it goes in through el()/textContent only.

import { customer360, customerSources } from "./api.js";
import { $, clear, el } from "./dom.js";
import { t } from "./i18n.js";
import { changed, customerNames } from "./state.js";
import { why } from "./why.js";
import { findForm, link, panel } from "./c360_find.js";
import { orderAction, sagasSection } from "./c360_sagas.js";
import {
  callsSection, describeSource, ordersSection, profile, sourceBadges, ticketsSection,
} from "./c360_sections.js";

// The panel's view: {conversationId, key, linked, data, error, loading, showAllOrders, find}.
panel.render = render;
panel.showCustomer = showCustomer;
panel.refresh = () => panel.view && panel.view.key && !panel.view.loading && load(true);
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
  if (panel.view && panel.view.conversationId === item.id && panel.view.key === key && (panel.view.data || panel.view.loading)) {
    panel.view.linked = linked;
    render();
    return;
  }
  const mine = ++panel.seq;
  panel.view = { conversationId: item.id, key, linked, data: null, error: null, loading: !!key, showAllOrders: false };
  panel.view.find = { by: "email", value: (item.visitor && item.visitor.email) || "", results: null, error: null, busy: false };
  render();
  sources().then((list) => {
    if (mine !== panel.seq) return;
    panel.view.sources = list;
    if (list && list.length === 0) {
      panel.view.loading = false;
      render();
      return;
    }
    if (key) load(false);
    else render();
  });
}

async function load(refresh) {
  const mine = ++panel.seq;
  const { key } = panel.view;
  panel.view.loading = true;
  panel.view.error = null;
  render();
  try {
    const data = await customer360(key, { refresh });
    if (mine !== panel.seq) return;
    panel.view.data = data;
    // The conversation's title may read the customer's name (display only, never stored).
    const name = data.customer && data.customer.name;
    if (name && customerNames.get(key) !== name) {
      customerNames.set(key, name);
      changed();
      document.dispatchEvent(new CustomEvent("kefu:titles"));
    }
  } catch (err) {
    if (mine !== panel.seq) return;
    panel.view.error = err;
  }
  panel.view.loading = false;
  render();
}

// ---- rendering -------------------------------------------------------------------

function render() {
  const box = $("#customer-360");
  if (!box || !panel.view) return;
  const body = $("#c360-body", box);
  const badges = $("#c360-sources", box);
  const actions = $("#c360-actions", box);
  clear(body);
  clear(badges);
  clear(actions);
  const none = panel.view.sources && panel.view.sources.length === 0;
  box.classList.toggle("placeholder", !!none);
  box.classList.toggle("loading", panel.view.loading);
  box.setAttribute("aria-busy", String(panel.view.loading));
  if (none) {
    body.append(el("p", { class: "c360-note", text: t("c360.no_sources") }));
    return;
  }
  if (!panel.view.key) {
    body.append(findForm());
    return;
  }
  actions.append(
    el(
      "button",
      {
        type: "button",
        class: "icon-btn c360-refresh",
        "aria-label": t("common.refresh"),
        title: t("c360.refresh_title"),
        disabled: panel.view.loading,
        onclick: () => load(true),
      },
      refreshIcon(),
    ),
  );
  if (panel.view.data) {
    for (const badge of sourceBadges(panel.view.data.sources || {})) badges.append(badge);
  } else if (panel.view.loading) {
    badges.append(el("span", { class: "src-badge pending", text: t("c360.fetching") }));
  }
  if (panel.view.error) {
    body.append(
      el(
        "div",
        { class: "c360-error", role: "alert" },
        el("span", { text: t("c360.load_failed", { error: why(panel.view.error) }) }),
        el("button", { type: "button", class: "btn small", text: t("c360.try_again"), onclick: () => load(false) }),
      ),
    );
  }
  if (!panel.view.data) {
    if (panel.view.loading) body.append(skeleton());
    body.append(via());
    return;
  }
  const data = panel.view.data;
  const failing = (part) => failingFor(part, data.sources || {});
  body.append(profile(data.customer || {}, failing("customer"), panel.view.key), via());
  body.append(ordersSection(data.orders || [], failing("orders"), panel.view.showAllOrders, toggleOrders, orderAction));
  body.append(sagasSection(panel.view.key));
  body.append(ticketsSection(data.tickets || [], failing("tickets")));
  body.append(callsSection(data.calls || [], failing("calls")));
}

/** The systems feeding `part` (customer, orders, tickets, calls) that did not answer: an
 * empty part says "No tickets." when the tickets system answered, whatever the others did.
 * Which system feeds what comes from GET /customers/sources (its `maps`); not known, every
 * system that did not answer is named. */
function failingFor(part, statuses) {
  const down = Object.keys(statuses).filter((name) => !["ok", "cached"].includes((statuses[name] || {}).status)).sort();
  const list = panel.view.sources;
  if (!list) return down;
  const feeds = (source) => (source.maps && source.maps.length ? source.maps : source.connector === "kefu_tickets" ? ["tickets"] : []);
  const feeders = new Set(list.filter((source) => feeds(source).includes(part)).map((source) => source.name));
  return down.filter((name) => feeders.has(name));
}

function toggleOrders() {
  panel.view.showAllOrders = !panel.view.showAllOrders;
  render();
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
    { class: "c360-skeleton", "aria-label": t("c360.loading_customer", { key: panel.view.key }) },
    el("span", { class: "c360-loading", text: t("c360.loading_key", { key: panel.view.key }) }),
    el("div", { class: "bone wide" }),
    el("div", { class: "bone" }),
    el("div", { class: "bone" }),
  );
}

/** How this conversation got its customer: a verified identity, or an agent's link. */
function via() {
  if (!panel.view.linked) {
    return el("p", { class: "c360-via", text: t("c360.verified") });
  }
  return el(
    "p",
    { class: "c360-via" },
    el("span", { text: `${t("c360.linked_by_agent")} · ` }),
    el("button", {
      type: "button",
      class: "link-btn",
      text: t("c360.unlink"),
      title: t("c360.unlink_title", { key: panel.view.key }),
      onclick: (event) => link(null, event.currentTarget),
    }),
    el("span", { class: "c360-inline-error", role: "alert", dataset: { error: "unlink" } }),
  );
}

// "cached 2 min ago" keeps true while the panel stays open.
setInterval(() => {
  if (!panel.view || !panel.view.data || panel.view.loading) return;
  for (const badge of document.querySelectorAll("#c360-sources .src-badge[data-status=cached]")) {
    const s = (panel.view.data.sources || {})[badge.dataset.source];
    if (s) badge.textContent = describeSource(badge.dataset.source, s)[0];
  }
}, 30000);
