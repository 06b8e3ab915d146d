// The Customer 360 panel for an anonymous visitor: find the customer in the connected
// systems (by email, phone or order number, as the sources offer) and link the
// conversation to them; and unlink a conversation an agent linked.

import { linkCustomer, lookupCustomers } from "./api.js";
import { $, el } from "./dom.js";
import { t } from "./i18n.js";
import { changed, upsert } from "./state.js";
import { typed, why } from "./why.js";

const LOOKUPS = [
  ["email", "c360.email", "name@example.com", "email"],
  ["phone", "c360.phone", "+86 138 0000 1001", "tel"],
  ["order", "c360.order_number", "SO-100251", "text"],
];

// What the panel shows, shared with customer360.js, which sets `render` and
// `showCustomer`: `seq` grows with every fetch and every switch of conversation, so an
// answer for an older one is dropped.
export const panel = { seq: 0, view: null, render: () => {}, showCustomer: () => {} };

export function findForm() {
  const find = panel.view.find;
  const kinds = availableLookups();
  if (!kinds.length) {
    return el("p", { class: "c360-note", text: t("c360.no_lookup") });
  }
  if (!kinds.some(([by]) => by === find.by)) find.by = kinds[0][0];
  const current = kinds.find(([by]) => by === find.by);
  const select = el(
    "select",
    { id: "c360-by", class: "select", name: "by" },
    kinds.map(([by, label]) => el("option", { value: by, text: t(label), selected: by === find.by })),
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
    { class: "c360-find", role: "search", "aria-label": t("c360.find_aria"), novalidate: true },
    el("p", { class: "c360-note", text: t("c360.find_hint") }),
    el("label", { for: "c360-by", class: "sr-only", text: t("c360.search_by") }),
    el("label", { for: "c360-value", class: "sr-only", text: t("c360.search_value") }),
    el(
      "div",
      { class: "c360-find-row" },
      select,
      input,
    ),
    el("button", { type: "submit", class: "btn small primary", disabled: find.busy, text: t(find.busy ? "c360.searching" : "c360.search") }),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    search(select.value, typed(input.value));
  });
  const out = el("div", { class: "c360-results" });
  if (find.error) out.append(el("p", { class: "form-error", role: "alert", text: find.error }));
  if (find.results) {
    if (!find.results.length) {
      out.append(el("p", { class: "c360-empty", role: "status", text: t("c360.no_customer_found") }));
    } else {
      out.append(
        el(
          "ul",
          { class: "c360-list c360-candidates", "aria-label": t("c360.matching") },
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
                text: t("c360.link"),
                "aria-label": t("c360.link_aria", { name: c.name || c.key, key: c.key }),
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
    find.error = t("c360.type_something");
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
    find.error = why(err);
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
      if (slot) slot.textContent = ` ${why(err)}`;
    } else {
      panel.view.find.error = t("c360.link_failed", { error: why(err) });
      panel.render();
    }
  }
}
