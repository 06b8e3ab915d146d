// Admin pages: agents, canned replies, auto-replies, blacklist, dead letters; site & widget,
// webhooks and API tokens in their own modules (admin_*.js). The server enforces every role;
// the console only hides what the signed-in role cannot use.

import { del, get, patch, post } from "./api.js";
import { cannedLoaded } from "./canned.js";
import { $, clear, el } from "./dom.js";
import { fmtClock, fmtNumber, t } from "./i18n.js";
import { loadReports } from "./reports.js";
import { atLeast, state } from "./state.js";
import { codeText, splitList, why } from "./why.js";
import { agentButtons, editAutoReplyButton, editCannedButton } from "./admin_edit.js";
import { loadSites } from "./admin_sites.js";
import { loadTokens } from "./admin_tokens.js";
import { loadWebhooks } from "./admin_webhooks.js";

function showError(key, err) {
  const box = $(`[data-error=${key}]`);
  if (box) box.textContent = err ? why(err) : "";
}

function formData(form) {
  return Object.fromEntries(new FormData(form).entries());
}

async function guarded(key, work) {
  showError(key, null);
  try {
    await work();
  } catch (err) {
    showError(key, err);
  }
}

export function initAdmin(reloadShared) {
  $("#agent-form").addEventListener("submit", (event) => {
    event.preventDefault();
    guarded("agents", async () => {
      const data = formData(event.target);
      const body = { name: data.name, email: data.email, password: data.password, role: data.role };
      if (data.capacity) body.capacity = Number(data.capacity);
      await post("/api/v1/agents", body);
      event.target.reset();
      await loadAgents();
      await reloadShared();
    });
  });
  $("#canned-form").addEventListener("submit", (event) => {
    event.preventDefault();
    guarded("canned", async () => {
      await post("/api/v1/canned-replies", formData(event.target));
      event.target.reset();
      await loadCanned();
    });
  });
  $("#auto-form").addEventListener("submit", (event) => {
    event.preventDefault();
    guarded("auto", async () => {
      const data = formData(event.target);
      const keywords = splitList(data.keywords); // "营业时间，几点开门" too
      await post("/api/v1/auto-replies", { keywords, reply: data.reply });
      event.target.reset();
      await loadAutoReplies();
    });
  });
  $("#blacklist-form").addEventListener("submit", (event) => {
    event.preventDefault();
    guarded("blacklist", async () => {
      const data = formData(event.target);
      await post("/api/v1/blacklist", data.reason ? data : { network: data.network });
      event.target.reset();
      await loadBlacklist();
    });
  });
}

export async function loadPage(page) {
  const loaders = { agents: loadAgents, canned: loadCanned, autoreplies: loadAutoReplies, texts: loadSites, blacklist: loadBlacklist, deadletters: loadDeadLetters, reports: loadReports, webhooks: loadWebhooks, tokens: loadTokens };
  const keys = { agents: "agents", canned: "canned", autoreplies: "auto", texts: "texts", blacklist: "blacklist", deadletters: "deadletters", reports: "reports", webhooks: "webhooks", tokens: "tokens" };
  if (loaders[page]) await guarded(keys[page], loaders[page]);
}

async function loadAgents() {
  const agents = await get("/api/v1/agents");
  const admin = atLeast("admin");
  const rows = $("#agents-rows");
  clear(rows);
  for (const agent of agents) {
    state.agents.set(agent.id, { ...(state.agents.get(agent.id) || {}), ...agent });
    const change = (body) => guarded("agents", async () => {
      await patch(`/api/v1/agents/${encodeURIComponent(agent.id)}`, body);
      await loadAgents();
    });
    const self = agent.id === state.me.id;
    const role = admin && !self
      ? el("select", { "aria-label": t("admin.role_of", { name: agent.name }), onchange: (e) => change({ role: e.target.value }) },
          ["agent", "supervisor", "admin"].map((r) => el("option", { value: r, selected: r === agent.role, text: codeText("admin.role_", r) })))
      : el("span", { text: codeText("admin.role_", agent.role) });
    const capacity = admin
      ? el("input", { type: "number", min: "1", max: "10000", value: agent.capacity ?? "", placeholder: t("admin.default"), class: "small", "aria-label": t("admin.capacity_of", { name: agent.name }),
          onchange: (e) => e.target.value && change({ capacity: Number(e.target.value) }) })
      : el("span", { text: agent.capacity == null ? t("admin.default") : fmtNumber(agent.capacity) });
    const status = admin && !self
      ? el("button", { type: "button", class: `btn small${agent.disabled ? "" : " danger"}`, text: t(agent.disabled ? "admin.enable" : "admin.disable"),
          onclick: () => change({ disabled: !agent.disabled }) })
      : el("span", { text: t(agent.disabled ? "admin.disabled" : "admin.active") });
    rows.append(el("tr", { class: agent.disabled ? "muted" : "" },
      el("td", { text: agent.name }), el("td", { text: agent.email }), el("td", {}, role), el("td", {}, capacity), el("td", { class: "actions" }, status, admin ? agentButtons(agent, loadAgents) : null)));
  }
}

export async function loadCannedList() {
  state.canned = await get("/api/v1/canned-replies");
  cannedLoaded();
}

async function loadCanned() {
  await loadCannedList();
  const rows = $("#canned-rows");
  clear(rows);
  const editable = atLeast("supervisor");
  for (const reply of state.canned) {
    rows.append(el("tr", {},
      el("td", {}, el("code", { text: `/${reply.shortcut}` })),
      el("td", { text: reply.title }),
      el("td", { class: "wrap", text: reply.body }),
      el("td", { class: "actions" }, editable ? editCannedButton(reply, loadCanned) : null, editable ? el("button", { type: "button", class: "btn small danger", text: t("common.delete"), "aria-label": t("admin.delete_canned", { shortcut: reply.shortcut }),
        onclick: () => guarded("canned", async () => { await del(`/api/v1/canned-replies/${reply.id}`); await loadCanned(); }) }) : null)));
  }
}

async function loadAutoReplies() {
  const rules = await get("/api/v1/auto-replies");
  const rows = $("#auto-rows");
  clear(rows);
  for (const rule of rules) {
    rows.append(el("tr", {},
      el("td", { text: rule.keywords.join(", ") }),
      el("td", { class: "wrap", text: rule.reply }),
      el("td", { class: "actions" }, editAutoReplyButton(rule, loadAutoReplies), el("button", { type: "button", class: "btn small danger", text: t("common.delete"),
        onclick: () => guarded("auto", async () => { await del(`/api/v1/auto-replies/${rule.id}`); await loadAutoReplies(); }) }))));
  }
}

async function loadBlacklist() {
  const entries = await get("/api/v1/blacklist");
  const rows = $("#blacklist-rows");
  clear(rows);
  for (const entry of entries) {
    rows.append(el("tr", {},
      el("td", {}, el("code", { text: entry.network })),
      el("td", { text: entry.reason || "" }),
      el("td", { text: fmtClock(entry.created_at) }),
      el("td", {}, el("button", { type: "button", class: "btn small", text: t("common.remove"), "aria-label": t("admin.unblock", { network: entry.network }),
        onclick: () => guarded("blacklist", async () => { await del(`/api/v1/blacklist/${entry.id}`); await loadBlacklist(); }) }))));
  }
}

const DEAD_LETTERS_SHOWN = 200; // the oldest first; replaying or discarding brings the next ones

async function loadDeadLetters() {
  const page = await get(`/api/v1/events/dead-letters?limit=${DEAD_LETTERS_SHOWN}`);
  const rows = $("#deadletters-rows");
  clear(rows);
  $("#deadletters-empty").hidden = page.items.length > 0;
  for (const letter of page.items) {
    const act = (work) => guarded("deadletters", async () => { await work(); await loadDeadLetters(); });
    const label = letter.event_id || `#${letter.id}`;
    const payload = letter.event !== null ? JSON.stringify(letter.event, null, 2) : letter.raw || "";
    const replay = el("button", { type: "button", class: "btn small", text: t("admin.replay"), "aria-label": t("admin.replay_aria", { label }),
      disabled: !letter.replayable, title: letter.replayable ? "" : t("admin.replay_off_title"),
      onclick: () => act(() => post(`/api/v1/events/dead-letters/${letter.id}/replay`)) });
    const discard = el("button", { type: "button", class: "btn small danger", text: t("admin.discard"), "aria-label": t("admin.discard_aria", { label }),
      onclick: () => confirm(t("admin.discard_confirm", { label })) && act(() => del(`/api/v1/events/dead-letters/${letter.id}`)) });
    rows.append(el("tr", { "data-id": letter.id },
      el("td", { text: letter.dead_at ? fmtClock(letter.dead_at) : "" }),
      el("td", {}, el("code", { text: letter.type || letter.subject })),
      el("td", {}, el("details", {}, el("summary", { text: label }), el("pre", { class: "payload", text: payload }))),
      el("td", { class: "wrap", text: letter.reason }),
      el("td", { text: fmtNumber(letter.attempts) }),
      el("td", { class: "actions" }, replay, discard)));
  }
}
