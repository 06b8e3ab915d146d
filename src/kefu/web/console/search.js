// Finding conversations (issue 15 item 10): the Closed tab, a search box (message text,
// notes, visitor name and email; Chinese substrings of two or more characters) and filters
// by label and customer key. While any of them is in use the list shows the server's
// answer (GET /api/v1/conversations?status=&q=&label=&customer_key=, newest first, "Load
// more" through `next`) instead of the live tabs; live frames still update the rows.

import { errorMessage, get } from "./api.js";
import { $ } from "./dom.js";
import { changed, state, upsert } from "./state.js";

const PAGE = 50;
let seq = 0;
let typing = null;

/** {ids, next, loading, error, query} while searching, else null. */
export const search = { active: null };

export function initSearch() {
  const form = $("#conv-search");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    run();
  });
  const later = () => {
    clearTimeout(typing);
    typing = setTimeout(run, 300);
  };
  // Pinyin being composed ("nihao") is not what the agent is looking for: search for the
  // characters they pick (compositionend), not the letters on the way.
  form.addEventListener("input", (event) => {
    if (!event.isComposing) later();
  });
  form.addEventListener("compositionend", later);
  form.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && event.target.value) {
      event.target.value = "";
      run();
    }
  });
  $("#conv-more").addEventListener("click", more);
}

function filters() {
  const form = $("#conv-search");
  return {
    q: form.elements.q.value.trim(),
    label: form.elements.label.value.normalize("NFKC").trim().toLowerCase(),
    customer_key: form.elements.customer_key.value.trim(),
  };
}

/** The query for the current tab and filters, or null when the live lists suffice. */
function query() {
  const f = filters();
  const closed = state.tab === "closed";
  if (!closed && !f.q && !f.label && !f.customer_key) return null;
  const params = new URLSearchParams({ limit: String(PAGE) });
  if (closed) params.set("status", "closed");
  else if (state.tab === "waiting") params.set("status", "waiting");
  else {
    params.set("status", "open");
    if (state.tab === "mine") params.set("assignee", "me");
  }
  for (const [name, value] of Object.entries(f)) if (value) params.set(name, value);
  return params;
}

/** Ask again (the tab or a filter changed). */
export async function run() {
  const params = query();
  const mine = ++seq;
  $("#conv-search-error").textContent = "";
  if (!params) {
    search.active = null;
    changed();
    return;
  }
  search.active = { ids: search.active ? search.active.ids : [], next: null, loading: true, params };
  changed();
  try {
    const page = await get(`/api/v1/conversations?${params}`);
    if (mine !== seq) return;
    search.active = { ids: page.items.map((item) => upsert(item).id), next: page.next, loading: false, params };
  } catch (err) {
    if (mine !== seq) return;
    search.active = { ids: [], next: null, loading: false, params };
    $("#conv-search-error").textContent = errorMessage(err);
  }
  changed();
}

async function more() {
  const current = search.active;
  if (!current || !current.next || current.loading) return;
  const mine = seq;
  current.loading = true;
  const params = new URLSearchParams(current.params);
  params.set("cursor", current.next);
  try {
    const page = await get(`/api/v1/conversations?${params}`);
    if (mine !== seq) return;
    current.ids.push(...page.items.map((item) => upsert(item).id).filter((id) => !current.ids.includes(id)));
    current.next = page.next;
  } catch (err) {
    $("#conv-search-error").textContent = errorMessage(err);
  }
  current.loading = false;
  changed();
}

/** The rows to show while searching (the list's order is the server's). */
export function searchItems() {
  if (!search.active) return null;
  return search.active.ids.map((id) => state.conversations.get(id)).filter(Boolean);
}
