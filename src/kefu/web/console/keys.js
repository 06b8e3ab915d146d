// Keyboard: "?" shows the shortcuts (anywhere but a text field), Alt+1…4 switch the list's
// tabs, and the list's arrow keys move through the conversations while the focus stays in
// the list (Enter then goes to the reply box).

import { $, $$ } from "./dom.js";
import { state } from "./state.js";

const TABS = ["mine", "waiting", "all", "closed"];

/** `open(id, {keepFocus})` opens a conversation; `selectTab(tab)` switches tabs. */
export function initKeys({ open, selectTab }) {
  $("#shortcuts-close").addEventListener("click", () => $("#shortcuts").close());
  document.addEventListener("keydown", (event) => {
    if (event.altKey && TABS[Number(event.key) - 1]) {
      event.preventDefault();
      selectTab(TABS[Number(event.key) - 1]);
      return;
    }
    if (event.key === "?" && !typing(event.target) && !document.querySelector("dialog[open]")) {
      event.preventDefault();
      $("#shortcuts").showModal();
    }
  });
  const list = $("#conv-list");
  list.addEventListener("keydown", (event) => {
    const items = $$("li[role=option]", list);
    if (!items.length) return;
    const index = items.findIndex((li) => li.dataset.id === state.currentId);
    let next = null;
    if (event.key === "ArrowDown") next = items[Math.min(items.length - 1, index + 1)];
    else if (event.key === "ArrowUp") next = items[Math.max(0, index - 1)];
    else if (event.key === "Home") next = items[0];
    else if (event.key === "End") next = items[items.length - 1];
    else if (event.key === "Enter" && index >= 0) {
      event.preventDefault();
      $("#composer-input").focus();
      return;
    }
    if (!next) return;
    event.preventDefault();
    open(next.dataset.id, { keepFocus: true });
    next.scrollIntoView({ block: "nearest" });
  });
}

function typing(target) {
  return target instanceof HTMLElement && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
}
