// Live notifications from the rules' `notify` action ("Complaint from Li Wei: parcel lost"):
// a toast in the corner (gone after ~10 s, or at once with its ×), notify.js's chime and,
// when the agent allowed it and the tab is in the background, a system notification; the
// last 20 stay in the bell menu of the nav rail. The bell also offers what it did before:
// turning on desktop notifications.
//
// The message comes from a rule template filled with event data: untrusted text, so it goes
// in through el()/textContent only.

import { $, clear, clock, el } from "./dom.js";
import { t, tn } from "./i18n.js";
import { announce, askPermission, canNotify } from "./notify.js";

const KEPT = 20;
const TOAST_MS = 10000;
const TOASTS_SHOWN = 4;

let kept = []; // newest first: {id, message, rule, event, at}
let unread = 0;
let counter = 0;
let hooks = { showCustomerTickets: () => {}, openTicket: () => {} };

export function initNotifications(options) {
  hooks = { ...hooks, ...options };
  const bell = $("#bell-btn");
  bell.addEventListener("click", (event) => {
    event.stopPropagation();
    toggleMenu();
  });
  $("#bell-clear").addEventListener("click", () => {
    kept = [];
    unread = 0;
    render();
  });
  $("#notify-enable").addEventListener("click", async () => {
    await askPermission();
    renderPermission();
  });
  document.addEventListener("click", (event) => {
    const menu = $("#bell-menu");
    if (!menu.hidden && !menu.contains(event.target)) closeMenu();
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !$("#bell-menu").hidden) {
      closeMenu();
      bell.focus();
    }
  });
  render();
}

/** Signed out: what the previous agent was told is not for the next one. */
export function clearNotifications() {
  kept = [];
  unread = 0;
  for (const node of [...$("#toasts").children]) node.remove();
  closeMenu();
  render();
}

/** A `notification` frame from the socket. */
export function onNotification(frame) {
  const note = {
    id: ++counter,
    message: String(frame.message || t("notifications.fallback")),
    rule: frame.rule || "",
    ticketId: frame.ticket_id || null,
    event: frame.event || {},
    at: new Date().toISOString(),
  };
  kept.unshift(note);
  kept = kept.slice(0, KEPT);
  if ($("#bell-menu").hidden) unread += 1;
  render();
  toast(note);
  announce("kefu", note.message, () => {
    if (note.ticketId) hooks.openTicket(note.ticketId);
    else if (note.event.customer_key) hooks.showCustomerTickets(note.event.customer_key);
  });
}

// ---- toasts ------------------------------------------------------------------------------

function toast(note) {
  const stack = $("#toasts");
  let timer = null;
  const remove = () => {
    clearTimeout(timer);
    node.remove();
  };
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(remove, TOAST_MS);
  };
  const node = el(
    "div",
    { class: "toast", role: "status", dataset: { rule: note.rule } },
    el("span", { class: "toast-icon", "aria-hidden": "true" }, bellIcon()),
    el(
      "div",
      { class: "toast-main" },
      el("p", { class: "toast-text", text: note.message }),
      el("p", { class: "toast-meta", text: meta(note) }),
      links(note, remove, "toast-links"),
    ),
    el("button", { type: "button", class: "icon-btn toast-x", "aria-label": t("notifications.dismiss"), text: "×", onclick: remove }),
  );
  // Reading it stops the clock; leaving restarts it.
  node.addEventListener("mouseenter", () => clearTimeout(timer));
  node.addEventListener("mouseleave", arm);
  node.addEventListener("focusin", () => clearTimeout(timer));
  node.addEventListener("focusout", arm);
  stack.prepend(node);
  for (const old of [...stack.children].slice(TOASTS_SHOWN)) old.remove();
  arm();
}

/** "Open ticket #12" and "C1001's tickets" as separate links (or none); `done` runs first
 * (the toast goes, the menu closes). */
function links(note, done, className) {
  const key = note.event.customer_key;
  if (!note.ticketId && !key) return null;
  const link = (text, go) => el("button", { type: "button", class: "link-btn", text, onclick: () => { done(); go(); } });
  return el(
    "div",
    { class: className },
    note.ticketId ? link(t("notifications.open_ticket", { id: note.ticketId }), () => hooks.openTicket(note.ticketId)) : null,
    key ? link(t("notifications.customer_tickets", { key }), () => hooks.showCustomerTickets(key)) : null,
  );
}

function meta(note) {
  const bits = [];
  if (note.rule) bits.push(t("notifications.rule", { rule: note.rule }));
  if (note.event.type) bits.push(note.event.type);
  return bits.join(" · ");
}

// ---- the bell menu -----------------------------------------------------------------------

function toggleMenu() {
  if ($("#bell-menu").hidden) openMenu();
  else closeMenu();
}

function openMenu() {
  $("#bell-menu").hidden = false;
  $("#bell-btn").setAttribute("aria-expanded", "true");
  unread = 0;
  render();
}

function closeMenu() {
  $("#bell-menu").hidden = true;
  $("#bell-btn").setAttribute("aria-expanded", "false");
}

function render() {
  const count = $("#bell-count");
  count.textContent = unread ? String(unread) : "";
  count.hidden = !unread;
  $("#bell-btn").setAttribute("aria-label", unread ? tn("notifications.new_count", unread) : t("notifications.title"));
  const box = $("#bell-list");
  clear(box);
  for (const note of kept) {
    box.append(
      el(
        "li",
        { class: "bell-item", dataset: { rule: note.rule } },
        el("p", { class: "bell-text", text: note.message }),
        el(
          "p",
          { class: "bell-meta" },
          el("time", { datetime: note.at, text: clock(note.at) }),
          el("span", { text: meta(note) }),
        ),
        links(note, closeMenu, "bell-links"),
      ),
    );
  }
  $("#bell-empty").hidden = kept.length > 0;
  $("#bell-clear").hidden = kept.length === 0;
  renderPermission();
}

function renderPermission() {
  // What the bell did before: ask once for desktop notifications (and unlock the chime).
  const ask = canNotify() && Notification.permission === "default";
  $("#notify-enable").hidden = !ask;
}

function bellIcon() {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("focusable", "false");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", "M18 8a6 6 0 0 0-12 0c0 7-3 9-3 9h18s-3-2-3-9M13.73 21a2 2 0 0 1-3.46 0");
  svg.append(path);
  return svg;
}
