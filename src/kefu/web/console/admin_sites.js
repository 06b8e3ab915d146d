// "Site & widget" (admins): one page per site for everything a visitor meets before an
// agent answers. The widget's greeting, the bot's welcome and offline texts (per language),
// the name the bot signs with, the widget's colour and side, the pre-chat form and the
// office hours with their holidays and special dates (admin_hours_dates.js). GET/PUT /api/v1/sites/{id}/settings; the widget reads them at page load.

import { get, put } from "./api.js";
import { $, el } from "./dom.js";
import { t } from "./i18n.js";
import { field, guard, pageShell, savedNote } from "./admin_ui.js";
import { collectDates, datesBox } from "./admin_hours_dates.js";

const LANGS = ["en", "zh-CN"];
const TEXTS = ["greeting", "welcome", "offline"];
const WEEK = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const ASK = ["off", "optional", "required"];
const ZONES = ["UTC", "Asia/Shanghai", "Asia/Hong_Kong", "Asia/Taipei", "Asia/Singapore", "Asia/Tokyo", "Europe/London", "Europe/Berlin", "America/New_York", "America/Los_Angeles"];

let sites = [];
let chosen = "default";

export async function loadSites() {
  const body = pageShell("texts", t("admin.site_title"), t("admin.site_hint"));
  sites = (await get("/api/v1/sites")).items;
  if (!sites.some((s) => s.id === chosen)) chosen = sites[0].id;
  const picker = el("select", { id: "site-picker", class: "select", onchange: (e) => { chosen = e.target.value; render(body); } },
    sites.map((s) => el("option", { value: s.id, selected: s.id === chosen, text: siteLabel(s) })));
  body.append(el("div", { class: "admin-row" }, field(t("admin.site_pick"), picker)));
  body.append(el("div", { id: "site-form-slot" }));
  render(body);
}

function siteLabel(site) {
  if (site.id === "default") return t("admin.site_default");
  return site.name ? `${site.name} (${site.id})` : site.id;
}

function render(body) {
  const site = sites.find((s) => s.id === chosen);
  const slot = $("#site-form-slot", body);
  slot.replaceChildren(siteForm(site));
}

function textarea(name, value, label) {
  return field(label, el("textarea", { name, rows: "2", maxlength: "4000", text: value || "" }));
}

function siteForm(site) {
  const s = site.settings;
  const langs = [site.locale, ...LANGS.filter((l) => l !== site.locale)];
  const texts = langs.map((lang) => el("fieldset", { class: "admin-box", "data-lang": lang },
    el("legend", { text: t(`admin.site_lang_${lang === "zh-CN" ? "zh" : "en"}`) + (lang === site.locale ? ` · ${t("admin.site_locale")}` : "") }),
    TEXTS.map((kind) => textarea(`${lang}.${kind}`, (s.texts[lang] || {})[kind], t(`admin.site_${kind}`)))));
  const color = el("input", { type: "color", name: "color", value: s.color, "aria-label": t("admin.site_color") });
  const colorText = el("code", { class: "site-color-code", text: s.color });
  color.addEventListener("input", () => (colorText.textContent = color.value));
  const side = el("div", { class: "admin-radios", role: "radiogroup", "aria-label": t("admin.site_position") },
    ["right", "left"].map((p) => el("label", {}, el("input", { type: "radio", name: "position", value: p, checked: s.position === p }), ` ${t(`admin.site_${p}`)}`)));
  const ask = (name) => el("select", { name: `prechat.${name}`, class: "select" },
    ASK.map((a) => el("option", { value: a, selected: s.prechat[name] === a, text: t(`admin.site_ask_${a}`) })));
  const hours = s.office_hours;
  const own = el("input", { type: "checkbox", name: "own_hours", checked: Boolean(hours) });
  const hoursBox = el("div", { class: "admin-hours" },
    field(t("admin.site_timezone"), el("input", { name: "timezone", value: hours ? hours.timezone : "Asia/Shanghai", list: "site-zones", maxlength: "64", spellcheck: "false", required: true })),
    el("datalist", { id: "site-zones" }, ZONES.map((z) => el("option", { value: z }))),
    el("fieldset", { class: "admin-days" }, el("legend", { text: t("admin.site_days") }),
      WEEK.map((d) => el("label", {}, el("input", { type: "checkbox", name: `day.${d}`, checked: hours ? hours.days.includes(d) : WEEK.indexOf(d) < 5 }), ` ${t(`admin.day_${d}`)}`))),
    field(t("admin.site_start"), el("input", { type: "time", name: "start", value: hours ? hours.start : "09:00", required: true })),
    field(t("admin.site_end"), el("input", { type: "time", name: "end", value: hours ? hours.end : "18:00", required: true })),
    datesBox(hours));
  hoursBox.hidden = !hours;
  own.addEventListener("change", () => (hoursBox.hidden = !own.checked));
  const saved = savedNote();
  const error = el("p", { class: "form-error", role: "alert" });
  const form = el("form", { class: "stack-form site-form", "aria-label": siteLabel(site), novalidate: true },
    el("h2", { text: t("admin.site_texts") }),
    el("p", { class: "hint", text: t("admin.site_texts_hint") }),
    el("div", { class: "admin-cols" }, texts),
    el("h2", { text: t("admin.site_widget") }),
    field(t("admin.site_name"), el("input", { name: "name", value: s.name, maxlength: "100", placeholder: site.name || t("admin.site_name_placeholder") })),
    el("div", { class: "admin-row" }, field(t("admin.site_color"), el("span", { class: "admin-inline" }, color, colorText)), el("div", { class: "admin-field" }, el("span", { class: "admin-label", text: t("admin.site_position") }), side)),
    el("h2", { text: t("admin.site_prechat") }),
    el("p", { class: "hint", text: t("admin.site_prechat_hint") }),
    el("div", { class: "admin-row" }, field(t("admin.site_ask_name"), ask("name")), field(t("admin.site_ask_email"), ask("email"))),
    el("h2", { text: t("admin.site_hours") }),
    el("label", { class: "admin-check" }, own, ` ${t("admin.site_own_hours")}`),
    hoursBox,
    error,
    el("div", {}, el("button", { type: "submit", class: "btn primary", text: t("common.save") }), " ", saved));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const values = collect(form, own.checked && hoursBox);
    if (typeof values === "string") {
      error.textContent = values;
      return;
    }
    guard(error, async () => {
      site.settings = await put(`/api/v1/sites/${encodeURIComponent(site.id)}/settings`, values);
      saved.flash();
    });
  });
  return form;
}

/** The form as the API's settings, or a sentence saying what is missing (`ownHours`:
 * the office-hours box when the site has its own, else null). */
function collect(form, ownHours) {
  const data = new FormData(form);
  const texts = {};
  for (const lang of LANGS) {
    const entry = Object.fromEntries(TEXTS.map((kind) => [kind, (data.get(`${lang}.${kind}`) || "").trim()]));
    if (TEXTS.some((kind) => entry[kind])) texts[lang] = entry;
  }
  let office = null;
  if (ownHours) {
    const days = WEEK.filter((d) => data.get(`day.${d}`));
    if (!days.length) return t("admin.site_need_day");
    const start = data.get("start");
    const end = data.get("end");
    if (!start || !end || start >= end) return t("admin.site_need_order");
    const zone = (data.get("timezone") || "").trim();
    // The server's refusal only says "some fields" in Chinese; the browser knows the zones.
    if (!knownZone(zone)) return t("admin.site_bad_zone", { zone });
    const dates = collectDates(ownHours);
    if (typeof dates === "string") return dates;
    office = { timezone: zone, days, start, end, ...dates };
  }
  return {
    name: (data.get("name") || "").trim(),
    color: data.get("color"),
    position: data.get("position") || "right",
    texts,
    prechat: { name: data.get("prechat.name"), email: data.get("prechat.email") },
    office_hours: office,
  };
}

/** Whether the browser knows `zone` as an IANA time zone (the server checks again). */
function knownZone(zone) {
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    return zone !== "";
  } catch {
    return false;
  }
}
