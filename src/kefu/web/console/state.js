// What the console knows: who is signed in, the conversations it lists, the agents, the
// canned replies. Views subscribe and re-render; frames and REST answers update it.

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
// arrived keeps what the frames said (they are newer than the reload's snapshot).
let stamp = 0;
export function touch(item) {
  item._stamp = ++stamp;
  return item;
}
export function currentStamp() {
  return stamp;
}

export function upsert(item) {
  const known = state.conversations.get(item.id);
  const merged = known ? { ...known, ...item } : { unread: 0, visitor: {}, last_message: null, ...item };
  state.conversations.set(item.id, touch(merged));
  return merged;
}

export function visitorName(item) {
  const name = item && item.visitor && item.visitor.name;
  return name || `Visitor ${(item ? item.visitor_id : "").slice(-4)}`;
}

export function agentName(id) {
  const agent = state.agents.get(id);
  if (id === (state.me && state.me.id)) return "you";
  return agent ? agent.name : "another agent";
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
