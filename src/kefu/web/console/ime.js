// Chinese (and Japanese, Korean) input: while an IME composition is open, Enter picks a
// candidate (pinyin → 汉字); it must never send a reply, add a label or submit a form.
// `composing(event)` tells such a keydown (`isComposing`; keyCode 229 is what Chromium and
// Safari report for the keydown that ends a composition), and initIme() stops one before any
// of the console's own Enter handlers sees it, so every field is covered, including ones
// added later.

/** True for a keydown that belongs to an open IME composition. */
export function composing(event) {
  return Boolean(event.isComposing) || event.keyCode === 229;
}

/** Capture Enter during a composition at the window, ahead of every console handler. */
export function initIme() {
  window.addEventListener(
    "keydown",
    (event) => {
      if (event.key === "Enter" && composing(event)) event.stopImmediatePropagation();
    },
    true,
  );
}
