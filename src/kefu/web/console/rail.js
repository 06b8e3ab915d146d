// The nav rail on a phone: a bottom bar has room for the inbox, tickets, the bell and a
// "More" button; the other pages (an admin has nine) and Sign out are in the More menu,
// built from the rail's own buttons so both always offer the same pages.

import { $, $$, clear, el } from "./dom.js";

export function initRail() {
  const button = $("#more-btn");
  button.addEventListener("click", (event) => {
    event.stopPropagation();
    if ($("#more-menu").hidden) openMenu();
    else closeMenu();
  });
  document.addEventListener("click", (event) => {
    const menu = $("#more-menu");
    if (!menu.hidden && !menu.contains(event.target)) closeMenu();
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !$("#more-menu").hidden) {
      closeMenu();
      button.focus();
    }
  });
  window.matchMedia("(max-width: 720px)").addEventListener("change", () => closeMenu());
}

/** The rail's buttons that live in the More menu on a phone. */
function folded() {
  return $$(".rail-btn[data-page][data-role], #logout-btn").filter((b) => !b.hidden);
}

function openMenu() {
  const list = $("#more-list");
  clear(list);
  for (const original of folded()) {
    const icon = original.querySelector("svg").cloneNode(true);
    const current = original.getAttribute("aria-current") === "page";
    list.append(
      el(
        "li",
        {},
        el(
          "button",
          {
            type: "button",
            class: `more-item${current ? " active" : ""}`,
            "aria-current": current ? "page" : null,
            onclick: () => {
              closeMenu();
              original.click();
            },
          },
          icon,
          el("span", { text: original.getAttribute("aria-label") }),
        ),
      ),
    );
  }
  $("#more-menu").hidden = false;
  $("#more-btn").setAttribute("aria-expanded", "true");
  list.querySelector("button")?.focus();
}

function closeMenu() {
  $("#more-menu").hidden = true;
  $("#more-btn").setAttribute("aria-expanded", "false");
}
