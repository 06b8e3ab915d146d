// A refused request in the agent's language, for the views that show one after their own
// words ("Could not load tickets: …"). The server's error codes are stable English
// snake_case; the sentence comes from the catalogs (errors.<code>). In English the
// server's own message is kept when it has one: it may name the field or the limit.

import { errorText, lang, t } from "./i18n.js";

/** The reason `err` (an ApiError, or a failed fetch) gives, as a sentence. */
export function why(err) {
  if (!err) return "";
  if (!err.code) return lang() === "en" && err.message && !(err instanceof TypeError) ? err.message : t("errors.network");
  return lang() === "en" && err.message ? err.message : errorText(err.code);
}

/** The catalog's word for a value the server or a department system sends as a code
 * (a status, a priority, an order status), or the value itself when it has none. */
export function codeText(prefix, value) {
  if (value === null || value === undefined || value === "") return "";
  const key = `${prefix}${String(value).toLowerCase().replace(/[^a-z0-9]+/g, "_")}`;
  const text = t(key);
  return text === key ? String(value) : text;
}
