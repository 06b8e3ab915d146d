// The Sagas page (supervisors and admins): every saga, newest first, filtered by status,
// name and customer, "load more" through the list's `next`; a saga's detail with its input,
// error and step timeline; and on a failed saga the two ways out a person chooses between:
// Retry (resume from the failed step) and Compensate (undo the steps that were done).
// `saga.updated` frames keep the list and the open saga moving without a reload.

import { compensateSaga, getSaga, listSagas, retrySaga } from "./api.js";
import { $, clear, el } from "./dom.js";
import { t } from "./i18n.js";
import { announceSaga, byNewest, currentStamp, definitions, known, onSagaChange, remember, rememberAll } from "./saga_state.js";
import { dateTime, failedBackward, inputFacts, progress, sagaBadge, sagaError, sagaTitle, timeline } from "./saga_timeline.js";
import { typed, why } from "./why.js";

const PAGE_SIZE = 25;
const FILTERS = ["status", "name", "customer_key"];

const page = { filters: {}, ids: [], next: null, seq: 0, openId: null, defs: new Map(), notice: null };

export function initSagasPage({ showPage }) {
  const form = $("#sg-filters");
  // The 360 panel's "Open in Sagas": this customer's sagas, whatever else was filtered.
  document.addEventListener("kefu:customer-sagas", (event) => {
    for (const name of FILTERS) form.elements.namedItem(name).value = "";
    form.elements.namedItem("customer_key").value = event.detail.key;
    showDetail(null);
    showPage("sagas");
  });
  const apply = () => {
    readFilters();
    reloadList();
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    apply();
  });
  form.addEventListener("change", apply);
  let typing = null;
  form.addEventListener("input", (event) => {
    if (event.target.tagName !== "INPUT") return;
    clearTimeout(typing);
    typing = setTimeout(apply, 400);
  });
  $("#sg-refresh").addEventListener("click", () => reloadList());
  $("#sg-more").addEventListener("click", loadMore);
  onSagaChange(onChange);
}

/** The page was shown: the names for the filter, a fresh list. */
export async function showSagas() {
  page.defs = await definitions();
  const select = $("#sg-filters select[name=name]");
  const chosen = select.value;
  clear(select);
  select.append(el("option", { value: "", text: t("common.any") }));
  for (const definition of page.defs.values()) select.append(el("option", { value: definition.name, text: definition.title || definition.name }));
  select.value = chosen;
  readFilters();
  reloadList();
  if (page.openId) refreshDetail();
}

/** Reconnected: frames may have been missed while offline. */
export function sagasPageMayHaveChanged() {
  if (!$("#page-sagas").hidden) reloadList();
}

function readFilters() {
  const form = $("#sg-filters");
  for (const name of FILTERS) page.filters[name] = typed(form.elements.namedItem(name).value);
}

function matches(saga) {
  const f = page.filters;
  return (!f.status || saga.status === f.status) && (!f.name || saga.name === f.name) && (!f.customer_key || saga.customer_key === f.customer_key);
}

async function reloadList() {
  const mine = ++page.seq;
  const pane = $("#sg-list-pane");
  pane.setAttribute("aria-busy", "true");
  $("#sg-list-error").textContent = "";
  const askedAt = currentStamp();
  try {
    const answer = await listSagas(page.filters, null, PAGE_SIZE);
    if (mine !== page.seq) return;
    page.ids = rememberAll(answer.items || [], askedAt).map((s) => s.id);
    page.next = answer.next || null;
  } catch (err) {
    if (mine !== page.seq) return;
    page.ids = [];
    page.next = null;
    $("#sg-list-error").textContent = t("sagas.load_failed", { error: why(err) });
  }
  pane.setAttribute("aria-busy", "false");
  drawList();
}

async function loadMore() {
  if (!page.next) return;
  const mine = page.seq;
  const button = $("#sg-more");
  button.disabled = true;
  const askedAt = currentStamp();
  try {
    const answer = await listSagas(page.filters, page.next, PAGE_SIZE);
    if (mine !== page.seq) return;
    const have = new Set(page.ids);
    for (const saga of rememberAll(answer.items || [], askedAt)) if (!have.has(saga.id)) page.ids.push(saga.id);
    page.next = answer.next || null;
  } catch (err) {
    $("#sg-list-error").textContent = t("sagas.more_failed", { error: why(err) });
  } finally {
    button.disabled = false;
  }
  drawList();
}

function onChange(saga) {
  if (page.ids.includes(saga.id)) {
    const row = $(`#sg-list li[data-saga="${CSS.escape(saga.id)}"]`);
    if (row) row.replaceWith(rowOf(saga));
  } else if (matches(saga) && (!page.ids.length || byNewest(saga, known(page.ids[0]) || saga) <= 0)) {
    page.ids.unshift(saga.id); // a new saga, newer than the newest shown
    drawList();
  }
  if (page.openId === saga.id) drawDetail();
}

function drawList() {
  const list = $("#sg-list");
  clear(list);
  const items = page.ids.map((id) => known(id)).filter(Boolean);
  for (const saga of items) list.append(rowOf(saga));
  $("#sg-empty").hidden = items.length > 0 || !!$("#sg-list-error").textContent;
  $("#sg-empty").textContent = t(FILTERS.some((f) => page.filters[f]) ? "sagas.empty_filtered" : "sagas.empty");
  $("#sg-more").hidden = !page.next;
}

function rowOf(saga) {
  const definition = page.defs.get(saga.name);
  const input = saga.input || {};
  return el(
    "li",
    { dataset: { saga: saga.id, status: saga.status } },
    el(
      "button",
      {
        type: "button",
        class: `tk-row sg-row${page.openId === saga.id ? " selected" : ""}`,
        "aria-current": page.openId === saga.id ? "true" : undefined,
        onclick: () => showDetail(saga.id),
      },
      el(
        "div",
        { class: "tk-row-top" },
        el("span", { class: "tk-subject", text: sagaTitle(saga, definition) }),
        input.order_id ? el("span", { class: "tk-id", text: String(input.order_id) }) : null,
      ),
      el("span", { class: "sg-badge-slot" }, sagaBadge(saga.status)),
      el(
        "div",
        { class: "tk-row-bottom" },
        saga.customer_key ? el("span", { class: "tk-customer", text: saga.customer_key }) : null,
        el("span", { text: progress(saga) }),
        el("span", { text: dateTime(saga.started_at) }),
      ),
    ),
  );
}

// ---- the saga's detail -------------------------------------------------------------

function showDetail(id) {
  page.openId = id;
  page.notice = null;
  $("#page-sagas").classList.toggle("tk-detail-open", !!id);
  $("#sg-placeholder").hidden = !!id;
  $("#sg-view").hidden = !id;
  for (const button of document.querySelectorAll("#sg-list .sg-row")) {
    const selected = button.parentElement.dataset.saga === id;
    button.classList.toggle("selected", selected);
    if (selected) button.setAttribute("aria-current", "true");
    else button.removeAttribute("aria-current");
  }
  if (id) {
    drawDetail();
    refreshDetail();
  }
}

async function refreshDetail() {
  const id = page.openId;
  const askedAt = currentStamp();
  try {
    const saga = remember(await getSaga(id), askedAt);
    if (page.openId === id) announceSaga(saga);
  } catch (err) {
    if (page.openId !== id) return;
    page.notice = { error: true, text: t("sagas.read_failed", { error: why(err) }) };
    drawDetail();
  }
}

function drawDetail() {
  const box = $("#sg-view");
  clear(box);
  const saga = known(page.openId);
  if (!saga) {
    box.append(el("p", { class: "hint", text: t("common.loading") }));
    return;
  }
  const definition = page.defs.get(saga.name);
  const notice = page.notice;
  if (notice && !notice.error) {
    // "Retrying…" lasts while it runs again; its outcome is the badge and the timeline.
    if (saga.status === "running" || saga.status === "compensating") notice.seen = true;
    else if (notice.seen || saga.status !== "failed") page.notice = null;
  }
  box.dataset.saga = saga.id;
  box.dataset.status = saga.status;
  box.append(
    el(
      "header",
      { class: "tk-view-head" },
      el("button", { type: "button", class: "icon-btn only-narrow", "aria-label": t("sagas.back"), onclick: () => showDetail(null) }, "←"),
      el(
        "div",
        { class: "tk-title" },
        el("div", { class: "tk-badges" }, sagaBadge(saga.status), el("span", { class: "tk-id", text: saga.id })),
        el("h2", { id: "sg-title", text: sagaTitle(saga, definition) }),
        el("p", { class: "saga-progress", text: progress(saga) }),
      ),
    ),
    actions(saga),
    sagaError(saga),
    el(
      "div",
      { class: "sg-grid" },
      el("section", { class: "card", "aria-labelledby": "sg-steps-h" }, el("h3", { id: "sg-steps-h", text: t("sagas.steps") }), timeline(saga, definition)),
      el(
        "section",
        { class: "card", "aria-labelledby": "sg-facts-h" },
        el("h3", { id: "sg-facts-h", text: t("sagas.saga") }),
        facts(saga, definition),
        el("h3", { class: "sg-input-h", text: t("sagas.input") }),
        inputFacts(saga.input, definition),
      ),
    ),
  );
}

function facts(saga, definition) {
  const dl = el("dl", { class: "facts" });
  const rows = [
    [t("sagas.name"), sagaTitle(saga, definition)], // the definition's title, else its key
    [t("sagas.customer"), saga.customer_key],
    [t("sagas.started"), dateTime(saga.started_at)],
    [t("sagas.finished"), saga.finished_at ? dateTime(saga.finished_at) : null],
  ];
  for (const [label, value] of rows) if (value) dl.append(el("dt", { text: label }), el("dd", { text: value }));
  return dl;
}

function actions(saga) {
  const notice = page.notice
    ? el("p", { class: page.notice.error ? "form-error" : "saved", role: page.notice.error ? "alert" : "status", text: page.notice.text })
    : el("p", { class: "form-error", role: "alert" });
  if (saga.status !== "failed") return el("div", { class: "sg-actions" }, notice);
  const backward = failedBackward(saga);
  const choice = t(backward ? "sagas.choice_backward" : "sagas.choice_forward");
  return el(
    "div",
    { class: "sg-actions" },
    el("p", { class: "hint sg-choice", text: choice }),
    el(
      "div",
      { class: "sg-buttons" },
      el("button", { type: "button", class: "btn primary", text: t("sagas.retry"), onclick: (e) => act(saga, "retry", e.currentTarget) }),
      el("button", {
        type: "button",
        class: "btn danger",
        text: t("sagas.compensate"),
        disabled: !backward,
        title: t(backward ? "sagas.compensate_title" : "sagas.compensate_off_title"),
        onclick: (e) => act(saga, "compensate", e.currentTarget),
      }),
    ),
    notice,
  );
}


async function act(saga, what, button) {
  if (what === "compensate" && !confirm(t("sagas.compensate_confirm", { id: saga.id }))) return;
  for (const b of button.parentElement.querySelectorAll("button")) b.disabled = true; // one action at a time
  try {
    await (what === "retry" ? retrySaga(saga.id) : compensateSaga(saga.id));
    page.notice = { error: false, text: t(what === "retry" ? "sagas.retrying" : "sagas.compensating") };
  } catch (err) {
    page.notice = { error: true, text: refusal(what, err) };
  }
  if (page.openId === saga.id) drawDetail();
  await refreshDetail();
}

/** A refusal in words: 409 means the saga moved on (someone else acted, or it finished). */
function refusal(what, err) {
  const verb = what === "retry" ? "retry" : "compensate";
  if (err.status === 409) {
    const reason = ((err.code && why(err)) || t("sagas.only_failed")).replace(/[.。]$/, ""); // the sentence ends it
    return t(`sagas.${verb}_conflict`, { reason });
  }
  if (err.status === 403) return t(`sagas.${verb}_forbidden`);
  return t(`sagas.${verb}_failed`, { error: why(err) });
}
