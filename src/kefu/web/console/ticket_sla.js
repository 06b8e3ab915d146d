// The SLA badge and the ticket view's SLA card. The server judges the SLA (which target
// runs, the paused resolution clock, warnings, breaches, met or missed: docs/rest.md,
// `sla_status`); this module only draws its verdict, and moves the badge from ok to
// warning to breached as this browser's clock passes the instants the server gave
// (`warning_at`, `due_at`), so a countdown keeps ticking between answers.

import { clear, el } from "./dom.js";
import { fmtNumber, t } from "./i18n.js";
import { dateTime, part } from "./ticket_common.js";
import { codeText } from "./why.js";

const TARGETS = {
  first_response: { short: "tickets.sla_first_short", long: "tickets.sla_first_long" },
  resolution: { short: "tickets.sla_resolution_short", long: "tickets.sla_resolution_long" },
};

/** The badge for a ticket now: {kind: ok|warn|breach|paused|none|done, text, title}. */
export function slaState(ticket, now = Date.now()) {
  const verdict = ticket.sla_status || { state: "none" };
  const s = ticket.sla || {};
  if (ticket.status === "solved" || ticket.status === "closed") {
    const text = t({ met: "tickets.sla_met", missed: "tickets.sla_missed" }[verdict.state] || "tickets.sla_none");
    return { kind: "done", text, title: s.solved_at ? t("tickets.sla_solved_title", { when: dateTime(s.solved_at) }) : "" };
  }
  if (verdict.state === "none" || !verdict.due_at) {
    return { kind: "none", text: t("tickets.sla_none"), title: t("tickets.sla_none_title") };
  }
  const target = TARGETS[verdict.target] || TARGETS.resolution;
  if (verdict.paused) {
    const since = t("tickets.sla_paused_since", { when: dateTime(s.paused_at) });
    if (verdict.state === "breached") {
      return { kind: "breach", text: t("tickets.sla_breached_paused"), title: t("tickets.sla_already_breached", { text: since }) };
    }
    return { kind: "paused", text: t("tickets.sla_paused"), title: since };
  }
  const due = Date.parse(verdict.due_at);
  const title = t("tickets.sla_due_title", { target: t(target.long), when: dateTime(verdict.due_at) });
  if (verdict.state === "breached" || now >= due) {
    return {
      kind: "breach",
      text: t("tickets.sla_breached_ago", { target: t(target.short), time: human(now - due) }),
      title: t("tickets.sla_breached_title", { title }),
    };
  }
  const warned = verdict.state === "warning" || (!!verdict.warning_at && now >= Date.parse(verdict.warning_at));
  return { kind: warned ? "warn" : "ok", text: t("tickets.sla_left", { target: t(target.short), time: human(due - now) }), title };
}

/** "<1 min", "12 min", "3 h 05 min", "2 d 4 h" (en): a countdown's minute resolution in
 * the agent's language, the numbers through Intl. */
export function human(ms) {
  const minutes = Math.floor(Math.max(0, ms) / 60000);
  if (minutes < 1) return t("tickets.dur_under_minute");
  if (minutes < 60) return t("tickets.dur_minutes", { m: fmtNumber(minutes) });
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return t("tickets.dur_hours", { h: fmtNumber(hours), mm: String(minutes % 60).padStart(2, "0") });
  return t("tickets.dur_days", { d: fmtNumber(Math.floor(hours / 24)), h: fmtNumber(hours % 24) });
}

export function slaChip(ticket) {
  const node = el("span", { class: "sla", dataset: { ticket: ticket.id } });
  paintSla(node, ticket);
  return node;
}

export function paintSla(node, ticket) {
  const sla = slaState(ticket);
  node.className = `sla sla-${sla.kind}`;
  node.textContent = sla.text;
  node.title = sla.title;
  node.dataset.sla = sla.kind;
}

/** The SLA card of the ticket view: the policy, each target and what met it. */
export function renderSla(ticket) {
  const box = part("sla");
  clear(box);
  const s = ticket.sla || {};
  box.append(el("div", { class: "tk-card-head" }, el("h3", { id: "tk-sla-h", text: t("tickets.sla_heading") }), slaChip(ticket)));
  const facts = el("dl", { class: "facts tk-sla-facts" });
  // When it happened, and whether that was in time for its target.
  const at = (doneAt, dueAt) => {
    if (!doneAt) return t("tickets.sla_not_yet");
    const when = dateTime(doneAt);
    if (!dueAt) return when;
    return t(Date.parse(doneAt) <= Date.parse(dueAt) ? "tickets.sla_at_met" : "tickets.sla_at_late", { when });
  };
  const rows = [
    [t("tickets.sla_policy"), s.policy ? codeText("tickets.policy_", s.policy) : t("tickets.none")],
    [t("tickets.sla_first_due"), s.first_response_due_at ? dateTime(s.first_response_due_at) : "—"],
    [t("tickets.sla_replied"), at(s.first_responded_at, s.first_response_due_at)],
    [t("tickets.sla_resolve_by"), s.resolution_due_at ? dateTime(s.resolution_due_at) : "—"],
    [t("tickets.sla_solved"), at(s.solved_at, s.resolution_due_at)],
  ];
  if (s.paused_at) rows.push([t("tickets.sla_paused_label"), t("tickets.sla_paused_value", { when: dateTime(s.paused_at) })]);
  if (s.warned_at) rows.push([t("tickets.sla_warned"), dateTime(s.warned_at)]);
  if (s.breached_at) rows.push([t("tickets.sla_breached"), dateTime(s.breached_at)]);
  for (const [label, value] of rows) facts.append(el("dt", { text: label }), el("dd", { text: value }));
  box.append(facts);
}
