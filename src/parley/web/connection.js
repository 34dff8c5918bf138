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
//
// A dead link is noticed within about 10 s (docs/protocol.md, "The page's liveness check"):
// after `ping_after` quiet seconds the page sends `ping`, and gives the socket up when nothing
// arrives within `ping_timeout` of it. The decision needs an unanswered ping, so a background
// tab whose timers the browser slows down is never taken for dead.
//
// The constants below are the protocol's: tests/unit/test_js_protocol_constants.py checks them
// against src/parley/protocol.py. Everything else (limits, rates) comes from `welcome.limits`.

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

// WebSocket's own code for a socket that ended without a close frame (no server sends it).
const ABNORMAL = 1006;

// Never reconnect after these: a reconnect would only be refused (or banned) again.
const FINAL = new Set([CLOSE.REFUSED, CLOSE.UNSUPPORTED_VERSION, CLOSE.BANNED]);
const SANCTION = new Set([CLOSE.PROTOCOL_ABUSE, CLOSE.RATE_ABUSE]);

const BACKOFF_BASE_MS = 500;
const BACKOFF_CAP_MS = 10_000;
// The liveness check until a welcome says otherwise (protocol.py PING_AFTER, PING_TIMEOUT).
const PING_AFTER_MS = 3_000;
const PING_TIMEOUT_MS = 5_000;
// A server before 1.6 answers no `ping`: then the link is presumed dead after this much silence
// (it pings every `heartbeat_interval`).
const DEFAULT_SILENCE_MS = 25_000;
// A socket still not open after this long is given up (e.g. a server that stopped answering).
const OPEN_TIMEOUT_MS = 10_000;
const WATCHDOG_TICK_MS = 500;

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
    this.openedAt = 0; // when the current socket was created
    this.pingedAt = null; // when our unanswered `ping` went out
    this.pingAfterMs = PING_AFTER_MS; // null: the server answers no ping (before 1.6)
    this.pingTimeoutMs = PING_TIMEOUT_MS;
    this.silenceMs = DEFAULT_SILENCE_MS;
    this.nextId = 1;
    this.limits = null;
    window.addEventListener("online", () => {
      if (this.wanted && this.retryTimer !== null) this.#retryNow();
    });
    // The device says it lost its network: check the link now rather than after a quiet spell
    // (the event alone is no proof: it also fires when one of several networks goes away).
    window.addEventListener("offline", () => this.#probe());
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
      this.#scheduleRetry(ABNORMAL);
      return;
    }
    this.ws = ws;
    this.openedAt = Date.now();
    this.pingedAt = null;
    this.#startWatchdog();
    ws.onopen = () => {
      this.lastReceived = Date.now();
      this.hello = this.makeHello();
      ws.send(JSON.stringify({ ...this.hello, version: PROTOCOL_VERSION, id: this.nextId++ }));
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
    this.pingedAt = null; // any frame answers our ping
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
    if (frame.type === "pong") return; // the answer to our ping: its arrival was the point
    if (frame.type === "welcome") {
      const resumed = this.everWelcomed;
      this.welcomed = true;
      this.everWelcomed = true;
      this.attempt = 0;
      this.limits = frame.limits && typeof frame.limits === "object" ? frame.limits : null;
      this.#readLiveness(this.limits);
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

  /** The liveness check the server asks for; a server before 1.6 gets the silence rule. */
  #readLiveness(limits) {
    const after = Number(limits?.ping_after);
    const timeout = Number(limits?.ping_timeout);
    if (after > 0 && timeout > 0) {
      this.pingAfterMs = after * 1000;
      this.pingTimeoutMs = timeout * 1000;
      return;
    }
    this.pingAfterMs = null;
    const interval = Number(limits?.heartbeat_interval);
    this.silenceMs = interval > 0 ? Math.max(DEFAULT_SILENCE_MS, interval * 2500) : DEFAULT_SILENCE_MS;
  }

  #startWatchdog() {
    this.#stopWatchdog();
    this.watchdog = window.setInterval(() => this.#watch(), WATCHDOG_TICK_MS);
  }

  #watch() {
    const ws = this.ws;
    if (!ws) return;
    const now = Date.now();
    if (ws.readyState === WebSocket.CONNECTING) {
      if (now - this.openedAt > OPEN_TIMEOUT_MS) this.#dead();
      return;
    }
    if (ws.readyState !== WebSocket.OPEN) return;
    if (this.pingAfterMs === null) {
      if (now - this.lastReceived > this.silenceMs) this.#dead();
      return;
    }
    if (this.pingedAt !== null) {
      if (now - this.pingedAt > this.pingTimeoutMs) this.#dead();
      return;
    }
    if (now - this.lastReceived >= this.pingAfterMs) this.#probe();
  }

  /** Send our `ping` (unless one is unanswered); no frame within pingTimeoutMs: the link is dead. */
  #probe() {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN || this.pingedAt !== null) return;
    if (this.pingAfterMs === null) return; // a server before 1.6 would not answer
    this.pingedAt = Date.now();
    ws.send(JSON.stringify({ type: "ping" }));
  }

  /** The link is dead (no answer, or the device went offline): give it up and reconnect. */
  #dead() {
    this.#discard(CLOSE.NORMAL);
    if (this.wanted) this.#scheduleRetry(CLOSE.HEARTBEAT_TIMEOUT);
  }

  #stopWatchdog() {
    if (this.watchdog !== null) {
      window.clearInterval(this.watchdog);
      this.watchdog = null;
    }
  }
}
