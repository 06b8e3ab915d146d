// Reports (supervisors): the period's figures as tiles, conversations per day as a small
// SVG bar chart, and a table per agent, from GET /api/v1/reports/summary. Days are UTC
// days, as the server counts them. Everything shown goes in as text (textContent).

import { get } from "./api.js";
import { $, $$, clear, el } from "./dom.js";
import { fmtDuration, fmtNumber, lang, t, tn } from "./i18n.js";
import { why } from "./why.js";

const SVG = "http://www.w3.org/2000/svg";
// Chart geometry in viewBox units; CSS scales the whole drawing to the page's width.
const CHART = { width: 720, height: 200, left: 34, right: 8, top: 12, bottom: 26 };
const DAY_MS = 24 * 60 * 60 * 1000;

let days = 7;
let wired = false;
let asked = 0; // the latest request: an answer to an earlier click is dropped

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  for (const child of children) if (child) node.append(child);
  return node;
}

function svgText(attrs, text) {
  const node = svg("text", attrs);
  node.textContent = text;
  return node;
}

/** The period of the last `n` UTC days, today included, as the API's inclusive dates. */
function lastDays(n) {
  const today = new Date();
  const from = new Date(today.getTime() - (n - 1) * DAY_MS);
  return { from: from.toISOString().slice(0, 10), to: today.toISOString().slice(0, 10) };
}

const seconds = (value) => (value === null ? "—" : fmtDuration(value));
const oneDecimal = () => new Intl.NumberFormat(lang(), { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const average = (value) => (value === null ? "—" : oneDecimal().format(value));
const percent = (value) => (value === null ? "—" : new Intl.NumberFormat(lang(), { style: "percent", maximumFractionDigits: 1 }).format(value / 100));
const count = (value) => fmtNumber(value);
// The server counts UTC days: a day's label is that UTC day, in the agent's language.
const dayLabel = (iso, options) => new Intl.DateTimeFormat(lang(), { timeZone: "UTC", ...options }).format(new Date(`${iso}T00:00:00Z`));

export async function loadReports() {
  if (!wired) {
    wired = true;
    for (const button of $$("#rp-periods [data-days]")) {
      button.addEventListener("click", () => {
        days = Number(button.dataset.days);
        loadReports().catch((err) => ($("[data-error=reports]").textContent = why(err)));
      });
    }
  }
  for (const button of $$("#rp-periods [data-days]")) button.setAttribute("aria-pressed", String(Number(button.dataset.days) === days));
  const { from, to } = lastDays(days);
  const mine = ++asked;
  const report = await get(`/api/v1/reports/summary?from=${from}&to=${to}`);
  if (mine !== asked) return;
  $("[data-error=reports]").textContent = "";
  $("#rp-range").textContent = t("reports.range", {
    from: dayLabel(from, { day: "numeric", month: "short" }),
    to: dayLabel(to, { day: "numeric", month: "short", year: "numeric" }),
  });
  renderTiles(report);
  renderChart(report.conversations.per_day);
  renderAgents(report.agents);
}

function tile(key, label, value, detail) {
  return el("section", { class: "rp-tile", "data-tile": key, "aria-label": label },
    el("h2", { text: label }),
    el("p", { class: "rp-value", text: value }),
    el("p", { class: "rp-detail", text: detail }));
}

function renderTiles(report) {
  const { conversations: c, first_response: fr, resolution: r, satisfaction: s, tickets: tk } = report;
  const box = $("#rp-tiles");
  clear(box);
  box.append(
    tile("conversations", t("reports.conversations"), count(c.opened),
      t("reports.conversations_detail", { closed: count(c.closed), waiting: count(c.waiting_now) })),
    tile("first-response", t("reports.median_first"), seconds(fr.median_seconds),
      t("reports.first_detail", { p90: seconds(fr.p90_seconds), count: count(fr.unanswered) })),
    tile("resolution", t("reports.median_resolution"), seconds(r.median_seconds),
      t("reports.resolution_detail", { p90: seconds(r.p90_seconds), count: count(r.count) })),
    tile("csat", t("reports.csat"), percent(s.csat_percent),
      s.ratings ? tn("reports.ratings_detail", s.ratings, { average: average(s.average) }) : t("reports.no_ratings")),
    tile("tickets", t("reports.tickets"), count(tk.created),
      t("reports.tickets_detail", {
        solved: count(tk.solved),
        first: count(tk.first_response_breaches),
        resolution: count(tk.resolution_breaches),
      })));
}

function renderChart(perDay) {
  const box = $("#rp-chart");
  clear(box);
  const top = Math.max(1, ...perDay.map((d) => Math.max(d.opened, d.closed)));
  const plotWidth = CHART.width - CHART.left - CHART.right;
  const plotHeight = CHART.height - CHART.top - CHART.bottom;
  const slot = plotWidth / perDay.length;
  const bar = Math.max(1, Math.min(18, slot * 0.36));
  const y = (value) => CHART.top + plotHeight - (value / top) * plotHeight;
  const opened = perDay.reduce((sum, d) => sum + d.opened, 0);
  const closed = perDay.reduce((sum, d) => sum + d.closed, 0);
  const chart = svg("svg", {
    viewBox: `0 0 ${CHART.width} ${CHART.height}`, class: "rp-svg", role: "img",
    "aria-label": t("reports.chart_aria", { opened: count(opened), closed: count(closed) }),
  });
  for (const value of [0, top]) {
    chart.append(svg("line", { x1: CHART.left, x2: CHART.width - CHART.right, y1: y(value), y2: y(value), class: "rp-grid" }));
    chart.append(svgText({ x: CHART.left - 6, y: y(value) + 4, class: "rp-axis", "text-anchor": "end" }, count(value)));
  }
  // Every label when they fit, else about ten of them.
  const labelEvery = Math.ceil(perDay.length / 10);
  perDay.forEach((day, index) => {
    const middle = CHART.left + slot * index + slot / 2;
    const group = svg("g", { "data-date": day.date });
    const title = svg("title"); // the tooltip over the day's bars
    title.textContent = t("reports.day_title", {
      day: dayLabel(day.date, { weekday: "short", day: "numeric", month: "short" }),
      opened: count(day.opened),
      closed: count(day.closed),
    });
    group.append(title);
    group.append(svg("rect", { x: middle - bar - 1, y: y(day.opened), width: bar, height: y(0) - y(day.opened), rx: 2, class: "rp-bar opened" }));
    group.append(svg("rect", { x: middle + 1, y: y(day.closed), width: bar, height: y(0) - y(day.closed), rx: 2, class: "rp-bar closed" }));
    if (index % labelEvery === 0) {
      group.append(svgText({ x: middle, y: CHART.height - 8, class: "rp-axis", "text-anchor": "middle" },
        dayLabel(day.date, perDay.length > 7 ? { day: "numeric", month: "numeric" } : { weekday: "short", day: "numeric" })));
    }
    chart.append(group);
  });
  box.append(chart,
    el("p", { class: "rp-legend" },
      el("span", { class: "rp-key opened", "aria-hidden": "true" }), `${t("reports.opened")} `,
      el("span", { class: "rp-key closed", "aria-hidden": "true" }), t("reports.closed")));
}

function renderAgents(agents) {
  const rows = $("#rp-agents");
  clear(rows);
  $("#rp-agents-empty").hidden = agents.length > 0;
  for (const agent of agents) {
    rows.append(el("tr", { "data-agent": agent.id },
      el("th", { scope: "row", text: agent.name }),
      el("td", { class: "num", text: count(agent.conversations_closed) }),
      el("td", { class: "num", text: count(agent.messages_sent) }),
      el("td", { class: "num", text: count(agent.first_responses) }),
      el("td", { class: "num", text: seconds(agent.first_response_median_seconds) }),
      el("td", { class: "num", text: count(agent.ratings) }),
      el("td", { class: "num", text: average(agent.rating_average) }),
      el("td", { class: "num", text: percent(agent.csat_percent) })));
  }
}
