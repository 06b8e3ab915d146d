// Tiny DOM helpers. Every piece of text goes in through textContent: nothing a visitor or
// agent typed is ever parsed as HTML.

import { fmtClock } from "./i18n.js";

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

/** el("div", {class: "x", dataset: {id}, onclick}, child, "text") */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "style") throw new Error("style attributes break the CSP; use node.style");
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node) {
  while (node.firstChild) node.firstChild.remove();
}

/** A link only for http(s) URLs; anything else (javascript:, data:) stays plain text. */
export function safeLink(url, text = url) {
  try {
    const parsed = new URL(url, location.href);
    if (parsed.protocol === "http:" || parsed.protocol === "https:") {
      return el("a", { href: parsed.href, target: "_blank", rel: "noopener noreferrer", text });
    }
  } catch {
    /* not a URL: shown as text below */
  }
  return document.createTextNode(text);
}

export function initials(name) {
  const parts = (name || "?").trim().split(/\s+/).slice(0, 2);
  return parts.map((p) => p[0] || "").join("").toUpperCase() || "?";
}

// A stable soft color per visitor, so the list is easy to scan.
export function hue(seed) {
  let h = 0;
  for (const ch of seed || "") h = (h * 31 + ch.charCodeAt(0)) % 360;
  return `hsl(${h} 55% 52%)`;
}

/** "4m 05s": compact, language-neutral units (reports.js); the inbox uses fmtDuration. */
export function shortDuration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, "0")}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${String(m % 60).padStart(2, "0")}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** Today's time, another day's date, in the console's language (i18n.js). */
export function clock(iso) {
  return fmtClock(iso);
}

// http(s) URLs in a message, up to whitespace; trailing punctuation is the sentence's.
const URL_IN_TEXT = /\bhttps?:\/\/[^\s<>"'`]+/gi;

/** A message's text as text nodes and links: only http(s) URLs become links (new tab,
 * rel=noopener noreferrer); nothing is ever parsed as HTML. */
export function linkify(text) {
  const nodes = [];
  let at = 0;
  for (const match of text.matchAll(URL_IN_TEXT)) {
    let url = match[0];
    const trail = /[.,;:!?)\]}'"»。，！？）]+$/u.exec(url);
    if (trail) url = url.slice(0, -trail[0].length);
    if (!url) continue;
    let parsed = null;
    try {
      parsed = new URL(url);
    } catch {
      parsed = null;
    }
    if (!parsed || !["http:", "https:"].includes(parsed.protocol)) continue;
    if (match.index > at) nodes.push(document.createTextNode(text.slice(at, match.index)));
    nodes.push(el("a", { href: parsed.href, target: "_blank", rel: "noopener noreferrer", text: url }));
    at = match.index + url.length;
  }
  if (at < text.length) nodes.push(document.createTextNode(text.slice(at)));
  return nodes;
}
