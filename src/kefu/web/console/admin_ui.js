// What the newer admin pages (sites, webhooks, API tokens, in-place edits) share: a page
// skeleton built in script (index.html only holds the empty page), labelled fields, an
// error line that says the server's refusal as a sentence (why.js), a "Saved." line.

import { $, clear, el } from "./dom.js";
import { t } from "./i18n.js";
import { why } from "./why.js";

/** The page's container, emptied, with its heading and an optional hint. */
export function pageShell(id, title, hint) {
  const root = $(`#page-${id}`);
  if (!root.dataset.built) {
    root.dataset.built = "1";
    root.append(el("h1", { text: title }));
    if (hint) root.append(el("p", { class: "hint", text: hint }));
    root.append(el("p", { class: "form-error", role: "alert", "data-error": id }));
    root.append(el("div", { class: "admin-body" }));
  }
  const body = $(".admin-body", root);
  clear(body);
  return body;
}

/** Run `work`; a refusal shows in the page's (or the given) error line, else it is cleared. */
export async function guard(where, work) {
  const box = typeof where === "string" ? $(`[data-error=${where}]`) : where;
  if (box) box.textContent = "";
  try {
    return await work();
  } catch (err) {
    if (box) box.textContent = why(err);
    return undefined;
  }
}

/** <label>text <control></label>: the label names the control for assistive tech. */
export function field(text, control, extra = "") {
  // The label's own text would include a select's options: name the control itself.
  if (["INPUT", "SELECT", "TEXTAREA"].includes(control.tagName) && !control.hasAttribute("aria-label")) control.setAttribute("aria-label", text);
  return el("label", { class: `admin-field ${extra}`.trim() }, el("span", { class: "admin-label", text }), control);
}

/** A status line that says "Saved." for a moment. */
export function savedNote() {
  const note = el("span", { class: "saved", role: "status" });
  note.flash = () => {
    note.textContent = t("common.saved");
    setTimeout(() => (note.textContent = ""), 2500);
  };
  return note;
}

/** A small button; `attrs` may replace its class (`{ class: "btn small danger" }`). */
export function button(text, onclick, attrs = {}) {
  return el("button", { type: "button", class: "btn small", text, onclick, ...attrs });
}

/** A small modal dialog with a form; resolves with the form's data, or null on cancel/Esc. */
export function askForm(title, controls, submitText) {
  return new Promise((resolve) => {
    const error = el("p", { class: "form-error", role: "alert" });
    const form = el("form", { class: "saga-dialog-form", method: "dialog" },
      el("header", { class: "saga-dialog-head" }, el("h2", { text: title })),
      el("div", { class: "saga-dialog-body stack-form" }, controls, error),
      el("footer", { class: "saga-dialog-foot saga-dialog-buttons" },
        el("button", { type: "submit", class: "btn primary", text: submitText }),
        el("button", { type: "button", class: "btn", text: t("common.cancel"), onclick: () => dialog.close() })));
    const dialog = el("dialog", { class: "saga-dialog admin-dialog" }, form);
    let answer = null;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!form.reportValidity()) return;
      answer = Object.fromEntries(new FormData(form).entries());
      dialog.close();
    });
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(answer);
    });
    document.body.append(dialog);
    dialog.showModal();
    const first = form.querySelector("input, textarea, select");
    if (first) first.focus();
  });
}
