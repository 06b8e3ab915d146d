// How a saga reads on screen, shared by the 360 panel and the Sagas page: its status badge,
// its declared input, and the step timeline (each step's status, attempts, how long it
// took, and its error). Pure rendering from the saga JSON (CONTRACT.md "Sagas") and its
// definition (titles, which steps can be undone).
//
// Errors and inputs come from department systems and agents: text only, via el().

import { el } from "./dom.js";

const SAGA_HINTS = {
  running: "Working through its steps",
  completed: "Every step done",
  compensating: "Undoing the steps that were done",
  compensated: "Every step that was done has been undone",
  failed: "Stopped: a person must retry or compensate it",
};

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
  return el("span", { class: `saga-badge saga-${slug(status)}`, dataset: { status }, title: SAGA_HINTS[status] || "", text: status || "unknown" });
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
    const text = `${undone} of ${toUndo} undone`;
    return saga.status === "failed" ? `${text}, stopped while undoing` : text;
  }
  const text = `${count((s) => s.status === "done")} of ${steps.length} steps done`;
  return saga.status === "failed" ? `${text}, stopped` : text;
}

/** The saga's error in words: why it stopped, or why it was undone. */
export function sagaError(saga) {
  if (!saga.error) return null;
  const lead = saga.status === "failed" ? "Stopped: " : saga.status === "compensated" || saga.status === "compensating" ? "Undone after: " : "";
  return el("p", { class: "saga-error", role: saga.status === "failed" ? "status" : undefined, text: `${lead}${saga.error}` });
}

/** The input the saga was started with, as the definition orders it. */
export function inputFacts(input, definition) {
  const declared = definition && definition.input ? Object.keys(definition.input) : [];
  const names = [...declared, ...Object.keys(input || {}).filter((k) => !declared.includes(k))];
  const facts = el("dl", { class: "facts saga-input" });
  for (const name of names) {
    if (!input || input[name] === undefined || input[name] === null || input[name] === "") continue;
    facts.append(el("dt", { text: label(name) }), el("dd", { dataset: { input: name }, text: String(input[name]) }));
  }
  return facts;
}

/** The step timeline: one row per step, in order. */
export function timeline(saga, definition) {
  const titles = new Map(((definition && definition.steps) || []).map((s) => [s.name, s]));
  return el(
    "ol",
    { class: "saga-steps", "aria-label": `Steps of ${sagaTitle(saga, definition)}` },
    (saga.steps || []).map((step) => stepRow(step, titles.get(step.name))),
  );
}

function stepRow(step, declared) {
  const status = step.status || "pending";
  const meta = [];
  if (step.attempts) meta.push(`${step.attempts} ${step.attempts === 1 ? "attempt" : "attempts"}`);
  if (step.compensation_attempts) meta.push(`undo: ${step.compensation_attempts} ${step.compensation_attempts === 1 ? "attempt" : "attempts"}`);
  // How long the step took; after an undo the span covers the undo (and any wait for a person).
  const took = step.compensation_attempts ? "" : tookText(step.started_at, step.finished_at);
  if (took) meta.push(took);
  if (declared && declared.compensable === false) meta.push("cannot be undone");
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
        el("span", { class: "saga-step-status", text: status }),
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
              step.compensable ? "can be undone" : "cannot be undone",
            ),
            step.pivot ? el("span", { class: "saga-pivot", title: "Once this step is done the saga only goes forward", text: "point of no return" }) : null,
          ),
        ),
      ),
    ),
  );
}

export function dateTime(iso) {
  const d = new Date(iso);
  if (!iso || Number.isNaN(d.getTime())) return "";
  const sameDay = d.toDateString() === new Date().toDateString();
  const time = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  return sameDay ? time : `${d.toLocaleDateString([], { month: "short", day: "numeric" })} ${time}`;
}

function tookText(started, finished) {
  if (!started || !finished) return "";
  const ms = Date.parse(finished) - Date.parse(started);
  if (Number.isNaN(ms) || ms < 0) return "";
  if (ms < 1000) return `${Math.max(1, Math.round(ms))} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.round(ms / 60000)} min`;
}

/** "order_id" -> "Order ID": an input's name as a label. */
export function label(name) {
  const text = name.replace(/_/g, " ").replace(/\bid\b/, "ID");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function slug(value) {
  return String(value || "").toLowerCase().replace(/[^a-z0-9]+/g, "-");
}
