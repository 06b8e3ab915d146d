// The Customer 360 panel for an anonymous visitor: find the customer in the connected
// systems (by email, phone or order number, as the sources offer) and link the
// conversation to them; and unlink a conversation an agent linked.

import { linkCustomer, lookupCustomers } from "./api.js";
import { $, el } from "./dom.js";
import { changed, upsert } from "./state.js";

const LOOKUPS = [
  ["email", "Email", "name@example.com", "email"],
  ["phone", "Phone", "+86 138 0000 1001", "tel"],
  ["order", "Order number", "SO-100251", "text"],
];

// What the panel shows, shared with customer360.js, which sets `render` and
// `showCustomer`: `seq` grows with every fetch and every switch of conversation, so an
// answer for an older one is dropped.
export const panel = { seq: 0, view: null, render: () => {}, showCustomer: () => {} };

export function findForm() {
  const find = panel.view.find;
  const kinds = availableLookups();
  if (!kinds.length) {
    return el("p", { class: "c360-note", text: "Anonymous visitor. None of the connected systems can look customers up." });
  }
  if (!kinds.some(([by]) => by === find.by)) find.by = kinds[0][0];
  const current = kinds.find(([by]) => by === find.by);
  const select = el(
    "select",
    { id: "c360-by", class: "select", name: "by" },
    kinds.map(([by, label]) => el("option", { value: by, text: label, selected: by === find.by })),
  );
  const input = el("input", {
    id: "c360-value",
    name: "value",
    type: current[3],
    required: true,
    maxlength: "200",
    placeholder: current[2],
    autocomplete: "off",
  });
  input.value = find.value;
  select.addEventListener("change", () => {
    find.by = select.value;
    find.value = input.value;
    panel.render();
    $("#c360-value").focus();
  });
  input.addEventListener("input", () => {
    find.value = input.value;
  });
  const form = el(
    "form",
    { class: "c360-find", role: "search", "aria-label": "Find customer", novalidate: true },
    el("p", { class: "c360-note", text: "Anonymous visitor: find the customer to see their 360." }),
    el("label", { for: "c360-by", class: "sr-only", text: "Search by" }),
    el("label", { for: "c360-value", class: "sr-only", text: "Search value" }),
    el(
      "div",
      { class: "c360-find-row" },
      select,
      input,
    ),
    el("button", { type: "submit", class: "btn small primary", disabled: find.busy, text: find.busy ? "Searching…" : "Search" }),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    search(select.value, input.value.trim());
  });
  const out = el("div", { class: "c360-results" });
  if (find.error) out.append(el("p", { class: "form-error", role: "alert", text: find.error }));
  if (find.results) {
    if (!find.results.length) {
      out.append(el("p", { class: "c360-empty", role: "status", text: "No customer found." }));
    } else {
      out.append(
        el(
          "ul",
          { class: "c360-list c360-candidates", "aria-label": "Matching customers" },
          find.results.map((c) =>
            el(
              "li",
              { class: "c360-row c360-candidate", dataset: { key: c.key } },
              el(
                "div",
                { class: "c360-cand-who" },
                el("strong", { text: c.name || c.key }),
                el("span", { class: "c360-key", text: `${c.key} · ${c.source}` }),
              ),
              el("button", {
                type: "button",
                class: "btn small",
                text: "Link",
                "aria-label": `Link ${c.name || c.key} (${c.key})`,
                onclick: (event) => link(c.key, event.currentTarget),
              }),
            ),
          ),
        ),
      );
    }
  }
  return el("div", {}, form, out);
}

function availableLookups() {
  if (!panel.view.sources) return LOOKUPS; // unknown: offer everything, the server decides
  const offered = new Set(panel.view.sources.flatMap((s) => s.lookup || []));
  return LOOKUPS.filter(([by]) => offered.has(by));
}

async function search(by, value) {
  const find = panel.view.find;
  find.by = by;
  find.value = value;
  if (!value) {
    find.error = "Type what to search for.";
    find.results = null;
    panel.render();
    $("#c360-value").focus();
    return;
  }
  const mine = panel.seq;
  find.busy = true;
  find.error = null;
  panel.render();
  try {
    const answer = await lookupCustomers(by, value);
    if (mine !== panel.seq) return;
    find.results = answer.items || [];
  } catch (err) {
    if (mine !== panel.seq) return;
    find.results = null;
    find.error = err.message;
  }
  find.busy = false;
  panel.render();
}

/** Link the conversation to `key` (or unlink with null); the server answers its summary. */
export async function link(key, button) {
  const conversationId = panel.view.conversationId;
  const mine = panel.seq;
  if (button) button.disabled = true;
  try {
    const summary = await linkCustomer(conversationId, key);
    const item = upsert(summary);
    changed();
    if (mine !== panel.seq || !panel.view || panel.view.conversationId !== conversationId) return;
    panel.showCustomer(item);
  } catch (err) {
    if (mine !== panel.seq || !panel.view || panel.view.conversationId !== conversationId) return;
    if (button) button.disabled = false;
    if (key === null) {
      const slot = $("#customer-360 [data-error=unlink]");
      if (slot) slot.textContent = ` ${err.message}`;
    } else {
      panel.view.find.error = `Could not link: ${err.message}`;
      panel.render();
    }
  }
}
