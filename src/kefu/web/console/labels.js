// Conversation labels in the chat header: chips (× removes one), a field that adds one
// (suggesting the labels in use), saved with PUT …/labels. Other consoles get the new set
// in a conversation.updated frame; the list shows the first few beside the name.

import { errorMessage, get, put } from "./api.js";
import { t } from "./i18n.js";
import { composing } from "./ime.js";
import { $, clear, el } from "./dom.js";
import { changed, state } from "./state.js";

const LIST_CHIPS = 2; // labels shown in a list row; the chat header shows them all

let suggestionsLoaded = 0;

/** The chips of ``item`` under the chat title; ``editable`` for those who may change them. */
export function renderLabels(item, editable) {
  const box = $("#chat-labels");
  // A live update re-renders while the agent may be typing: keep what they typed.
  const typing = box.querySelector(".label-input");
  const typed = typing && box.dataset.id === item.id ? typing.value : "";
  const focused = typing !== null && document.activeElement === typing;
  const selection = focused ? [typing.selectionStart, typing.selectionEnd] : null;
  clear(box);
  box.dataset.id = item.id || "";
  const labels = item.labels || [];
  for (const label of labels) {
    const chip = el("span", { class: "label-chip" }, el("span", { text: label }));
    if (editable) {
      chip.append(el("button", { type: "button", class: "chip-x", "aria-label": t("chat.label_remove", { label }), text: "×",
        onclick: () => change(item, (current) => current.filter((l) => l !== label)) }));
    }
    box.append(chip);
  }
  if (!editable) return;
  const input = el("input", { type: "text", class: "label-input", placeholder: t("chat.label_placeholder"), maxlength: "50",
    list: "label-suggestions", "aria-label": t("chat.label_add") });
  input.value = typed;
  input.addEventListener("focus", loadSuggestions);
  input.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || composing(event)) return;
    event.preventDefault();
    const label = input.value.normalize("NFKC").trim().toLowerCase(); // as the server spells it
    if (!label) return;
    // Emptied now, not when the save returns: what the agent types meanwhile is the next
    // label, not more of this one.
    input.value = "";
    change(item, (current) => (current.includes(label) ? current : [...current, label]), label);
  });
  box.append(input);
  box.append(el("span", { class: "label-error", role: "alert" }));
  if (focused) {
    input.focus();
    input.setSelectionRange(...selection); // a select-all the agent is typing over stays one
  }
}

/** A few chips for a list row. */
export function listChips(item) {
  const labels = item.labels || [];
  if (!labels.length) return null;
  const shown = labels.slice(0, LIST_CHIPS).map((label) => el("span", { class: "label-chip small", text: label }));
  if (labels.length > LIST_CHIPS) shown.push(el("span", { class: "label-more", text: `+${labels.length - LIST_CHIPS}` }));
  return el("span", { class: "conv-labels" }, shown);
}

// One save at a time, each computed from the set the previous one left: an agent adding
// two labels quickly must not have the second request overwrite the first.
let queue = Promise.resolve();

function change(item, edit, submitted = null) {
  queue = queue.then(() => save(item, edit(item.labels || []), submitted));
}

async function save(item, labels, submitted) {
  try {
    const body = await put(`/api/v1/conversations/${encodeURIComponent(item.id)}/labels`, { labels });
    item.labels = body.labels;
    changed();
    const focus = document.activeElement;
    renderLabels(item, true);
    // Back to the field after a chip's × (the button is gone), not away from the reply box.
    if (!focus || focus === document.body || !focus.isConnected) $("#chat-labels .label-input")?.focus();
    suggestionsLoaded = 0; // counts changed
  } catch (err) {
    // Refused: the text comes back to be fixed, unless the agent has started another one.
    const input = $("#chat-labels .label-input");
    if (input && submitted !== null && !input.value) input.value = submitted;
    const box = $("#chat-labels .label-error");
    if (box) box.textContent = errorMessage(err);
  }
}

async function loadSuggestions() {
  if (Date.now() - suggestionsLoaded < 30_000) return;
  suggestionsLoaded = Date.now();
  try {
    const used = await get("/api/v1/labels");
    const list = $("#label-suggestions");
    clear(list);
    for (const item of used.items) list.append(el("option", { value: item.label }));
  } catch {
    suggestionsLoaded = 0;
  }
}
