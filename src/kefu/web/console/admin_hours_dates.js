// The Site & widget page's dated exceptions to the office hours (issue 15): holidays
// (closed all day) and special hours for one date, in the site's time zone. One row per
// date: the date, "closed" or "special hours" with its times, and a remove button. The
// server checks them again (YYYY-MM-DD, start before end, a date once): 422 otherwise.

import { el } from "./dom.js";
import { t } from "./i18n.js";

/** The editor for `hours.holidays` and `hours.special` (hours may be null). */
export function datesBox(hours) {
  const list = el("div", { class: "admin-dates-list" });
  const rows = [
    ...((hours && hours.holidays) || []).map((date) => ({ date, closed: true })),
    ...((hours && hours.special) || []).map((s) => ({ date: s.date, closed: false, start: s.start, end: s.end })),
  ].sort((a, b) => (a.date < b.date ? -1 : 1));
  rows.forEach((row) => list.append(dateRow(row)));
  const add = el("button", { type: "button", class: "btn", text: t("admin.site_add_date"),
    onclick: () => {
      const row = dateRow({ date: "", closed: true });
      list.append(row);
      row.querySelector("input").focus();
    } });
  return el("fieldset", { class: "admin-box admin-dates" },
    el("legend", { text: t("admin.site_dates") }),
    el("p", { class: "hint", text: t("admin.site_dates_hint") }),
    list, el("div", {}, add));
}

function dateRow(row) {
  const date = el("input", { type: "date", name: "x.date", value: row.date, required: true, "aria-label": t("admin.site_date") });
  const kind = el("select", { name: "x.kind", class: "select", "aria-label": t("admin.site_date_kind") },
    el("option", { value: "closed", selected: row.closed, text: t("admin.site_date_closed") }),
    el("option", { value: "special", selected: !row.closed, text: t("admin.site_date_special") }));
  const start = el("input", { type: "time", name: "x.start", value: row.start || "09:00", "aria-label": t("admin.site_start") });
  const end = el("input", { type: "time", name: "x.end", value: row.end || "13:00", "aria-label": t("admin.site_end") });
  const times = el("span", { class: "admin-inline" }, start, "–", end);
  const sync = () => (times.hidden = kind.value !== "special");
  kind.addEventListener("change", sync);
  sync();
  const line = el("div", { class: "admin-date-row", role: "group", "aria-label": t("admin.site_date") }, date, kind, times);
  line.append(el("button", { type: "button", class: "btn link", text: t("admin.site_remove_date"),
    "aria-label": t("admin.site_remove_date"), onclick: () => line.remove() }));
  return line;
}

/** `{holidays, special}` from the editor, or a sentence saying what to fix. */
export function collectDates(box) {
  const holidays = [];
  const special = [];
  const seen = new Set();
  for (const line of box.querySelectorAll(".admin-date-row")) {
    const [date, kind, start, end] = ["date", "kind", "start", "end"].map((n) => line.querySelector(`[name="x.${n}"]`).value);
    if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) return t("admin.site_need_date");
    if (seen.has(date)) return t("admin.site_date_twice", { date });
    seen.add(date);
    if (kind === "closed") holidays.push(date);
    else if (!start || !end || start >= end) return t("admin.site_date_order", { date });
    else special.push({ date, start, end });
  }
  return { holidays, special };
}
