// The visitor details panel: a column beside the chat on wide screens (ⓘ hides and shows
// it), a drawer over the chat below 1100 px. The drawer has its own close button, closes
// on Esc and on a tap outside it, and never outlives the chat it was opened for.

import { $ } from "./dom.js";

const NARROW = window.matchMedia("(max-width: 1100px)");

export function initDrawer() {
  $("#details-btn").addEventListener("click", () => {
    if (NARROW.matches) {
      if (document.body.classList.contains("show-details")) closeDrawer();
      else openDrawer();
    } else {
      const shown = !document.body.classList.toggle("hide-details");
      $("#details-btn").setAttribute("aria-expanded", String(shown));
    }
  });
  $("#details-close").addEventListener("click", () => closeDrawer(true));
  $("#details-backdrop").addEventListener("click", () => closeDrawer(true));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && drawerOpen() && !document.querySelector("dialog[open]")) {
      event.preventDefault();
      closeDrawer(true);
    }
  });
  NARROW.addEventListener("change", () => closeDrawer());
  $("#back-btn").addEventListener("click", () => closeDrawer());
  renderExpanded();
}

function drawerOpen() {
  return NARROW.matches && document.body.classList.contains("show-details");
}

/** On a narrow screen, slide the panel in (a wide screen shows it as a column). */
export function openDrawer() {
  if (!NARROW.matches) return;
  document.body.classList.add("show-details");
  $("#details-backdrop").hidden = false;
  renderExpanded();
  $("#details-close").focus();
}

/** Close the drawer (a wide screen's column is left as the agent set it). */
export function closeDrawer(refocus = false) {
  const was = drawerOpen();
  document.body.classList.remove("show-details");
  $("#details-backdrop").hidden = true;
  renderExpanded();
  if (was && refocus) $("#details-btn").focus();
}

function renderExpanded() {
  const shown = NARROW.matches ? document.body.classList.contains("show-details") : !document.body.classList.contains("hide-details");
  $("#details-btn").setAttribute("aria-expanded", String(shown));
}
