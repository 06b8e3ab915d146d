// The open ticket's comments (public replies and internal notes, visibly different) and
// its history, newest first, each entry saying who did what in words.
//
// Comment bodies are untrusted text: they go in through el()/textContent only.

import { addTicketComment, getTicket, ticketLog } from "./api.js";
import { $, clear, el } from "./dom.js";
import { t } from "./i18n.js";
import { state } from "./state.js";
import { actorName, assigneeName, dateTime, newer, priorityText, statusText, svgIcon, tk } from "./ticket_common.js";
import { remember } from "./ticket_list.js";
import { why } from "./why.js";

export function renderComments() {
  const view = tk.view;
  const box = $("#tk-comments");
  clear(box);
  if (!view.comments.length) {
    box.append(el("li", { class: "tk-none", text: t("tickets.no_comments") }));
    return;
  }
  for (const comment of view.comments) {
    const kind = comment.internal ? "internal" : "public";
    box.append(
      el(
        "li",
        { class: `tk-comment ${kind}`, dataset: { id: comment.id, kind } },
        el(
          "div",
          { class: "tk-comment-head" },
          el("strong", { text: authorName(comment) }),
          el(
            "span",
            { class: `tk-comment-kind ${kind}` },
            comment.internal ? svgIcon("M7 11V7a5 5 0 0 1 10 0v4M5 11h14v10H5z") : null,
            t(comment.internal ? "tickets.internal_note" : "tickets.public_reply"),
          ),
          el("time", { datetime: comment.created_at, text: dateTime(comment.created_at) }),
        ),
        el("p", { class: "tk-comment-body", text: comment.body }),
      ),
    );
  }
}

function authorName(comment) {
  if (comment.author && comment.author === `agent:${state.me.id}`) return t("tickets.name_you", { name: comment.author_name || state.me.name });
  return comment.author_name || actorName(comment.author);
}

export async function submitComment(event) {
  event.preventDefault();
  const view = tk.view;
  if (!view || !view.ticket) return;
  const form = event.target;
  const field = form.elements.body;
  const body = field.value;
  const error = form.querySelector("[data-error=comment]");
  error.textContent = "";
  if (!body.trim()) {
    error.textContent = t("tickets.write_first");
    return;
  }
  const internal = form.elements.kind.value === "internal";
  const button = form.querySelector("button[type=submit]");
  const mine = tk.viewSeq;
  button.disabled = true;
  // Emptied now, not when the answer comes: what the agent types next while this one
  // saves (the next note) must not be wiped by it. A refused comment comes back to fix.
  field.value = "";
  try {
    await addTicketComment(view.ticket.id, body, internal);
    if (mine !== tk.viewSeq) return;
    // The first public reply stamps the SLA's first response: fetch the ticket again too.
    const [ticket, comments, history] = await Promise.all([
      getTicket(view.id), ticketLog(view.id, "comments"), ticketLog(view.id, "history"),
    ]);
    if (mine !== tk.viewSeq) return;
    const live = newer(view.ticket, ticket) ? {} : view.ticket;
    // The lists only grow: an answer read before a later comment's frame keeps that one.
    Object.assign(view, {
      ticket: { ...ticket, ...live },
      comments: mergeById(view.comments, comments),
      history: mergeById(view.history, history),
    });
    remember(view.ticket);
    tk.actions.renderView();
  } catch (err) {
    if (mine !== tk.viewSeq) return;
    error.textContent = err.code === "ticket_closed" ? t("tickets.closed_no_comments") : why(err);
    if (!field.value) field.value = body;
  } finally {
    button.disabled = false;
  }
}

/** Comments and history entries are never changed or removed: the union of what is
 * known and what an answer holds, in id order (an answer may predate a frame). */
export function mergeById(known, fetched) {
  const byId = new Map(known.map((item) => [item.id, item]));
  for (const item of fetched) byId.set(item.id, item);
  return [...byId.values()].sort((a, b) => Number(a.id) - Number(b.id));
}

export function renderHistory() {
  const view = tk.view;
  const box = $("#tk-history");
  clear(box);
  for (const entry of [...view.history].reverse()) {
    box.append(
      el(
        "li",
        { class: `tk-hist tk-hist-${entry.action.replace(/\./g, "-")}`, dataset: { action: entry.action } },
        el("span", { class: "tk-hist-what" }, el("strong", { text: actorName(entry.actor) }), " ", describe(entry)),
        el("time", { datetime: entry.at, text: dateTime(entry.at) }),
      ),
    );
  }
  if (!view.history.length) box.append(el("li", { class: "tk-none", text: t("tickets.nothing_yet") }));
}

/** Read the history again after a change: a frame or a ticket answer does not carry it. */
export async function reloadHistory(id, mine, onError) {
  try {
    const history = await ticketLog(id, "history"); // rows a frame or answer does not carry
    if (mine !== tk.viewSeq) return;
    tk.view.history = mergeById(tk.view.history, history);
    renderHistory();
  } catch (err) {
    if (mine === tk.viewSeq && onError) onError(err);
  }
}

function describe(entry) {
  const d = entry.detail || {};
  const none = (v) => v ?? t("tickets.none");
  const change = (what, show = none) => t("tickets.hist_changed", { what: t(what), before: show(d.before), after: show(d.after) });
  const when = d.due_at ? dateTime(d.due_at) : "";
  switch (entry.action) {
    case "created":
      return t("tickets.hist_created");
    case "status":
      return change("tickets.hist_the_status", (v) => (v ? statusText(v) : none(v)));
    case "priority": {
      const text = change("tickets.hist_the_priority", (v) => (v ? priorityText(v) : none(v)));
      return d.resolution_due_at || d.first_response_due_at ? t("tickets.hist_sla_moved", { text }) : text;
    }
    case "assignee":
      return change("tickets.hist_the_assignee", (id) => (id ? assigneeName(id) : t("tickets.hist_nobody")));
    case "queue":
      return change("tickets.hist_the_queue");
    case "comment":
      if (d.internal) return t("tickets.hist_internal_note");
      return t(d.first_response ? "tickets.hist_replied_first" : "tickets.hist_replied");
    case "sla.warning":
      return t("tickets.hist_sla_warning", { target: targetName(d.target), when: when || t("tickets.hist_soon") });
    case "sla.breach":
      return t("tickets.hist_sla_breach", { target: targetName(d.target), when });
    default:
      return entry.action;
  }
}

function targetName(target) {
  if (target === "first_response") return t("tickets.target_first_response");
  if (target === "resolution") return t("tickets.target_resolution");
  return target || t("tickets.target_other");
}
