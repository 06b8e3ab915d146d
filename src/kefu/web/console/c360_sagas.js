// The 360 panel's sagas: a "Refund" button on each order (when a saga named `refund` is
// defined) that opens the confirm dialog, and the customer's sagas with their live step
// timelines below the orders. The list is read once per customer (and again after a
// reconnect, for the frames missed meanwhile); `saga.updated` frames keep it moving.

import { getSaga, listSagas } from "./api.js";
import { panel } from "./c360_find.js";
import { clear, el } from "./dom.js";
import { t, tn } from "./i18n.js";
import { confirmSaga } from "./saga_dialog.js";
import { currentStamp, definitions, known, onSagaChange, onSagaReset, remember, rememberAll, sagasOf, TERMINAL } from "./saga_state.js";
import { dateTime, inputFacts, progress, sagaBadge, sagaError, sagaTitle, timeline } from "./saga_timeline.js";
import { atLeast } from "./state.js";
import { why } from "./why.js";

const REFUND = "refund";
const NOT_REFUNDABLE = new Set(["pending", "refunded", "cancelled", "canceled"]); // the order system refuses these
const SHOWN = 3;

let defs = null; // the definitions once read (a Map), null before
let askedAt = -Infinity;
const ASK_AGAIN_MS = 60000; // none defined, or unreadable: asked again at most once a minute
const view = { key: null, seq: 0, loading: false, error: null, unavailable: false, showAll: false, focus: null };
const opened = new Map(); // saga id -> the agent's open/closed choice for its card
const refreshedFor = new Set(); // sagas whose end made the panel read the customer again
const box = el("section", { class: "c360-section c360-sagas", "aria-labelledby": "c360-sagas-h", dataset: { section: "sagas" } });

function needDefinitions() {
  if (defs && defs.size) return;
  if (Date.now() - askedAt < ASK_AGAIN_MS) return;
  askedAt = Date.now();
  definitions().then((map) => {
    const had = defs ? defs.size : 0;
    defs = map;
    if (map.size !== had) panel.render(); // the Refund buttons and the section appear
  });
}

/** The Refund button of one order, or null when no `refund` saga is defined. */
export function orderAction(order) {
  needDefinitions();
  const definition = defs && defs.get(REFUND);
  const key = panel.view && panel.view.key;
  if (!definition || !key || NOT_REFUNDABLE.has(String(order.status || "").toLowerCase())) return null;
  return el("button", {
    type: "button",
    class: "btn small saga-refund",
    text: t("c360.refund"),
    "aria-label": t("c360.refund_aria", { id: order.id }),
    title: `${definition.title || t("c360.refund")}: ${order.id}`,
    onclick: () =>
      confirmSaga({
        definition,
        customerKey: key,
        prefill: { order_id: order.id, amount: amountOf(order.total) },
        locked: ["order_id"],
        context: t("c360.refund_context", { id: order.id, key }),
        currency: order.currency || "",
        onStarted: (id) => started(id, key),
      }),
  });
}

/** The order's total as the amount field shows it ("1165.00"), or empty when it is no number. */
function amountOf(total) {
  const n = Number(total);
  if (total === undefined || total === null || total === "" || Number.isNaN(n)) return "";
  const cents = n * 100;
  return Math.abs(cents - Math.round(cents)) < 1e-6 ? n.toFixed(2) : String(n); // 1165.1 -> "1165.10"
}

/** The panel's Sagas section for customer `key` (one node, redrawn as sagas change). */
export function sagasSection(key) {
  needDefinitions();
  if (!defs || !defs.size) {
    // No saga is defined (or kefu has no sagas): nothing to show, nothing to ask.
    box.hidden = true;
    return box;
  }
  if (key !== view.key) {
    view.key = key;
    view.showAll = false;
    view.unavailable = false;
    load();
  }
  draw();
  return box;
}

/** Read the customer's sagas again (after a reconnect: frames may have been missed). */
export function reloadPanelSagas() {
  if (view.key && box.isConnected) load();
}

async function load() {
  const mine = ++view.seq;
  const key = view.key;
  if (!key) return;
  view.loading = true;
  view.error = null;
  draw();
  const askedAt = currentStamp();
  try {
    const page = await listSagas({ customer_key: key }, null, 20);
    if (mine !== view.seq) return;
    rememberAll(page.items || [], askedAt);
  } catch (err) {
    if (mine !== view.seq) return;
    if (err.status === 404) view.unavailable = true; // a server without sagas
    else view.error = err;
  }
  view.loading = false;
  draw();
}

async function started(id, key) {
  view.focus = id;
  const askedAt = currentStamp();
  try {
    remember(await getSaga(id), askedAt);
  } catch {
    /* its frames will bring it */
  }
  if (view.key === key) draw();
}

onSagaReset(() => {
  defs = null;
  askedAt = -Infinity;
  view.key = null;
  opened.clear();
  refreshedFor.clear();
});

onSagaChange((saga) => {
  if (!view.key || saga.customer_key !== view.key) return;
  draw();
  // A saga that stopped changed the customer's records: the panel reads them again, once.
  if ((TERMINAL.has(saga.status) || saga.status === "failed") && !refreshedFor.has(saga.id) && panel.refresh) {
    refreshedFor.add(saga.id);
    panel.refresh();
  }
});

function draw() {
  clear(box);
  const definitionsKnown = defs && defs.size > 0;
  const sagas = view.key ? sagasOf(view.key) : [];
  box.hidden = view.unavailable || !definitionsKnown;
  box.setAttribute("aria-busy", String(view.loading));
  const key = view.key;
  box.append(
    el(
      "h4",
      { id: "c360-sagas-h" },
      el("span", { text: t("c360.sagas") }),
      sagas.length ? el("span", { class: "count", text: String(sagas.length) }) : null,
      // Supervisors retry and compensate on the Sagas page: one click to this customer's there.
      sagas.length && atLeast("supervisor")
        ? el("button", {
            type: "button",
            class: "link-btn c360-sagas-all",
            text: t("c360.open_in_sagas"),
            title: t("c360.open_in_sagas_title", { key }),
            onclick: () => document.dispatchEvent(new CustomEvent("kefu:customer-sagas", { detail: { key } })),
          })
        : null,
    ),
  );
  if (view.error) box.append(el("p", { class: "c360-inline-error", role: "alert", text: t("c360.sagas_failed", { error: why(view.error) }) }));
  if (!sagas.length) {
    if (!view.loading && !view.error) box.append(el("p", { class: "c360-empty", text: t("c360.no_sagas") }));
    return;
  }
  const shown = view.showAll ? sagas : sagas.slice(0, SHOWN);
  box.append(el("div", { class: "saga-cards" }, shown.map((saga, i) => card(saga, i === 0 || !TERMINAL.has(saga.status)))));
  if (sagas.length > SHOWN) {
    box.append(
      el("button", {
        type: "button",
        class: "link-btn",
        text: view.showAll ? t("c360.show_fewer") : tn("c360.show_all_sagas", sagas.length),
        onclick: () => {
          view.showAll = !view.showAll;
          draw();
        },
      }),
    );
  }
  if (view.focus) {
    const node = box.querySelector(`[data-saga="${CSS.escape(view.focus)}"]`);
    if (node) {
      view.focus = null;
      node.scrollIntoView({ block: "nearest" });
    }
  }
}

function card(saga, open) {
  const definition = defs && defs.get(saga.name);
  const latest = known(saga.id) || saga;
  const input = latest.input || {};
  const about = [input.order_id, latest.started_at ? dateTime(latest.started_at) : ""].filter(Boolean).join(" · ");
  const details = el(
    "details",
    { class: "saga-card", dataset: { saga: latest.id, status: latest.status }, open: opened.has(latest.id) ? opened.get(latest.id) : open },
    el(
      "summary",
      { class: "saga-card-head" },
      el(
        "span",
        { class: "saga-card-title" },
        el("strong", { text: sagaTitle(latest, definition) }),
        about ? el("span", { class: "saga-card-about", text: about }) : null,
      ),
      sagaBadge(latest.status),
    ),
    el("p", { class: "saga-progress", text: progress(latest) }),
    sagaError(latest),
    timeline(latest, definition),
    el("details", { class: "saga-more" }, el("summary", { text: t("c360.input_and_id") }), inputFacts(input, definition), el("p", { class: "saga-id", text: latest.id })),
  );
  details.addEventListener("toggle", (event) => {
    if (event.target === details) opened.set(latest.id, details.open);
  });
  return details;
}
