// The visitor block of the right-hand panel: where they are, where they came from, what
// they run, and their local time (ticking, from their browser's time zone). Below it, the
// Customer 360 block (customer360.js) for the same conversation.

import { get } from "./api.js";
import { showCustomer } from "./customer360.js";
import { showPrevious } from "./previous.js";
import { $, clear, el, safeLink } from "./dom.js";
import { lang, t } from "./i18n.js";
import { customerNames, state, visitorName } from "./state.js";

let visitor = null;
let shownFor = null;

let shownItem = null;
// The 360 told a customer's name: the Name row may show it now.
document.addEventListener("kefu:titles", () => shownItem && visitor && render(shownItem));

export async function showVisitor(item) {
  shownFor = item.visitor_id;
  shownItem = item;
  visitor = { id: item.visitor_id, name: item.visitor && item.visitor.name, email: item.visitor && item.visitor.email };
  render(item);
  showCustomer(item);
  showPrevious(item);
  try {
    const full = await get(`/api/v1/visitors/${encodeURIComponent(item.visitor_id)}`);
    if (shownFor !== item.visitor_id) return;
    visitor = full;
  } catch {
    /* older server, or not allowed: keep what the list knows */
  }
  render(item);
}

/** "Chrome 131 on macOS" from a user-agent string; the full string stays in the tooltip. */
function describeAgent(ua) {
  const browsers = [["Edg/", "Edge"], ["OPR/", "Opera"], ["Firefox/", "Firefox"], ["Chrome/", "Chrome"], ["Version/", "Safari"]];
  const systems = [["iPhone", "iOS"], ["iPad", "iPadOS"], ["Android", "Android"], ["Mac OS X", "macOS"], ["Windows", "Windows"], ["Linux", "Linux"]];
  let browser = null;
  for (const [mark, name] of browsers) {
    const match = new RegExp(`${mark.replace("/", "\\/")}(\\d+)`).exec(ua);
    if (match) {
      browser = `${name} ${match[1]}`;
      break;
    }
  }
  const system = systems.find(([mark]) => ua.includes(mark));
  if (!browser) return ua.length > 60 ? `${ua.slice(0, 60)}…` : ua;
  return system ? t("details.browser_on", { browser, system: system[1] }) : browser;
}

function localTime(zone) {
  try {
    return new Intl.DateTimeFormat(lang(), { hour: "2-digit", minute: "2-digit", weekday: "short", timeZone: zone }).format(new Date());
  } catch {
    return null;
  }
}

function render(item) {
  const dl = $("#visitor-details");
  clear(dl);
  const rows = [
    // A name the visitor gave, else the customer's from the 360; never a key shown as a name.
    ["name", visitor.name || (item.customer_key ? customerNames.get(item.customer_key) : visitorName(item))],
    ["email", visitor.email],
    ["page", visitor.page_url ? safeLink(visitor.page_url) : null],
    ["referrer", visitor.referrer ? safeLink(visitor.referrer) : null],
    ["ip", visitor.ip],
    ["browser", visitor.user_agent ? el("span", { title: visitor.user_agent, text: describeAgent(visitor.user_agent) }) : null],
    ["local_time", visitor.timezone ? zoneTime(visitor.timezone) : null],
    ["language", visitor.locale],
    ["customer_id", visitor.external_id ? t(visitor.identity_verified ? "details.verified" : "details.unverified", { id: visitor.external_id }) : null],
  ];
  for (const [key, value] of rows) {
    if (value === null || value === undefined || value === "") continue;
    dl.append(el("dt", { text: t(`details.${key}`) }), el("dd", { dataset: key === "local_time" ? { tz: visitor.timezone } : {} }, value));
  }
}

function zoneTime(zone) {
  return t("details.local_time_value", { time: localTime(zone) || "?", zone });
}

setInterval(() => {
  const dd = document.querySelector("#visitor-details dd[data-tz]");
  if (dd) dd.textContent = zoneTime(dd.dataset.tz);
}, 15000);

export function currentVisitor() {
  return state.currentId ? visitor : null;
}
