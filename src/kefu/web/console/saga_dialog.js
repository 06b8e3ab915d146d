// The confirm dialog before a saga starts (the 360 panel's "Refund" on an order): the saga's
// title, the input it will send (prefilled from the order, the rest typed by the agent) and
// each step it will run, with whether it can be undone. Confirming POSTs the saga with an
// idempotency key made once per dialog, so a double click, or a retry after a lost answer,
// starts one saga.

import { startSaga } from "./api.js";
import { clear, el } from "./dom.js";
import { fmtNumber, t } from "./i18n.js";
import { label, plannedSteps } from "./saga_timeline.js";
import { typed, why } from "./why.js";

let dialog = null;

function dialogNode() {
  if (!dialog) {
    dialog = el("dialog", { id: "saga-dialog", class: "saga-dialog", "aria-labelledby": "saga-dialog-h" });
    document.body.append(dialog);
  }
  return dialog;
}

/** A key no other dialog will make: random, 128 bits. */
export function newIdempotencyKey() {
  if (globalThis.crypto && typeof crypto.randomUUID === "function") return `console-${crypto.randomUUID()}`;
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `console-${[...bytes].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/**
 * Ask before starting `definition` for `customerKey`. `prefill` gives input values (the
 * order's id and total), `context` a line saying what it is about, `currency` the
 * amount's unit. `onStarted(sagaId)` runs once the server accepted it.
 */
export function confirmSaga({ definition, customerKey, prefill = {}, locked = [], context = "", currency = "", onStarted }) {
  const box = dialogNode();
  clear(box);
  const idempotencyKey = newIdempotencyKey();
  const fields = Object.entries(definition.input || {});
  const error = el("p", { class: "form-error saga-dialog-error", role: "alert" });
  const confirmText = t("sagas.confirm", { title: definition.title || definition.name });
  const confirm = el("button", { type: "submit", class: "btn primary", text: confirmText });
  const cancel = el("button", { type: "button", class: "btn", text: t("common.cancel"), onclick: () => box.close() });
  const form = el(
    "form",
    { class: "saga-dialog-form", method: "dialog", novalidate: true, autocomplete: "off" },
    el(
      "header",
      { class: "saga-dialog-head" },
      el("h2", { id: "saga-dialog-h", text: definition.title || definition.name }),
      context ? el("p", { class: "saga-dialog-context", text: context }) : null,
    ),
    el(
      "div",
      { class: "saga-dialog-body" },
      el("h3", { text: t("sagas.will_send") }),
      el("div", { class: "saga-fields" }, fields.map(([name, spec]) => field(name, spec, prefill[name], locked.includes(name), currency))),
      el("h3", { text: t("sagas.steps_count", { count: fmtNumber((definition.steps || []).length) }) }),
      plannedSteps(definition),
    ),
    el("footer", { class: "saga-dialog-foot" }, error, el("div", { class: "saga-dialog-buttons" }, cancel, confirm)),
  );
  let busy = false;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (busy) return; // the one key covers a double click anyway; this spares the request
    const input = readInput(form, fields, error);
    if (!input) return;
    busy = true;
    confirm.disabled = true;
    confirm.textContent = t("sagas.starting");
    error.textContent = "";
    try {
      const answer = await startSaga(definition.name, input, customerKey, idempotencyKey);
      box.close();
      onStarted(answer.saga_id);
    } catch (err) {
      // Nothing started on a refusal; after a lost answer the same key finds the same saga.
      error.textContent = t(err.status === 422 ? "sagas.not_started" : "sagas.start_failed", { error: why(err) });
      confirm.disabled = false;
      confirm.textContent = confirmText;
    } finally {
      busy = false;
    }
  });
  box.append(form);
  box.dataset.idempotencyKey = idempotencyKey;
  box.showModal();
  // The first thing left to type (the reason), not a prefilled amount a stray key would change.
  const empty = [...form.querySelectorAll("input:not([readonly]):not([type=checkbox])")].find((node) => !node.value);
  (empty || confirm).focus();
  return box;
}

function field(name, spec, value, locked, currency) {
  const id = `saga-in-${name}`;
  const type = spec.type || "string";
  const attrs = { id, name, "aria-describedby": spec.description ? `${id}-hint` : undefined };
  let input;
  if (type === "boolean") {
    input = el("input", { ...attrs, type: "checkbox", checked: value === true, disabled: locked });
  } else if (Array.isArray(spec.enum)) {
    input = el(
      "select",
      { ...attrs, class: "select", required: !!spec.required, disabled: locked },
      spec.required ? null : el("option", { value: "", text: "—" }),
      spec.enum.map((option, i) => el("option", { value: String(i), text: String(option), selected: option === value })),
    );
  } else {
    const number = type === "number" || type === "integer";
    input = el("input", {
      ...attrs,
      type: "text", // a number field would drop full-width digits ("１１６５") before readInput sees them
      inputmode: number ? "decimal" : undefined,
      maxlength: spec.max_length,
      required: !!spec.required,
      readonly: locked,
      value: value === undefined || value === null ? "" : String(value),
      spellcheck: "false",
    });
  }
  const unit = name === "amount" && currency ? el("span", { class: "saga-unit", text: currency }) : null;
  return el(
    "div",
    { class: `saga-field${locked ? " locked" : ""}`, dataset: { field: name } },
    el("label", { for: id }, label(name), spec.required ? null : el("span", { class: "muted", text: ` ${t("sagas.optional")}` })),
    el("div", { class: "saga-field-row" }, input, unit),
    spec.description ? el("p", { id: `${id}-hint`, class: "hint", text: spec.description }) : null,
  );
}

/** The form's values as the declared types, or null (with the reason shown) when one is wrong. */
function readInput(form, fields, error) {
  const input = {};
  for (const [name, spec] of fields) {
    const node = form.elements.namedItem(name);
    if (!node) continue;
    const type = spec.type || "string";
    if (type === "boolean") {
      input[name] = node.checked;
      continue;
    }
    if (Array.isArray(spec.enum)) {
      if (node.value === "") {
        if (spec.required) return refuse(node, error, t("sagas.required", { label: label(name) }));
      } else {
        input[name] = spec.enum[Number(node.value)]; // the declared value, of its own type
      }
      continue;
    }
    const number = type === "number" || type === "integer";
    const raw = number ? typed(node.value) : node.value.trim(); // "１１６５" reads as 1165
    if (!raw) {
      if (spec.required) return refuse(node, error, t("sagas.required", { label: label(name) }));
      continue;
    }
    if (type === "number" || type === "integer") {
      const n = Number(raw);
      if (!Number.isFinite(n) || (type === "integer" && !Number.isInteger(n))) return refuse(node, error, t("sagas.not_number", { label: label(name) }));
      if (spec.minimum !== undefined && n < spec.minimum) return refuse(node, error, t("sagas.at_least", { label: label(name), min: spec.minimum }));
      if (spec.maximum !== undefined && n > spec.maximum) return refuse(node, error, t("sagas.at_most", { label: label(name), max: spec.maximum }));
      input[name] = n;
    } else if (type === "object" || type === "array") {
      try {
        input[name] = JSON.parse(raw);
      } catch {
        return refuse(node, error, t("sagas.not_json", { label: label(name) }));
      }
    } else {
      input[name] = raw;
    }
  }
  return input;
}

function refuse(node, error, message) {
  error.textContent = message;
  node.setAttribute("aria-invalid", "true");
  node.focus();
  return null;
}
