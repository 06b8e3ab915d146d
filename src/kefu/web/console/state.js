// What the console knows: who is signed in, the conversations it lists, the agents, the
// canned replies. Views subscribe and re-render; frames and REST answers update it.

import { t } from "./i18n.js";

const ROLE_RANK = { agent: 1, supervisor: 2, admin: 3 };

export const state = {
  me: null,
  conversations: new Map(), // id -> list item (REST summary shape)
  agents: new Map(), // id -> agent
  canned: [],
  tab: "mine",
  currentId: null,
};

const listeners = new Set();
export function subscribe(listener) {
  listeners.add(listener);
}
export function changed() {
  for (const listener of listeners) listener();
}

export function atLeast(role) {
  return !!state.me && ROLE_RANK[state.me.role] >= ROLE_RANK[role];
}

// Every change to a list item is stamped, so a list reload that was in flight while frames
// arrived keeps what the frames said (they are newer than the reload's snapshot). `_heard`
// is the stamp of the item's last change other than a REST answer (a frame, a read).
let stamp = 0;
export function touch(item) {
  item._stamp = ++stamp;
  item._heard = item._stamp;
  return item;
}
export function currentStamp() {
  return stamp;
}

/**
 * Merge a conversation summary (a REST answer, a `conversation.opened` frame) into the list.
 *
 * `since` is `currentStamp()` when the request for it left. Under load an answer read
 * before the first message was stored can land after the frames announcing it (it emptied
 * the row's last message: "No messages yet"), and answers to requests made one after the
 * other can land in any order. So: an item a frame changed after `since` is newer than the
 * answer, which only fills what the item lacks; otherwise the answer wins, except that the
 * last message never moves back to an older one or to none.
 */
export function upsert(item, since = Infinity) {
  const known = state.conversations.get(item.id);
  let merged;
  if (!known) merged = { unread: 0, visitor: {}, last_message: null, ...item };
  else if (known._heard > since) merged = { ...item, ...known };
  else merged = { ...known, ...item };
  const kept = known && known.last_message;
  if (kept && (!merged.last_message || merged.last_message.id < kept.id)) {
    merged.last_message = kept;
    merged.last_message_id = kept.id;
    if (merged.updated_at < known.updated_at) merged.updated_at = known.updated_at;
  }
  merged._stamp = ++stamp; // not `_heard`: an answer says nothing newer than its request
  state.conversations.set(item.id, merged);
  return merged;
}

// Customers' names as the 360 gave them, by key: shown as a conversation's title while
// this page lives, never stored (the 360's data stays in the company's systems).
export const customerNames = new Map();

/** A conversation's title: the visitor's name, else the customer's name from the 360,
 * else what the server's title says (the customer key, or "Visitor xxxx"). */
export function visitorName(item) {
  const name = item && item.visitor && item.visitor.name;
  if (name) return name;
  const known = item && item.customer_key && customerNames.get(item.customer_key);
  if (known) return known;
  // The server's title in English ("Visitor 1a2b") is rebuilt here in the console's language.
  if (item && item.customer_key) return item.customer_key;
  if (item && item.visitor_id) return t("inbox.visitor_fallback", { id: item.visitor_id.slice(-4) });
  return (item && item.title) || t("inbox.visitor_fallback", { id: "" });
}

export function agentName(id) {
  const agent = state.agents.get(id);
  if (id === (state.me && state.me.id)) return t("common.you");
  return agent ? agent.name : t("common.another_agent");
}

export function inTab(item, tab) {
  if (item.status === "closed") return false; // closed ones leave the lists
  if (tab === "mine") return item.assignee_id === state.me.id;
  if (tab === "waiting") return item.status === "waiting";
  return true;
}

export function sorted(tab) {
  const items = [...state.conversations.values()].filter((item) => inTab(item, tab));
  if (tab === "waiting") items.sort((a, b) => a.created_at.localeCompare(b.created_at));
  else items.sort((a, b) => b.updated_at.localeCompare(a.updated_at));
  return items;
}
