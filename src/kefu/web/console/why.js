// What the work views (tickets, 360, sagas, reports, admin) share to speak and read the
// agent's language: a refused request as a sentence, a code shown in the catalog's words,
// and what an agent typed into a key or number field read the same in half- and full-width.
//
// The server's error codes are stable English snake_case; the sentence comes from the
// catalogs (errors.<code>). In English the server's own message is kept when it has one:
// it may name the field or the limit.

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

/** A key, id, phone or number as typed: a Chinese input method in full-width mode gives
 * "Ｃ１００１" or "１１６５．００"; NFKC reads them as "C1001" and "1165.00". Only for
 * such fields: free text keeps its full-width punctuation. */
export function typed(value) {
  return String(value ?? "").normalize("NFKC").trim();
}

/** Keywords typed as a list: split on the ASCII comma and the Chinese ones (，、). */
export function splitList(value) {
  return String(value ?? "").split(/[,，、]/).map((item) => item.trim()).filter(Boolean);
}
