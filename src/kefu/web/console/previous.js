// "Previous conversations" in the right-hand panel (issue 15 item 11): the customer's (by
// key) or else the visitor's other conversations, newest first, each openable read-only
// in a dialog, so the agent reads the history without leaving the chat they are in.
// GET /api/v1/customers/{key}/conversations or /visitors/{id}/conversations.
//
// Messages are untrusted text: they go in through el()/textContent only.

import { errorMessage, get } from "./api.js";
import { fmtDateTime, t } from "./i18n.js";
import { $, clear, clock, el, linkify } from "./dom.js";
import { visitorName } from "./state.js";

const SHOWN = 10;
let seq = 0;

export function initPrevious() {
  $("#transcript-close").addEventListener("click", () => $("#transcript").close());
}

/** The panel's list for the conversation ``item`` now open. */
export async function showPrevious(item) {
  const mine = ++seq;
  const box = $("#previous");
  const list = $("#previous-list");
  const path = item.customer_key
    ? `/api/v1/customers/${encodeURIComponent(item.customer_key)}/conversations?limit=${SHOWN + 1}`
    : `/api/v1/visitors/${encodeURIComponent(item.visitor_id)}/conversations?limit=${SHOWN + 1}`;
  clear(list);
  $("#previous-note").textContent = t("common.loading");
  box.hidden = false;
  let items;
  try {
    items = (await get(path)).items;
  } catch (err) {
    if (mine !== seq) return;
    $("#previous-note").textContent = t("details.prev_failed", { error: errorMessage(err) });
    return;
  }
  if (mine !== seq) return;
  const others = items.filter((other) => other.id !== item.id).slice(0, SHOWN);
  $("#previous-note").textContent = others.length ? "" : t(item.customer_key ? "details.prev_none_customer" : "details.prev_none_visitor");
  for (const other of others) list.append(row(other));
}

function row(item) {
  // What a person said last; a system line ("Conversation closed.") says nothing here.
  const last = item.last_message && !["system", "bot"].includes(item.last_message.sender.kind) ? item.last_message : null;
  return el(
    "li",
    {},
    el(
      "button",
      { type: "button", class: "previous-item", dataset: { id: item.id }, onclick: () => openTranscript(item) },
      el(
        "span",
        { class: "previous-top" },
        el("span", { class: "previous-when", text: clock(item.created_at) }),
        el("span", { class: `st st-${item.status}`, text: statusText(item.status) }),
      ),
      el("span", { class: "previous-text", text: last ? (last.body || t("common.attachment")).replace(/\s+/g, " ").slice(0, 100) : visitorName(item) }),
    ),
  );
}

/** A status in words; one this console does not know yet shows as the server wrote it. */
function statusText(status) {
  const key = `common.status_${status}`;
  const text = t(key);
  return text === key ? status : text;
}

async function openTranscript(item) {
  const dialog = $("#transcript");
  const log = $("#transcript-log");
  $("#transcript-h").textContent = visitorName(item);
  $("#transcript-sub").textContent = t(item.status === "closed" ? "details.transcript_closed" : "details.transcript_open", { when: fmtDateTime(item.created_at) });
  clear(log);
  log.append(el("p", { class: "c360-empty", text: t("common.loading") }));
  dialog.showModal();
  try {
    const page = await get(`/api/v1/conversations/${encodeURIComponent(item.id)}/messages?limit=500`);
    clear(log);
    for (const message of page.items) log.append(line(message, visitorName(item)));
    if (!page.items.length) log.append(el("p", { class: "c360-empty", text: t("details.no_messages") }));
  } catch (err) {
    clear(log);
    log.append(el("p", { class: "form-error", text: t("details.transcript_failed", { error: errorMessage(err) }) }));
  }
}

function line(message, title) {
  const kind = message.sender.kind;
  const who = kind === "bot" ? t("common.bot") : kind === "system" ? t("common.system") : message.sender.name || (kind === "visitor" ? title : t("common.agent"));
  return el(
    "div",
    { class: `msg ${kind}${kind === "agent" ? " out" : ""}${message.internal ? " note" : ""}` },
    el("div", { class: "msg-body" }, el("p", { class: "msg-text" }, linkify(message.body || (message.attachments && message.attachments.length ? t("details.attachment_paren") : "")))),
    el("div", { class: "msg-meta", text: message.internal ? t("details.note_prefix", { meta: t("common.meta", { who, when: clock(message.created_at) }) }) : t("common.meta", { who, when: clock(message.created_at) }) }),
  );
}
