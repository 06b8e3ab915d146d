// "Transfer to…" in the chat header: the team with who is online, away or offline (asked
// again when the agent opens the list, so it is not the sign-in's picture). Choosing an
// offline or away agent asks first, in the composer's note line: the conversation would
// wait for them, unanswered.

import { api, errorMessage, get } from "./api.js";
import { lang, t } from "./i18n.js";
import { $, clear, el } from "./dom.js";
import { agentName, changed, state, upsert } from "./state.js";

let hooks = { current: () => null, note: () => {}, rendered: () => {} };
let fresh = 0;

export function initTransfer(options) {
  hooks = { ...hooks, ...options };
  const select = $("#transfer-select");
  select.addEventListener("change", () => choose(select.value));
  // The list's online marks come from the team as it is now.
  select.addEventListener("focus", () => refreshTeam());
  select.addEventListener("pointerdown", () => refreshTeam());
}

async function refreshTeam(force = false) {
  if (!force && Date.now() - fresh < 5000) return;
  fresh = Date.now();
  try {
    for (const member of await get("/api/v1/team")) state.agents.set(member.id, { ...(state.agents.get(member.id) || {}), ...member });
    const item = hooks.current();
    if (item) renderTransfer(item, !$("#transfer-select").hidden);
  } catch {
    fresh = 0;
  }
}

function presence(agent) {
  if (!agent.online) return "offline";
  return agent.away ? "away" : "online";
}

/** The select's options for ``item``; ``shown`` for those who may transfer it. */
export function renderTransfer(item, shown) {
  const select = $("#transfer-select");
  select.hidden = !shown;
  if (document.activeElement === select && select.options.length > 1) return; // not under the agent's finger
  clear(select);
  select.append(el("option", { value: "", text: t("chat.transfer_choose") }));
  // By name as the language sorts names (pinyin order for Chinese ones: 李 before 王).
  const byName = new Intl.Collator(lang()).compare;
  const team = [...state.agents.values()].sort((a, b) => byName(a.name || "", b.name || ""));
  for (const agent of team) {
    if (agent.disabled || agent.id === item.assignee_id) continue;
    const label = agent.id === state.me.id ? t("chat.transfer_you", { name: agent.name }) : t("chat.transfer_member", { name: agent.name, presence: t(`chat.presence_${presence(agent)}`) });
    select.append(el("option", { value: agent.id, text: label, dataset: { presence: presence(agent) } }));
  }
}

async function choose(agentId) {
  const item = hooks.current();
  if (!item || !agentId) return;
  let agent = state.agents.get(agentId);
  // Not online as far as this console knew: ask the team as it is now before warning.
  if (agent && agent.id !== state.me.id && presence(agent) !== "online") {
    await refreshTeam(true);
    agent = state.agents.get(agentId);
    $("#transfer-select").value = agentId;
  }
  const where = agent && agent.id !== state.me.id ? presence(agent) : "online";
  if (where === "online") {
    transfer(item.id, agentId);
    return;
  }
  // Offline or away: say what happens, and let the agent decide.
  const name = agent.name;
  const warning = el(
    "span",
    { class: "transfer-warning", role: "alert" },
    el("span", { text: `${t(where === "away" ? "chat.transfer_warn_away" : "chat.transfer_warn_offline", { name })} ` }),
    el("button", { type: "button", class: "btn small", text: t("chat.transfer_anyway"), onclick: () => transfer(item.id, agentId) }),
    el("button", { type: "button", class: "btn small", text: t("common.cancel"), onclick: cancel }),
  );
  hooks.note(warning);
}

function cancel() {
  $("#transfer-select").value = "";
  hooks.note("");
}

async function transfer(conversationId, agentId) {
  const select = $("#transfer-select");
  hooks.note("");
  try {
    upsert(await api("POST", `/api/v1/conversations/${encodeURIComponent(conversationId)}/transfer`, { agent_id: agentId }));
    hooks.note(t("chat.transferred", { name: agentName(agentId) }));
    select.blur();
    changed();
    hooks.rendered();
  } catch (err) {
    hooks.note(t("chat.transfer_failed", { error: errorMessage(err) }));
    select.value = "";
  }
}
