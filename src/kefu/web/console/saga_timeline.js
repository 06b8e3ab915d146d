// How a saga reads on screen, shared by the 360 panel and the Sagas page: its status badge,
// its declared input, and the step timeline (each step's status, attempts, how long it
// took, and its error). Pure rendering from the saga JSON (CONTRACT.md "Sagas") and its
// definition (titles, which steps can be undone).
//
// Errors and inputs come from department systems and agents: text only, via el().

import { el } from "./dom.js";
import { fmtDateTime, fmtNumber, fmtTime, t, tn } from "./i18n.js";
import { codeText } from "./why.js";


const STEP_MARKS = {
  pending: "",
  running: "",
  done: "✓",
  failed: "!",
  compensating: "↺",
  compensated: "↺",
  skipped: "–",
};

export function sagaBadge(status) {
  const hint = codeText("sagas.hint_", status);
  return el("span", {
    class: `saga-badge saga-${slug(status)}`,
    dataset: { status },
    title: hint === status ? "" : hint,
    text: codeText("sagas.status_", status || "unknown"),
  });
}

export function sagaTitle(saga, definition) {
  return (definition && definition.title) || saga.title || saga.name;
}

/** Stopped while compensating (some undo was tried), as the engine decides: such a saga
 * may be retried or compensated; one that failed going forward (past its pivot) only retried. */
export function failedBackward(saga) {
  return (saga.steps || []).some((s) => (s.compensation_attempts || 0) > 0 || s.status === "compensated");
}

/** "2 of 4 steps done"; while and after undoing, how many of the steps to undo are undone. */
export function progress(saga) {
  const steps = saga.steps || [];
  const count = (test) => steps.filter(test).length;
  const undoing = saga.status === "compensating" || saga.status === "compensated" || (saga.status === "failed" && failedBackward(saga));
  if (undoing) {
    const undone = count((s) => s.status === "compensated");
    const toUndo = count((s) => ["done", "compensating", "compensated"].includes(s.status) || (s.compensation_attempts || 0) > 0);
    const numbers = { undone: fmtNumber(undone), total: fmtNumber(toUndo) };
    return t(saga.status === "failed" ? "sagas.progress_undone_stopped" : "sagas.progress_undone", numbers);
  }
  const numbers = { done: fmtNumber(count((s) => s.status === "done")), total: fmtNumber(steps.length) };
  return t(saga.status === "failed" ? "sagas.progress_done_stopped" : "sagas.progress_done", numbers);
}

/** The saga's error in words: why it stopped, or why it was undone. */
export function sagaError(saga) {
  if (!saga.error) return null;
  const undone = saga.status === "compensated" || saga.status === "compensating";
  const text = saga.status === "failed" ? t("sagas.error_stopped", { error: saga.error }) : undone ? t("sagas.error_undone", { error: saga.error }) : saga.error;
  return el("p", { class: "saga-error", role: saga.status === "failed" ? "status" : undefined, text });
}

/** The input the saga was started with, as the definition orders it. */
export function inputFacts(input, definition) {
  const declared = definition && definition.input ? Object.keys(definition.input) : [];
  const names = [...declared, ...Object.keys(input || {}).filter((k) => !declared.includes(k))];
  const facts = el("dl", { class: "facts saga-input" });
  for (const name of names) {
    if (!input || input[name] === undefined || input[name] === null || input[name] === "") continue;
    const value = input[name];
    const text = typeof value === "number" ? fmtNumber(value) : typeof value === "object" ? JSON.stringify(value) : String(value);
    facts.append(el("dt", { text: label(name) }), el("dd", { dataset: { input: name }, text }));
  }
  return facts;
}

/** The step timeline: one row per step, in order. */
export function timeline(saga, definition) {
  const titles = new Map(((definition && definition.steps) || []).map((s) => [s.name, s]));
  return el(
    "ol",
    { class: "saga-steps", "aria-label": t("sagas.steps_of", { title: sagaTitle(saga, definition) }) },
    (saga.steps || []).map((step) => stepRow(step, titles.get(step.name))),
  );
}

function stepRow(step, declared) {
  const status = step.status || "pending";
  const meta = [];
  if (step.attempts) meta.push(tn("sagas.attempts", step.attempts));
  if (step.compensation_attempts) meta.push(tn("sagas.undo_attempts", step.compensation_attempts));
  // How long the step took; after an undo the span covers the undo (and any wait for a person).
  const took = step.compensation_attempts ? "" : tookText(step.started_at, step.finished_at);
  if (took) meta.push(took);
  if (declared && declared.compensable === false) meta.push(t("sagas.cannot_undo"));
  return el(
    "li",
    { class: `saga-step step-${slug(status)}`, dataset: { step: step.name, status } },
    el("span", { class: "saga-dot", "aria-hidden": "true", text: STEP_MARKS[status] || "" }),
    el(
      "div",
      { class: "saga-step-main" },
      el(
        "div",
        { class: "saga-step-line" },
        el("span", { class: "saga-step-title", text: (declared && declared.title) || step.title || step.name }),
        el("span", { class: "saga-step-status", text: codeText("sagas.step_", status) }),
      ),
      meta.length ? el("div", { class: "saga-step-meta", text: meta.join(" · ") }) : null,
      step.error ? el("p", { class: "saga-step-error", text: step.error }) : null,
    ),
  );
}

/** The steps a definition will run, for the confirm dialog: title and whether it can be undone. */
export function plannedSteps(definition) {
  return el(
    "ol",
    { class: "saga-plan" },
    (definition.steps || []).map((step) =>
      el(
        "li",
        { class: "saga-plan-step", dataset: { step: step.name } },
        el(
          "div",
          { class: "saga-plan-main" },
          el("span", { class: "saga-plan-title", text: step.title || step.name }),
          el(
            "span",
            { class: "saga-plan-tags" },
            el(
              "span",
              { class: `saga-undo ${step.compensable ? "yes" : "no"}`, dataset: { undo: step.compensable ? "yes" : "no" } },
              t(step.compensable ? "sagas.can_undo" : "sagas.cannot_undo"),
            ),
            step.pivot ? el("span", { class: "saga-pivot", title: t("sagas.pivot_title"), text: t("sagas.pivot") }) : null,
          ),
        ),
      ),
    ),
  );
}

export function dateTime(iso) {
  const d = new Date(iso);
  if (!iso || Number.isNaN(d.getTime())) return "";
  return d.toDateString() === new Date().toDateString() ? fmtTime(d) : fmtDateTime(d);
}

function tookText(started, finished) {
  if (!started || !finished) return "";
  const ms = Date.parse(finished) - Date.parse(started);
  if (Number.isNaN(ms) || ms < 0) return "";
  if (ms < 1000) return t("sagas.took_ms", { n: fmtNumber(Math.max(1, Math.round(ms))) });
  if (ms < 60000) return t("sagas.took_s", { n: fmtNumber(Number((ms / 1000).toFixed(1))) });
  return t("sagas.took_min", { n: fmtNumber(Math.round(ms / 60000)) });
}

/** "order_id" -> "Order ID": an input's name as a label, the catalog's when it has one. */
export function label(name) {
  const known = codeText("sagas.input_", name);
  if (known !== name) return known;
  const text = name.replace(/_/g, " ").replace(/\bid\b/, "ID");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function slug(value) {
  return String(value || "").toLowerCase().replace(/[^a-z0-9]+/g, "-");
}
