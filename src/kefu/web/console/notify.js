// A new conversation: a soft two-note chime (WebAudio, no file) and, when the tab is in
// the background and the agent allowed it, a system notification.

let audio = null;

export function chime() {
  try {
    audio = audio || new AudioContext();
    const now = audio.currentTime;
    for (const [i, freq] of [660, 880].entries()) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.type = "sine";
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, now + i * 0.14);
      gain.gain.exponentialRampToValueAtTime(0.08, now + i * 0.14 + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + i * 0.14 + 0.3);
      osc.connect(gain).connect(audio.destination);
      osc.start(now + i * 0.14);
      osc.stop(now + i * 0.14 + 0.32);
    }
  } catch {
    /* no audio available: the list badge still shows it */
  }
}

export function canNotify() {
  return "Notification" in window;
}

export async function askPermission() {
  if (!canNotify()) return "unsupported";
  // Unlocks audio too: browsers start an AudioContext only after a user gesture.
  audio = audio || new AudioContext();
  return Notification.requestPermission();
}

export function announce(title, body, onClick) {
  chime();
  if (!canNotify() || Notification.permission !== "granted" || !document.hidden) return;
  const note = new Notification(title, { body, tag: "kefu-new", silent: true });
  note.addEventListener("click", () => {
    window.focus();
    onClick();
    note.close();
  });
}
