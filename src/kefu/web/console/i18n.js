// The console's words in the agent's language (issue 16, docs/i18n in /work/notes): one catalog
// per language (locales/en.js, locales/zh-CN.js), `t()` for sentences, `tn()` for plurals, and
// Intl for dates, times, durations, money and numbers. The language is chosen once per page
// load: `?lang=`, else the agent's saved language (cached in localStorage for the first paint),
// else the browser's languages, else English. Changing it reloads the page (see setLanguage).

import en from "./locales/en.js";
import zhCN from "./locales/zh-CN.js";

export const LANGUAGES = ["en", "zh-CN"];
const CATALOGS = { en, "zh-CN": zhCN };
const STORED_KEY = "kefu.console.lang";

/** "zh", "zh-Hans-CN", "ZH-cn" → "zh-CN"; "en-US" → "en"; anything else → null. */
export function normalize(code) {
  if (typeof code !== "string") return null;
  const lower = code.trim().toLowerCase();
  if (lower === "zh" || lower.startsWith("zh-") || lower.startsWith("zh_")) return "zh-CN";
  if (lower === "en" || lower.startsWith("en-") || lower.startsWith("en_")) return "en";
  return null;
}

function fromUrl() {
  try {
    return normalize(new URLSearchParams(location.search).get("lang"));
  } catch {
    return null;
  }
}

function stored() {
  try {
    return normalize(localStorage.getItem(STORED_KEY));
  } catch {
    return null;
  }
}

function fromBrowser() {
  const list = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language];
  for (const code of list) {
    const lang = normalize(code);
    if (lang) return lang;
  }
  return null;
}

const urlLang = fromUrl();
let current = urlLang || stored() || fromBrowser() || "en";
document.documentElement.lang = current;

/** "en" | "zh-CN": the language of this page load. */
export function lang() {
  return current;
}

/** True when `?lang=` on the URL chose the language (it wins over the agent's setting). */
export function langFromUrl() {
  return urlLang !== null;
}

/**
 * Remember the agent's saved language (`null`: follow the browser) for the next first paint.
 * Answers whether this page shows another language than the one now chosen, so the caller
 * reloads (every module renders its words once; a reload is simpler and complete).
 */
export function setLanguage(code) {
  const chosen = normalize(code);
  try {
    if (chosen) localStorage.setItem(STORED_KEY, chosen);
    else localStorage.removeItem(STORED_KEY);
  } catch {
    return false; // no storage: a reload could not show it either (and would loop)
  }
  if (urlLang) return false;
  return (chosen || fromBrowser() || "en") !== current;
}

function lookup(key) {
  const own = CATALOGS[current][key];
  if (own !== undefined) return own;
  const fallback = en[key];
  return fallback !== undefined ? fallback : key;
}

function fill(text, params) {
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params && params[name] !== undefined && params[name] !== null ? String(params[name]) : whole));
}

/** The string for `key` in the chosen language, `{name}` placeholders filled from `params`. */
export function t(key, params) {
  const value = lookup(key);
  return fill(typeof value === "string" ? value : value.other || key, params);
}

let plurals = null;
/** Plural forms: the catalog value is {one, other} (zh-CN: {other}); `{count}` is filled. */
export function tn(key, count, params = {}) {
  const value = lookup(key);
  const all = { count: fmtNumber(count), ...params };
  if (typeof value === "string") return fill(value, all);
  if (!plurals) plurals = new Intl.PluralRules(current);
  const form = plurals.select(count);
  return fill(value[form] || value.other || key, all);
}

// -- Intl formatting, all in lang() -----------------------------------------------------

const cache = new Map();
function formatter(kind, options) {
  const id = `${kind}:${JSON.stringify(options)}`;
  if (!cache.has(id)) cache.set(id, new Intl[kind](current, options));
  return cache.get(id);
}

function asDate(iso) {
  const date = iso instanceof Date ? iso : new Date(iso);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** "7 Dec 2026, 14:05" / "2026年12月7日 14:05". */
export function fmtDateTime(iso) {
  const date = asDate(iso);
  return date ? formatter("DateTimeFormat", { dateStyle: "medium", timeStyle: "short" }).format(date) : "";
}

/** "14:05" (or "2:05 PM" where the language says so). */
export function fmtTime(iso) {
  const date = asDate(iso);
  return date ? formatter("DateTimeFormat", { hour: "2-digit", minute: "2-digit" }).format(date) : "";
}

/** "7 Dec 2026" / "2026年12月7日". */
export function fmtDate(iso) {
  const date = asDate(iso);
  return date ? formatter("DateTimeFormat", { dateStyle: "medium" }).format(date) : "";
}

/** A short day without the year: "Dec 7" / "12月7日". */
export function fmtDay(iso) {
  const date = asDate(iso);
  return date ? formatter("DateTimeFormat", { month: "short", day: "numeric" }).format(date) : "";
}

/** Today's time, or another day's date: what a list row shows. */
export function fmtClock(iso) {
  const date = asDate(iso);
  if (!date) return "";
  return date.toDateString() === new Date().toDateString() ? fmtTime(date) : fmtDay(date);
}

const UNITS = [
  ["year", 365 * 86400],
  ["month", 30 * 86400],
  ["week", 7 * 86400],
  ["day", 86400],
  ["hour", 3600],
  ["minute", 60],
  ["second", 1],
];

/** "3 minutes ago" / "3分钟前", "in 2 hours" / "2小时后". */
export function fmtRelative(iso, now = Date.now()) {
  const date = asDate(iso);
  if (!date) return "";
  const seconds = Math.round((date.getTime() - now) / 1000);
  const size = Math.abs(seconds);
  const rtf = formatter("RelativeTimeFormat", { numeric: "auto" });
  if (size < 45) return rtf.format(0, "second");
  for (const [unit, length] of UNITS) {
    if (size >= length) return rtf.format(Math.round(seconds / length), unit);
  }
  return rtf.format(seconds, "second");
}

function unit(value, name) {
  return formatter("NumberFormat", { style: "unit", unit: name, unitDisplay: "narrow" }).format(value);
}

/** A duration in the two largest units: "4m 05s"-like, "1h 20m" / "1小时20分钟". */
export function fmtDuration(seconds) {
  const s = Math.max(0, Math.floor(Number(seconds) || 0));
  if (s < 60) return unit(s, "second");
  const m = Math.floor(s / 60);
  const join = (a, b) => t("common.duration_pair", { a, b });
  if (m < 60) return s % 60 ? join(unit(m, "minute"), unit(s % 60, "second")) : unit(m, "minute");
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? join(unit(h, "hour"), unit(m % 60, "minute")) : unit(h, "hour");
  const d = Math.floor(h / 24);
  return h % 24 ? join(unit(d, "day"), unit(h % 24, "hour")) : unit(d, "day");
}

/** "¥1,299.00" / "$12.50" in the chosen language's style; a bad currency code shows the number and code. */
export function fmtMoney(amount, currency) {
  const value = Number(amount);
  if (!Number.isFinite(value)) return String(amount ?? "");
  try {
    return formatter("NumberFormat", { style: "currency", currency: String(currency || "").toUpperCase() }).format(value);
  } catch {
    return `${fmtNumber(value)} ${currency || ""}`.trim();
  }
}

/** 12345.6 → "12,345.6". */
export function fmtNumber(n) {
  const value = Number(n);
  return Number.isFinite(value) ? formatter("NumberFormat", { maximumFractionDigits: 2 }).format(value) : String(n ?? "");
}

/** A list joined the language's way: "a, b and c" / "a、b和c". */
export function fmtList(items) {
  return formatter("ListFormat", { style: "long", type: "conjunction" }).format(items.map(String));
}

/** The sentence for a server error code (`errors.<code>`), else `fallback`, else a generic one. */
export function errorText(code, fallback) {
  const key = `errors.${code}`;
  if (code && (CATALOGS[current][key] !== undefined || en[key] !== undefined)) return t(key);
  return fallback || t("errors.generic");
}

const ATTRIBUTES = [
  ["i18nPlaceholder", "placeholder"],
  ["i18nTitle", "title"],
  ["i18nAriaLabel", "aria-label"],
];

/** Fill what index.html marks: data-i18n (text), data-i18n-placeholder, -title, -aria-label. */
export function translatePage(root = document) {
  const scope = root.querySelectorAll ? root : document;
  for (const node of scope.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const [data, attribute] of ATTRIBUTES) {
    const selector = `[data-${data.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}]`;
    for (const node of scope.querySelectorAll(selector)) node.setAttribute(attribute, t(node.dataset[data]));
  }
  if (scope === document || scope === document.documentElement) {
    document.documentElement.lang = current;
    const title = document.querySelector("title[data-i18n]");
    if (title) document.title = t(title.dataset.i18n);
  }
}
