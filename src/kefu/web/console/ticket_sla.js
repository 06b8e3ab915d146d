// The SLA badge and the ticket view's SLA card. The server judges the SLA (which target
// runs, the paused resolution clock, warnings, breaches, met or missed: docs/rest.md,
// `sla_status`); this module only draws its verdict, and moves the badge from ok to
// warning to breached as this browser's clock passes the instants the server gave
// (`warning_at`, `due_at`), so a countdown keeps ticking between answers.

import { clear, el } from "./dom.js";
import { dateTime, part } from "./ticket_common.js";

const TARGETS = {
  first_response: { short: "1st reply", long: "First response" },
  resolution: { short: "resolution", long: "Resolution" },
};

/** The badge for a ticket now: {kind: ok|warn|breach|paused|none|done, text, title}. */
export function slaState(ticket, now = Date.now()) {
  const verdict = ticket.sla_status || { state: "none" };
  const s = ticket.sla || {};
  if (ticket.status === "solved" || ticket.status === "closed") {
    const text = { met: "SLA met", missed: "SLA missed" }[verdict.state] || "no SLA";
    return { kind: "done", text, title: s.solved_at ? `Solved ${dateTime(s.solved_at)}` : "" };
  }
  if (verdict.state === "none" || !verdict.due_at) {
    return { kind: "none", text: "no SLA", title: "No SLA target applies to this ticket" };
  }
  const target = TARGETS[verdict.target] || TARGETS.resolution;
  if (verdict.paused) {
    const since = `Resolution clock paused since ${dateTime(s.paused_at)}: waiting on the customer`;
    if (verdict.state === "breached") {
      return { kind: "breach", text: "resolution · breached, paused", title: `${since} (already breached)` };
    }
    return { kind: "paused", text: "resolution · paused", title: since };
  }
  const due = Date.parse(verdict.due_at);
  const title = `${target.long} due ${dateTime(verdict.due_at)}`;
  if (verdict.state === "breached" || now >= due) {
    return { kind: "breach", text: `${target.short} · breached ${human(now - due)} ago`, title: `${title} (breached)` };
  }
  const warned = verdict.state === "warning" || (!!verdict.warning_at && now >= Date.parse(verdict.warning_at));
  return { kind: warned ? "warn" : "ok", text: `${target.short} · ${human(due - now)} left`, title };
}

/** "<1 min", "12 min", "3 h 05 min", "2 d 4 h". */
export function human(ms) {
  const minutes = Math.floor(Math.max(0, ms) / 60000);
  if (minutes < 1) return "<1 min";
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} h ${String(minutes % 60).padStart(2, "0")} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
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
  box.append(el("div", { class: "tk-card-head" }, el("h3", { id: "tk-sla-h", text: "SLA" }), slaChip(ticket)));
  const facts = el("dl", { class: "facts tk-sla-facts" });
  const met = (doneAt, dueAt) => (doneAt && dueAt ? (Date.parse(doneAt) <= Date.parse(dueAt) ? " (met)" : " (late)") : "");
  const rows = [
    ["Policy", s.policy || "none"],
    ["1st reply due", s.first_response_due_at ? dateTime(s.first_response_due_at) : "—"],
    ["Replied", s.first_responded_at ? `${dateTime(s.first_responded_at)}${met(s.first_responded_at, s.first_response_due_at)}` : "not yet"],
    ["Resolve by", s.resolution_due_at ? dateTime(s.resolution_due_at) : "—"],
    ["Solved", s.solved_at ? `${dateTime(s.solved_at)}${met(s.solved_at, s.resolution_due_at)}` : "not yet"],
  ];
  if (s.paused_at) rows.push(["Paused", `since ${dateTime(s.paused_at)} (pending)`]);
  if (s.warned_at) rows.push(["Warned", dateTime(s.warned_at)]);
  if (s.breached_at) rows.push(["Breached", dateTime(s.breached_at)]);
  for (const [label, value] of rows) facts.append(el("dt", { text: label }), el("dd", { text: value }));
  box.append(facts);
}
