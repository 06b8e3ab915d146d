// The conversation list: tabs (mine / unassigned / all), unread badges, waiting times
// that tick, keyboard navigation (arrows + Enter).

import { $, $$, clear, clock, el, hue, initials } from "./dom.js";
import { fmtDuration, t, tn } from "./i18n.js";
import { listChips } from "./labels.js";
import { search, run as runSearch, searchItems } from "./search.js";
import { atLeast, sorted, state, visitorName } from "./state.js";

let onOpen = () => {};

export function initList(open) {
  onOpen = open;
  for (const tab of $$(".tabs [role=tab]")) {
    tab.addEventListener("click", () => selectTab(tab.dataset.tab));
  }
  setInterval(tick, 1000);
}

export function selectTab(tab) {
  if (tab === "all" && !atLeast("supervisor")) return;
  state.tab = tab;
  for (const button of $$(".tabs [role=tab]")) {
    button.setAttribute("aria-selected", String(button.dataset.tab === tab));
  }
  renderList();
  runSearch(); // the Closed tab, or a search within this tab
}

function preview(item) {
  const last = item.last_message;
  if (!last) return t("inbox.no_messages");
  const kind = last.sender.kind;
  const who = kind === "agent" ? (last.sender.id === state.me.id ? t("chat.you") : last.sender.name) : kind === "bot" ? t("common.bot") : "";
  const text = (last.body || (last.attachments && last.attachments.length ? t("common.attachment") : "")).replace(/\s+/g, " ").slice(0, 120);
  return who ? t("common.by", { who, text }) : text;
}

// Colors through the CSSOM: a strict CSP (no 'unsafe-inline') refuses style attributes.
function avatar(seed, name) {
  const node = el("span", { class: "avatar", "aria-hidden": "true" }, initials(name));
  node.style.background = hue(seed);
  return node;
}

function waitingLabel(item) {
  return waitingText(item.created_at);
}

function waitingText(since) {
  return t("inbox.waiting", { duration: fmtDuration((Date.now() - Date.parse(since)) / 1000) });
}

export function renderList() {
  const list = $("#conv-list");
  clear(list);
  const found = searchItems();
  const items = found || sorted(state.tab);
  for (const item of items) {
    const name = visitorName(item);
    const selected = item.id === state.currentId;
    const li = el(
      "li",
      {
        role: "option",
        class: `conv${selected ? " selected" : ""}${item.unread ? " unread" : ""}`,
        "aria-selected": String(selected),
        dataset: { id: item.id },
        onclick: () => onOpen(item.id),
      },
      avatar(item.visitor_id, name),
      el(
        "div",
        { class: "conv-main" },
        el(
          "div",
          { class: "conv-top" },
          el("span", { class: "conv-name", text: name }),
          listChips(item),
          item.status === "closed"
            ? el("span", { class: "closed-tag", text: t("inbox.closed_at", { when: clock(item.updated_at) }) })
            : item.status === "waiting"
            ? el("span", { class: "wait", dataset: { since: item.created_at }, text: waitingLabel(item) })
            : el("time", { class: "conv-time", datetime: item.updated_at, text: clock(item.updated_at) }),
        ),
        el(
          "div",
          { class: "conv-bottom" },
          el("span", { class: "conv-preview", text: preview(item) }),
          item.unread && item.status !== "closed" ? el("span", { class: "badge", "aria-label": tn("inbox.unread", item.unread), text: String(item.unread) }) : null,
        ),
      ),
    );
    list.append(li);
  }
  const searching = Boolean(search.active);
  $("#conv-empty").hidden = items.length > 0 || (searching && search.active.loading);
  $("#conv-empty").textContent = t(searching ? (state.tab === "closed" && !$("#conv-q").value ? "inbox.empty_closed" : "inbox.no_match") : "inbox.empty");
  $("#conv-more").hidden = !(searching && search.active.next);
  list.setAttribute("aria-busy", String(searching && search.active.loading));
  for (const tab of ["mine", "waiting", "all"]) {
    const count = sorted(tab).length;
    const unread = sorted(tab).reduce((n, i) => n + (i.unread || 0), 0);
    const badge = $(`[data-count=${tab}]`);
    badge.textContent = count ? String(count) : "";
    badge.classList.toggle("hot", unread > 0);
  }
  const mineUnread = sorted("mine").reduce((n, i) => n + (i.unread || 0), 0);
  const waiting = sorted("waiting").length;
  const total = mineUnread + waiting;
  document.title = total ? t("inbox.title_count", { count: total, title: t("common.page_title") }) : t("common.page_title");
}

function tick() {
  for (const span of $$("#conv-list .wait")) {
    span.textContent = waitingText(span.dataset.since);
  }
}
