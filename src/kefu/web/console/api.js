// REST calls with the agent's bearer token; errors carry the server's code, and
// errorMessage() turns one into a sentence in the console's language.

import { errorText, lang, t } from "./i18n.js";

const TOKEN_KEY = "kefu.console.token";
const AGENT_KEY = "kefu.console.agent";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export const session = {
  get token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  get agent() {
    const raw = sessionStorage.getItem(AGENT_KEY);
    return raw ? JSON.parse(raw) : null;
  },
  save(token, agent) {
    sessionStorage.setItem(TOKEN_KEY, token);
    sessionStorage.setItem(AGENT_KEY, JSON.stringify(agent));
  },
  clear() {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(AGENT_KEY);
  },
};

let onUnauthorized = () => {};
export function whenUnauthorized(callback) {
  onUnauthorized = callback;
}

export async function api(method, path, body, { raw = false, headers = {} } = {}) {
  const init = { method, headers: { ...headers } };
  if (session.token) init.headers.Authorization = `Bearer ${session.token}`;
  if (body instanceof Blob) {
    init.body = body;
  } else if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(path, init);
  } catch {
    throw new ApiError(0, "network", t("errors.network")); // offline, refused, CORS: no answer at all
  }
  if (resp.status === 204) return null;
  const data = await resp.json().catch(() => null);
  if (!resp.ok) {
    const err = data && data.error ? data.error : { code: "http_" + resp.status, message: resp.statusText };
    if (resp.status === 401 && path !== "/api/v1/auth/login") onUnauthorized();
    throw new ApiError(resp.status, err.code, err.message);
  }
  return raw ? resp : data;
}

/**
 * The sentence to show for a failed call: the catalog's for its code in the console's
 * language; in English the server's own message (often more precise) when the code has none.
 */
export function errorMessage(err) {
  const code = err && err.code;
  if (lang() === "en" && err && err.message && code !== "network") return err.message;
  return errorText(code, lang() === "en" ? err && err.message : undefined);
}

export const get = (path) => api("GET", path);
export const post = (path, body) => api("POST", path, body);
export const put = (path, body) => api("PUT", path, body);
export const patch = (path, body) => api("PATCH", path, body);
export const del = (path) => api("DELETE", path);

export async function login(email, password) {
  const data = await api("POST", "/api/v1/auth/login", { email, password });
  session.save(data.token, data.agent);
  return data.agent;
}

export async function upload(file) {
  const name = encodeURIComponent(file.name || "file");
  return api("POST", `/api/v1/attachments?name=${name}`, file);
}

// Customer 360 (CONTRACT.md "Customer 360"): the unified view, lookups, and linking.
export function customer360(key, { refresh = false } = {}) {
  return get(`/api/v1/customers/${encodeURIComponent(key)}/360${refresh ? "?refresh=true" : ""}`);
}

export function lookupCustomers(by, value) {
  return get(`/api/v1/customers/lookup?by=${encodeURIComponent(by)}&value=${encodeURIComponent(value)}`);
}

export const customerSources = () => get("/api/v1/customers/sources");

/** Link a conversation to a customer key; null unlinks. Answers the conversation summary. */
export function linkCustomer(conversationId, key) {
  return put(`/api/v1/conversations/${encodeURIComponent(conversationId)}/customer`, { customer_key: key });
}

// Tickets (docs/rest.md "Tickets"): ids are strings, lists page with `next`.
const ticketPath = (id) => `/api/v1/tickets/${encodeURIComponent(id)}`;

/** `filters`: {status, priority, assignee: "me"|id, queue, customer_key}; empty ones are left out. */
export function listTickets(filters = {}, cursor = null, limit = 50) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(filters)) if (value) query.set(key, value);
  if (cursor) query.set("cursor", cursor);
  query.set("limit", String(limit));
  return get(`/api/v1/tickets?${query}`);
}

export const getTicket = (id) => get(ticketPath(id));
export const createTicket = (body) => post("/api/v1/tickets", body);
export const updateTicket = (id, changes) => patch(ticketPath(id), changes);
export const addTicketComment = (id, body, internal) => post(`${ticketPath(id)}/comments`, { body, internal });

/** Every page of a ticket's comments or history (`kind`), oldest first. */
export async function ticketLog(id, kind) {
  const items = [];
  let after = "";
  for (let page = 0; page < 20; page++) {
    const answer = await get(`${ticketPath(id)}/${kind}?limit=500${after ? `&after=${encodeURIComponent(after)}` : ""}`);
    items.push(...answer.items);
    if (!answer.next) break;
    after = answer.next;
  }
  return items;
}

/** The conversation's ticket: a new one, or the one it already has. `fields`: optional
 * {priority, subject, assignee_id} for a new one (a string is the priority alone). */
export function ticketFromConversation(conversationId, fields = {}) {
  const given = typeof fields === "string" ? { priority: fields } : fields;
  const body = Object.fromEntries(Object.entries(given).filter(([, value]) => value));
  return post(`/api/v1/conversations/${encodeURIComponent(conversationId)}/ticket`, body);
}

// Sagas (CONTRACT.md "Sagas"): definitions, start with an idempotency key, read, list, retry, compensate.
const sagaPath = (id) => `/api/v1/sagas/${encodeURIComponent(id)}`;

export const sagaDefinitions = () => get("/api/v1/saga-definitions");

/** Start saga `name`; the same `idempotency_key` again answers the same saga_id. */
export function startSaga(name, input, customerKey, idempotencyKey) {
  const body = { input, idempotency_key: idempotencyKey };
  if (customerKey) body.customer_key = customerKey;
  return post(`/api/v1/sagas/${encodeURIComponent(name)}`, body);
}

export const getSaga = (id) => get(sagaPath(id));

/** `filters`: {status, name, customer_key}; empty ones are left out. Newest first, paged by `next`. */
export function listSagas(filters = {}, cursor = null, limit = 25) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(filters)) if (value) query.set(key, value);
  if (cursor) query.set("cursor", cursor);
  query.set("limit", String(limit));
  return get(`/api/v1/sagas?${query}`);
}

export const retrySaga = (id) => post(`${sagaPath(id)}/retry`);
export const compensateSaga = (id) => post(`${sagaPath(id)}/compensate`);
