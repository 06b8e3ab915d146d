// Canned replies on "/": typing "/" at the start of the reply opens a popup filtered by
// what follows; arrows move, Enter or Tab inserts, Escape closes. Placeholders in a reply
// ({visitor.name}, {visitor.first_name}, {agent.name}, {agent.first_name}) are filled in
// as it is inserted, so the agent sees and can edit exactly what will be sent.

import { $, clear, el } from "./dom.js";
import { t } from "./i18n.js";
import { state } from "./state.js";

let input = null;
let matches = [];
let active = 0;

// Leaving the reply box closes the popup a moment later, not at once, so a click on an
// option still lands; by then the agent may be back in the box typing "/" again (they
// clicked a conversation, then the reply box): the popup they see then must stay.
const HIDE_AFTER_BLUR_MS = 150;

export function initCanned(textarea) {
  input = textarea;
  input.addEventListener("blur", () =>
    setTimeout(() => {
      if (document.activeElement !== input) hide();
    }, HIDE_AFTER_BLUR_MS),
  );
}

function query() {
  const match = /^\/(\S*)$/.exec(input.value);
  return match ? match[1].toLowerCase() : null;
}

export function cannedInput() {
  const q = query();
  if (q === null) {
    hide();
    return;
  }
  matches = state.canned.filter(
    (c) => c.shortcut.toLowerCase().includes(q) || c.title.toLowerCase().includes(q),
  );
  active = 0;
  render();
}

/** The list arrived or changed: an open popup shows the fresh matches (an agent who typed
 * "/" right after signing in saw the list before it loaded). */
export function cannedLoaded() {
  if (input && !$("#canned-popup").hidden) cannedInput();
}

function render() {
  const popup = $("#canned-popup");
  clear(popup);
  if (!matches.length) {
    popup.append(el("li", { class: "canned-none", text: t(state.canned.length ? "chat.canned_no_match" : "chat.canned_none") }));
  }
  matches.forEach((reply, index) => {
    popup.append(
      el(
        "li",
        {
          role: "option",
          id: `canned-${index}`,
          class: index === active ? "active" : "",
          "aria-selected": String(index === active),
          onmousedown: (event) => {
            event.preventDefault();
            insert(index);
          },
        },
        el("span", { class: "canned-key", text: `/${reply.shortcut}` }),
        el("span", { class: "canned-title", text: reply.title }),
        el("span", { class: "canned-body", text: reply.body }),
      ),
    );
  });
  popup.hidden = false;
  input.setAttribute("aria-expanded", "true");
  if (matches.length) input.setAttribute("aria-activedescendant", `canned-${active}`);
}

function hide() {
  $("#canned-popup").hidden = true;
  if (input) {
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
  }
}

const PLACEHOLDER = /\{(visitor|agent)\.(name|first_name)\}/g;

/** The reply's text with its placeholders filled: an unnamed visitor is "there" (in
 * Chinese, nothing: "您好{visitor.name}" reads "您好"). */
export function fill(body, visitorName, agentName) {
  return body.replace(PLACEHOLDER, (_, who, part) => {
    const name = ((who === "visitor" ? visitorName : agentName) || "").trim();
    if (!name) return who === "visitor" ? t("chat.canned_unnamed") : "";
    return part === "first_name" ? name.split(/\s+/)[0] : name;
  });
}

function insert(index) {
  const reply = matches[index];
  if (!reply) return;
  const item = state.conversations.get(state.currentId);
  const visitorName = item && item.visitor ? item.visitor.name : null;
  input.value = fill(reply.body, visitorName, state.me && state.me.name);
  input.dispatchEvent(new Event("input"));
  hide();
  input.focus();
}

/** Keys while the popup is open; true when the key was ours. */
export function cannedKeydown(event) {
  if ($("#canned-popup").hidden) return false;
  if (event.key === "ArrowDown" || event.key === "ArrowUp") {
    event.preventDefault();
    if (matches.length) {
      active = (active + (event.key === "ArrowDown" ? 1 : matches.length - 1)) % matches.length;
      render();
    }
    return true;
  }
  if ((event.key === "Enter" || event.key === "Tab") && matches.length) {
    event.preventDefault();
    insert(active);
    return true;
  }
  if (event.key === "Escape") {
    event.preventDefault();
    hide();
    return true;
  }
  return false;
}
