// The console's one WebSocket: reconnects with jittered backoff, keeps itself alive with
// application pings (browsers cannot see WebSocket pings), and hands frames to handlers.

const PING_EVERY_MS = 20000;
const MAX_BACKOFF_MS = 15000;

export class ChatSocket {
  constructor(token, { onFrame, onState, onRevoked }) {
    this.token = token;
    this.onFrame = onFrame;
    this.onState = onState;
    this.onRevoked = onRevoked;
    this.ws = null;
    this.attempt = 0;
    this.stopped = false;
    this.outbox = [];
    this.pingTimer = null;
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/ws?token=${encodeURIComponent(this.token)}`);
    this.ws = ws;
    this.onState("connecting");
    ws.addEventListener("open", () => {
      this.attempt = 0;
      this.onState("online");
      for (const frame of this.outbox.splice(0)) ws.send(JSON.stringify(frame));
      this.pingTimer = setInterval(() => this.send({ type: "ping" }), PING_EVERY_MS);
    });
    ws.addEventListener("message", (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      this.onFrame(frame);
    });
    ws.addEventListener("close", (event) => {
      clearInterval(this.pingTimer);
      if (this.stopped) return;
      if (event.code === 4401) {
        this.onRevoked();
        return;
      }
      this.onState("offline");
      const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** this.attempt++) * (0.5 + Math.random() / 2);
      setTimeout(() => this.connect(), delay);
    });
  }

  get open() {
    return this.ws && this.ws.readyState === WebSocket.OPEN;
  }

  send(frame) {
    if (this.open) this.ws.send(JSON.stringify(frame));
    else if (frame.type === "message.send") this.outbox.push(frame);
  }

  stop() {
    this.stopped = true;
    clearInterval(this.pingTimer);
    if (this.ws) this.ws.close();
  }
}
