// The composer's emoji picker (issue 15 item 14): a small grid of the emoji support teams
// use most, opened by the ☺ button. Arrow keys, Home and End move through it, Enter or a
// click inserts at the caret, Esc (or a click elsewhere) closes it and gives the focus back
// to the reply. Emoji are plain text: messages stay text-only.

import { $, el } from "./dom.js";
import { t } from "./i18n.js";

// [emoji, catalog name]: faces and gestures first, then what orders and support are about.
const EMOJI = [
  ["😀", "grin"], ["🙂", "smile"], ["😊", "blush"], ["😉", "wink"], ["😂", "joy"], ["😅", "sweat_smile"],
  ["🤔", "thinking"], ["😢", "cry"], ["😮", "wow"], ["🙏", "thanks"], ["👍", "thumbs_up"], ["👎", "thumbs_down"],
  ["👌", "ok"], ["👏", "clap"], ["👋", "wave"], ["🤝", "handshake"], ["💪", "strong"], ["❤️", "heart"],
  ["🎉", "party"], ["✅", "done"], ["❌", "no"], ["⚠️", "warning"], ["⏰", "clock"], ["📦", "parcel"],
  ["🚚", "delivery"], ["💳", "card"], ["🎁", "gift"], ["📞", "phone"], ["📧", "email"], ["💡", "idea"],
];
const COLUMNS = 6;

let grid = null;
let toggle = null;
let target = null;

export function initEmoji() {
  toggle = $("#emoji-btn");
  target = $("#composer-input");
  if (!toggle || !target) return;
  grid = el("div", { id: "emoji-grid", class: "emoji-grid", role: "grid", "aria-label": t("chat.emoji_grid"), hidden: true },
    rows().map((row, r) => el("div", { role: "row", class: "emoji-row" }, row.map(([emoji, name], c) =>
      el("button", { type: "button", role: "gridcell", class: "emoji-cell", tabindex: r === 0 && c === 0 ? "0" : "-1",
        "aria-label": t(`chat.emoji_${name}`), title: t(`chat.emoji_${name}`), text: emoji, onclick: () => insert(emoji) })))));
  toggle.after(grid);
  toggle.addEventListener("click", () => (grid.hidden ? open() : close(true)));
  grid.addEventListener("keydown", onKey);
  document.addEventListener("click", (event) => {
    if (!grid.hidden && !grid.contains(event.target) && !toggle.contains(event.target)) close(false);
  });
}

function rows() {
  const out = [];
  for (let i = 0; i < EMOJI.length; i += COLUMNS) out.push(EMOJI.slice(i, i + COLUMNS));
  return out;
}

function cells() {
  return [...grid.querySelectorAll(".emoji-cell")];
}

function open() {
  grid.hidden = false;
  toggle.setAttribute("aria-expanded", "true");
  (grid.querySelector('[tabindex="0"]') || cells()[0]).focus();
}

function close(refocus) {
  grid.hidden = true;
  toggle.setAttribute("aria-expanded", "false");
  if (refocus) target.focus();
}

/** The emoji goes where the caret is (replacing a selection), and the caret after it. */
function insert(emoji) {
  const start = target.selectionStart ?? target.value.length;
  const end = target.selectionEnd ?? start;
  target.setRangeText(emoji, start, end, "end");
  target.dispatchEvent(new Event("input", { bubbles: true })); // the composer grows, typing is sent
  close(true);
}

function move(to) {
  const all = cells();
  const index = Math.max(0, Math.min(all.length - 1, to));
  for (const cell of all) cell.tabIndex = -1;
  all[index].tabIndex = 0;
  all[index].focus();
}

function onKey(event) {
  const all = cells();
  const at = all.indexOf(document.activeElement);
  const steps = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: COLUMNS, ArrowUp: -COLUMNS };
  if (event.key in steps) move(at + steps[event.key]);
  else if (event.key === "Home") move(0);
  else if (event.key === "End") move(all.length - 1);
  else if (event.key === "Escape") close(true);
  else return;
  event.preventDefault();
  event.stopPropagation(); // Esc here closes the grid only, not the chat's other layers
}
