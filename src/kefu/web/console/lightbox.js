// An image attachment opens over the chat (click, or Enter on it) instead of in a new tab;
// Esc, the close button or a click outside the picture close it. A modified click
// (Ctrl/⌘/Shift/middle) still opens the link as the browser would.

import { $, el } from "./dom.js";
import { t } from "./i18n.js";

let dialog = null;

function build() {
  dialog = el("dialog", { id: "lightbox", class: "lightbox", "aria-label": t("chat.image") });
  const close = el("button", { type: "button", class: "icon-btn lightbox-x", "aria-label": t("chat.close_image"), text: "×", onclick: () => dialog.close() });
  dialog.append(close, el("figure", { class: "lightbox-figure" }, el("img", { alt: "" }), el("figcaption", {})));
  dialog.addEventListener("click", (event) => {
    if (event.target === dialog) dialog.close(); // the backdrop, not the picture
  });
  document.body.append(dialog);
}

/** Show `src` (an image attachment's signed link) with its file name. */
export function showImage(src, name) {
  if (!dialog) build();
  const img = $("img", dialog);
  img.src = src;
  img.alt = name;
  $("figcaption", dialog).textContent = name;
  dialog.showModal();
}

/** True when a click should open the lightbox rather than follow the link. */
export function plainClick(event) {
  return event.button === 0 && !event.ctrlKey && !event.metaKey && !event.shiftKey && !event.altKey;
}
