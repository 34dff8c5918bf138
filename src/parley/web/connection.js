// The WebSocket to /ws: hello handshake, heartbeat, and reconnect with backoff.
//
// Events (all CustomEvent, details in `event.detail`):
//   "frame"   every server frame except ping, after the connection's own handling
//   "welcome" the server accepted hello ({frame, resumed}: resumed is true after a reconnect)
//   "down"    the socket closed unexpectedly ({code, reconnect, delay}); reconnect=false means
//             this connection will not come back on its own (refused, outdated, sanctioned)
//
// The connection never reconnects after close codes 4003 (refused), 4006 (unsupported version)
// and 4007 (banned), nor after the abuse sanctions 4000/4001 (the user may reconnect by hand).

export const PROTOCOL_VERSION = 1;

export const CLOSE = Object.freeze({
  NORMAL: 1000,
  GOING_AWAY: 1001,
  TOO_BIG: 1009,
  PROTOCOL_ABUSE: 4000,
  RATE_ABUSE: 4001,
  HEARTBEAT_TIMEOUT: 4002,
  REFUSED: 4003,
  SLOW_CONSUMER: 4004,
  SERVER_FULL: 4005,
  UNSUPPORTED_VERSION: 4006,
  BANNED: 4007,
});

// Never reconnect after these: a reconnect would only be refused (or banned) again.
const FINAL = new Set([CLOSE.REFUSED, CLOSE.UNSUPPORTED_VERSION, CLOSE.BANNED]);
const SANCTION = new Set([CLOSE.PROTOCOL_ABUSE, CLOSE.RATE_ABUSE]);

const BACKOFF_BASE_MS = 500;
const BACKOFF_CAP_MS = 10_000;
// Without any frame for this long, the link is presumed dead (the server pings every 10 s).
const DEFAULT_SILENCE_MS = 25_000;

export function socketUrl() {
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${window.location.host}/ws`;
}

/** Delay before reconnect attempt `attempt` (0-based): exponential, capped, with full jitter. */
export function backoffDelay(attempt) {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt);
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

export class Connection extends EventTarget {
  constructor(url = socketUrl()) {
    super();
    this.url = url;
    this.ws = null;
    this.makeHello = null;
    this.hello = null; // the last hello frame sent (without id)
    this.welcomed = false; // hello accepted on the current socket
    this.everWelcomed = false;
    this.wanted = false; // should a socket be open?
    this.attempt = 0;
    this.retryTimer = null;
    this.watchdog = null;
    this.lastReceived = 0;
    this.silenceMs = DEFAULT_SILENCE_MS;
    this.nextId = 1;
    this.limits = null;
    window.addEventListener("online", () => {
      if (this.wanted && this.retryTimer !== null) this.#retryNow();
    });
  }

  /** True once hello was accepted on the current socket. */
  get ready() {
    return this.welcomed && this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  /** Is a socket open or being opened (or about to be retried)? */
  get active() {
    return this.wanted;
  }

  /**
   * Open (or re-open) the connection. `makeHello()` builds the hello frame; it is called again
   * for every reconnect, so it can carry the device token from the latest welcome.
   */
  open(makeHello) {
    this.makeHello = makeHello;
    this.hello = makeHello();
    this.wanted = true;
    this.everWelcomed = false;
    this.attempt = 0;
    this.#clearRetry();
    if (this.ws) this.#discard(CLOSE.NORMAL);
    this.#connect();
  }

  /** Close on purpose: no "down" event, no reconnect. */
  close() {
    this.wanted = false;
    this.#clearRetry();
    if (this.ws) this.#discard(CLOSE.NORMAL);
  }

  /** Send a frame; returns its id, or null if there is no open, welcomed socket. */
  send(frame) {
    if (!this.ready) return null;
    const id = this.nextId++;
    this.ws.send(JSON.stringify({ ...frame, id }));
    return id;
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  #connect() {
    this.welcomed = false;
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch {
      this.#scheduleRetry(1006);
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.lastReceived = Date.now();
      this.hello = this.makeHello();
      ws.send(JSON.stringify({ ...this.hello, version: PROTOCOL_VERSION, id: this.nextId++ }));
      this.#startWatchdog();
    };
    ws.onmessage = (event) => this.#onMessage(ws, event);
    ws.onclose = (event) => {
      if (ws !== this.ws) return; // a socket we already gave up on
      this.#onClose(event.code);
    };
    ws.onerror = () => {
      /* a close event always follows */
    };
  }

  #onMessage(ws, event) {
    if (ws !== this.ws) return;
    this.lastReceived = Date.now();
    let frame;
    try {
      frame = JSON.parse(event.data);
    } catch {
      return;
    }
    if (!frame || typeof frame !== "object" || typeof frame.type !== "string") return;
    if (frame.type === "ping") {
      ws.send(JSON.stringify({ type: "pong" }));
      return;
    }
    if (frame.type === "welcome") {
      const resumed = this.everWelcomed;
      this.welcomed = true;
      this.everWelcomed = true;
      this.attempt = 0;
      this.limits = frame.limits || null;
      const interval = Number(this.limits?.heartbeat_interval);
      if (interval > 0) this.silenceMs = Math.max(DEFAULT_SILENCE_MS, interval * 2500);
      this.#emit("welcome", { frame, resumed });
      return;
    }
    this.#emit("frame", frame);
  }

  #onClose(code) {
    this.#stopWatchdog();
    this.ws = null;
    this.welcomed = false;
    if (!this.wanted) return;
    if (FINAL.has(code) || SANCTION.has(code)) {
      this.wanted = false;
      this.#emit("down", { code, reconnect: false, delay: null });
      return;
    }
    this.#scheduleRetry(code);
  }

  #scheduleRetry(code) {
    const delay = backoffDelay(this.attempt++);
    this.#clearRetry();
    this.retryTimer = window.setTimeout(() => {
      this.retryTimer = null;
      if (this.wanted) this.#connect();
    }, delay);
    this.#emit("down", { code, reconnect: true, delay });
  }

  #retryNow() {
    this.#clearRetry();
    this.#connect();
  }

  #clearRetry() {
    if (this.retryTimer !== null) {
      window.clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
  }

  /** Drop the current socket without waiting for its close handshake. */
  #discard(code) {
    const ws = this.ws;
    this.ws = null;
    this.welcomed = false;
    this.#stopWatchdog();
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    try {
      ws.close(code);
    } catch {
      /* already closed */
    }
  }

  #startWatchdog() {
    this.#stopWatchdog();
    this.watchdog = window.setInterval(() => {
      if (this.ws && Date.now() - this.lastReceived > this.silenceMs) {
        // The link went silent (e.g. the phone changed networks): give up on it and reconnect.
        this.#discard(CLOSE.NORMAL);
        if (this.wanted) this.#scheduleRetry(CLOSE.HEARTBEAT_TIMEOUT);
      }
    }, 2_000);
  }

  #stopWatchdog() {
    if (this.watchdog !== null) {
      window.clearInterval(this.watchdog);
      this.watchdog = null;
    }
  }
}
