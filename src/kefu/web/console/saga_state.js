// What the console knows of sagas (CONTRACT.md "Sagas"): the definitions (read once per
// sign-in: titles, declared input, steps) and the latest copy of every saga it has shown.
// REST answers and `saga.updated` frames both land here; the 360 panel's timeline and the
// Sagas page subscribe and redraw the sagas that changed.
//
// A REST list is a snapshot taken when it was asked for; a frame that arrived while it was
// in flight is newer, so every copy is stamped on arrival and a snapshot never replaces a
// copy stamped after the snapshot was asked for. When the server sends a growing
// `version` (or `updated_at`), that decides instead.

import { sagaDefinitions } from "./api.js";

export const TERMINAL = new Set(["completed", "compensated"]);

const sagas = new Map(); // id -> {saga, stamp}
const listeners = new Set();
let stamp = 0;
let definitionsPromise = null;

/** The definitions by name, or an empty map when none (or no sagas API) is there. */
export function definitions() {
  if (!definitionsPromise) {
    definitionsPromise = sagaDefinitions()
      .then((answer) => new Map((answer.items || []).map((d) => [d.name, d])))
      .catch(() => {
        definitionsPromise = null; // ask again next time
        return new Map();
      });
  }
  return definitionsPromise;
}

/** Forget everything (sign-out): the next agent may see other definitions. */
export function resetSagas() {
  sagas.clear();
  definitionsPromise = null;
  for (const listener of resetListeners) listener();
}

const resetListeners = new Set();
export function onSagaReset(listener) {
  resetListeners.add(listener);
}

export function currentStamp() {
  return stamp;
}

export function onSagaChange(listener) {
  listeners.add(listener);
}

function newer(incoming, known) {
  for (const field of ["version", "updated_at"]) {
    if (incoming[field] !== undefined && known[field] !== undefined) return incoming[field] >= known[field];
  }
  return null;
}

/**
 * Keep `saga` unless what is known is newer. `askedAt` is the stamp when the REST request
 * that answered it was made (frames pass nothing: they are the newest there is).
 * Answers the copy that is kept.
 */
export function remember(saga, askedAt = null) {
  if (!saga || !saga.id) return saga;
  const known = sagas.get(saga.id);
  if (known) {
    const byVersion = newer(saga, known.saga);
    const keep = byVersion === null ? askedAt === null || known.stamp <= askedAt : byVersion;
    if (!keep) return known.saga;
  }
  sagas.set(saga.id, { saga, stamp: ++stamp });
  return saga;
}

/** A REST snapshot of many: each one kept or not as remember() says. */
export function rememberAll(items, askedAt) {
  return items.map((saga) => remember(saga, askedAt));
}

export function known(id) {
  const entry = sagas.get(id);
  return entry ? entry.saga : null;
}

/** The known sagas of one customer, newest first. */
export function sagasOf(customerKey) {
  return [...sagas.values()]
    .map((entry) => entry.saga)
    .filter((saga) => saga.customer_key === customerKey)
    .sort(byNewest);
}

export function byNewest(a, b) {
  return String(b.started_at || "").localeCompare(String(a.started_at || "")) || String(b.id).localeCompare(String(a.id));
}

/** A `saga.updated` frame: remember it and tell every view. */
export function onSagaFrame(frame) {
  if (!frame.saga || !frame.saga.id) return;
  const kept = remember(frame.saga);
  for (const listener of listeners) listener(kept);
}

/** A REST answer about one saga changed what is known: tell every view too. */
export function announceSaga(saga) {
  for (const listener of listeners) listener(saga);
}
