// The chat session: the client half of the protocol state machine (docs/protocol.md).
//
//   off ──begin──▶ connecting ──welcome──▶ [preparing] ──start──▶ waiting ──matched──▶ chatting
//                                   ▲    ▲                              │
//                                   │    └──────────── next ────────────┤
//         idle ◀── stop / partner_left / connection lost ───────────────┘
//          └── New ──▶ waiting
//   ended: refused (under 13, or a minor where the minor pool is closed), banned, or this page is
//   out of date; nothing more happens.
//
// Safety: the pair that can be reported or blocked (`reportPair`) is the current one, or the one
// that just ended, until the next match (the server keeps its evidence that long). The session
// sends `report` and `block` and tells listeners what came back, as events:
//   "reportable"  the reportable pair changed ({pair, blocked})
//   "reported"    a report was stored ({pair, ref, ref_id})
//   "report-error" a report was refused or lost ({id, code, message})
//   "blocked"     a block was stored ({pair})
//   "banned"      a ban covers us ({frame}: reason, category, ends_at, ban, appeal_url)
//   "safety-prompt" the server sees warning signs in this chat ({pair, text})
//
// `preparing` is the active mode getting ready before `start` is sent (video: camera and
// microphone permission); when it cannot, the session goes idle and the mode explains why.
//
// Pair-scoped frames are only accepted for the current pair; everything else is stale and
// dropped. All partner text goes to the view, which renders it as text only.
//
// Delivery (docs/protocol.md, "Reliable delivery"): our line is pending until the server's
// `ack`, then sent; refused (`error` with its ref) or caught by a dead socket, it is marked not
// sent, never dropped, with a retry where sending again can help. A line over the server's
// length limit or its message rate (welcome.limits) is refused here, before it is sent, and the
// text stays in the composer. After a reconnect, someone who was waiting or chatting is put back
// in the queue by the page, with a banner saying so; someone who had stopped is not.

import { CLOSE } from "./connection.js";
import { formatNumber, has } from "./i18n.js";
import { getMode } from "./modes.js";
import { storageGet, storageSet } from "./storage.js";

const DEVICE_KEY = "parley.device";
const TYPING_IDLE_MS = 3_000;
const MAX_TRACKED_IDS = 200;

// Which landing field a hello refusal is about (the rest are about the age).
const FIELD_OF_ERROR = {
  bad_interests: "interests",
  mode_not_allowed: "mode-video",
  attestation_required: "mode-video",
};

// Refusals that another hello cannot fix: the socket is closed 4003 and the form locked.
const FINAL_REFUSALS = new Set(["age_refused", "minor_pool_closed", "age_mismatch"]);

// Why a block did not go through, by error code (translation keys).
const BLOCK_FAILED = {
  stale_pair: "block.error.ended",
  not_chatting: "block.error.ended",
  server_busy: "block.error.busy",
  rate_limited: "block.error.too_fast",
};

// Why `start` / `next` put us nowhere, by error code (translation keys).
const START_FAILED = {
  rate_limited: "status.too_fast_start",
  server_busy: "status.busy",
  bad_question: "status.bad_question", // question mode: the filter refused the question
  mode_unavailable: "status.question_unavailable", // this server cannot run question mode
};

// Reasons (translation keys) for which sending the same line again can work.
const RETRYABLE = new Set(["reason.offline", "reason.too_fast", "reason.busy", "reason.ended"]);

// Why a line was not delivered, by error code (translation keys).
const NOT_SENT_REASON = {
  rate_limited: "reason.too_fast",
  message_too_long: "reason.too_long",
  frame_too_large: "reason.too_long",
  empty_message: "reason.empty",
  stale_pair: "reason.ended",
  not_chatting: "reason.ended",
  server_busy: "reason.busy",
};

/**
 * A token bucket at one of the server's rates (welcome.limits.rates), so a fast user is slowed
 * down in the page instead of being refused, or disconnected, by the server.
 */
class TokenBucket {
  constructor(ratePerSecond, burst) {
    this.rate = ratePerSecond;
    this.burst = burst;
    this.tokens = burst;
    this.stamp = performance.now();
  }

  /** The bucket for `spec` ({rate, burst}), or null when the server gave none. */
  static from(spec) {
    const rate = Number(spec?.rate);
    const burst = Number(spec?.burst);
    return rate > 0 && burst >= 1 ? new TokenBucket(rate, burst) : null;
  }

  take() {
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.stamp) / 1000) * this.rate);
    this.stamp = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}


export class Session extends EventTarget {
  /**
   * @param {object} o
   * @param {import("./connection.js").Connection} o.conn
   * @param {import("./chat.js").ChatView} o.view
   * @param {() => string} o.language   current UI language (the pool language)
   * @param {(n: number) => void} o.onOnline
   * @param {(why: {key?: string, text?: string, params?: object}) => void} o.onHelloRejected
   * @param {(code: string) => void} o.onRefused  a final refusal (age_refused, minor_pool_closed…)
   * @param {(mode: string) => void} [o.onSwitchMode]  a mode asks to switch (video → text)
   */
  constructor({ conn, view, language, onOnline, onHelloRejected, onRefused, onSwitchMode }) {
    super();
    this.conn = conn;
    this.view = view;
    this.language = language;
    this.onOnline = onOnline;
    this.onHelloRejected = onHelloRejected;
    this.onRefused = onRefused;
    this.onSwitchMode = onSwitchMode ?? (() => {});
    this.prepareToken = 0;

    this.phase = "off";
    this.settings = null;
    this.mode = getMode("text");
    this.mounted = false; // has this.mode been mounted (and not yet unmounted)?
    this.pair = null;
    this.reportPair = null; // current pair, or the one that just ended (until the next match)
    this.reportSeat = null; // our seat in reportPair in question mode (asker/stranger1/stranger2)
    this.blockedPairs = new Set();
    this.pendingStart = false; // send `start` as soon as the socket is welcomed
    this.awaitingStopped = 0; // frames before our `stopped` belong to the chat we left
    this.stopArmed = false;
    this.sent = new Map(); // id -> {kind, line}
    this.pending = new Map(); // id -> our line, until its ack (or error, or the socket dies)
    this.acks = false; // does this server acknowledge lines (1.6)?
    this.requeue = false; // the next start is the page's own, after a reconnect: say so
    this.typingSent = false;
    this.typingTimer = null;
    this.countdownTimer = null;
    this.unread = 0;
    this.buckets = {}; // kind (message, typing, start) -> TokenBucket, from welcome.limits.rates
    view.onRetry = (line) => this.#retry(line);

    conn.addEventListener("welcome", (e) => this.#onWelcome(e.detail.frame));
    conn.addEventListener("frame", (e) => this.#onFrame(e.detail));
    conn.addEventListener("down", (e) => this.#onDown(e.detail));

    const ctx = {
      send: (frame) => this.#send(frame),
      pair: () => this.pair,
      phase: () => this.phase,
      next: () => this.pressNext(),
      restart: () => {
        if (this.phase === "idle") this.#newChat();
      },
      switchMode: (mode) => this.onSwitchMode(mode),
      settings: () => this.settings,
      view,
    };
    this.ctx = ctx;
  }

  // ---- user actions --------------------------------------------------------------------------

  /** Start from the landing form. settings: {age, interests, fallback, mode}. */
  begin(settings) {
    const mode = getMode(settings.mode);
    if (this.mounted && mode !== this.mode) this.#leaveMode();
    if (this.phase === "chatting") {
      // A new chat from the landing form while in one (not reachable from the UI today).
      if (this.#send({ type: "stop" }) !== null) this.awaitingStopped += 1;
      this.#endPair();
    }
    this.settings = settings;
    this.mode = mode;
    if (!this.mounted) {
      this.mode.mount(this.ctx);
      this.mounted = true;
    }
    this.#newChat();
  }

  /** The Stop / Really? / New button (and Esc). */
  pressStop() {
    switch (this.phase) {
      case "preparing":
        this.#stop();
        break;
      case "connecting":
      case "waiting":
      case "chatting":
        if (this.stopArmed) {
          this.#stop();
        } else {
          this.stopArmed = true;
          this.view.setStopState("really");
        }
        break;
      case "idle":
        this.#newChat();
        break;
      default:
        break;
    }
  }

  pressNext() {
    if (this.phase === "chatting") {
      if (!this.#take("start")) {
        this.view.addSystemLine("chat.too_fast_next");
        return;
      }
      const id = this.#send({ type: "next", ...this.#startFields() });
      if (id === null) return;
      this.stopArmed = false;
      this.#endPair();
      this.view.clearLines();
      this.#enterWaiting();
    } else if (this.phase === "idle") {
      this.#newChat();
    }
    this.view.focusInput();
  }

  /**
   * Send the composer's text. Returns true when a line was added. A line the server would refuse
   * (too long, too fast) is not sent: the text stays in the composer and the reason shows.
   */
  sendMessage() {
    const text = this.view.input.value.trim();
    if (!text || this.phase !== "chatting") return false;
    if (this.#refuse(text)) return false;
    this.view.setComposerNote(null);
    this.view.input.value = "";
    this.view.autoGrow();
    this.#deliver(this.view.addChatLine("you", text), text);
    this.#setTyping(false);
    return true;
  }

  /** The composer's text changed. */
  inputChanged() {
    this.view.autoGrow();
    this.#checkLength();
    if (this.phase !== "chatting") return;
    if (this.view.input.value.trim()) {
      this.#setTyping(true);
      window.clearTimeout(this.typingTimer);
      this.typingTimer = window.setTimeout(() => this.#setTyping(false), TYPING_IDLE_MS);
    } else {
      this.#setTyping(false);
    }
  }

  /**
   * Report the stranger of `pair`; in question mode `about` says who (stranger1, stranger2, or
   * asker: the question). Returns the frame id, or null when offline.
   */
  sendReport(pair, category, comment, about = null) {
    if (typeof pair !== "string") return null;
    const frame = { type: "report", pair, category };
    if (comment) frame.comment = comment;
    if (about) frame.about = about;
    return this.#send(frame);
  }

  /** Block the stranger of `pair` (the current or just-ended chat; `about` as for a report). */
  sendBlock(pair, about = null) {
    if (typeof pair !== "string" || this.blockedPairs.has(pair)) return null;
    const id = this.#send(about ? { type: "block", pair, about } : { type: "block", pair });
    if (id === null) this.view.addSystemLine("block.error.offline");
    return id;
  }

  /** Leave the chat at once (the safety prompt's "Leave" button: no "Really?" step). */
  leaveNow() {
    if (this.phase === "chatting") {
      this.stopArmed = true;
      this.pressStop();
    }
  }

  /** Lines for the saved transcript. */
  transcript() {
    return this.view.transcript();
  }

  get chatting() {
    return this.phase === "chatting";
  }

  pageVisible() {
    this.unread = 0;
  }

  // ---- protocol: outgoing ----------------------------------------------------------------------

  #hello() {
    const s = this.settings;
    return {
      type: "hello",
      age: s.age,
      interests: s.interests,
      mode: s.mode,
      language: this.language(),
      device: storageGet(DEVICE_KEY) || null,
      fallback: s.fallback,
      any_language: s.any_language === true,
    };
  }

  #send(frame, extra = {}) {
    const id = this.conn.send(frame);
    if (id === null) return null;
    this.sent.set(id, { kind: frame.type, ...extra });
    if (this.sent.size > MAX_TRACKED_IDS) this.sent.delete(this.sent.keys().next().value);
    return id;
  }

  /** Take a token of the server's `kind` bucket; true when there is no bucket to respect. */
  #take(kind) {
    return this.buckets[kind]?.take() ?? true;
  }

  /** Characters as the server counts them: code points, after trimming. */
  #overLimit(text) {
    const max = this.view.maxChars;
    const n = [...text.trim()].length;
    return max !== null && n > max ? { n: formatNumber(n), max: formatNumber(max) } : null;
  }

  /** Show why `text` cannot be sent now, if it cannot; true when refused. */
  #refuse(text) {
    const over = this.#overLimit(text);
    if (over) {
      this.view.setComposerNote("composer.too_long", over);
      return true;
    }
    if (!this.#take("message")) {
      this.view.setComposerNote("composer.too_fast");
      return true;
    }
    return false;
  }

  /** While typing: say at once when the text has grown over the limit (and when it no longer is). */
  #checkLength() {
    const over = this.#overLimit(this.view.input.value);
    if (over) this.view.setComposerNote("composer.too_long", over);
    else if (this.view.composerNoteKey !== null) this.view.setComposerNote(null);
  }

  /** Send our `line` (pending until the server's ack), or mark it not sent. */
  #deliver(line, text) {
    this.view.markPending(line);
    const id = this.#send({ type: "message", pair: this.pair, text }, { line });
    if (id === null) {
      this.view.markNotSent(line, "reason.offline", { retry: true });
    } else if (this.acks) {
      this.pending.set(id, line);
    } else {
      this.view.markSent(line); // a server before 1.6 acknowledges nothing
    }
  }

  /** The retry button of a line that was not sent: send it again, into the chat of now. */
  #retry(line) {
    if (this.phase !== "chatting" || !line || typeof line._text !== "string") return;
    if (this.#refuse(line._text)) return;
    this.view.markPending(line);
    this.view.moveToEnd(line);
    this.#deliver(line, line._text);
  }

  #setTyping(on) {
    if (!on) window.clearTimeout(this.typingTimer);
    if (on === this.typingSent) return;
    if (on && !this.#take("typing")) return;
    if (this.phase === "chatting" && this.#send({ type: "typing", pair: this.pair, on }) !== null) {
      this.typingSent = on;
    } else {
      this.typingSent = false;
    }
  }

  /**
   * Begin a new chat: clear the log and queue, opening the socket first if needed. A hello is
   * sent once per socket, so when what it says has changed (age, interests, or the language,
   * which picks the pool) the socket is replaced.
   */
  #newChat() {
    this.view.clearLines();
    this.view.setBanner(null);
    this.requeue = false; // a new chat the person asked for: nothing to announce
    this.stopArmed = false;
    if (!this.conn.active || !sameHello(this.conn.hello, this.#hello())) {
      this.pendingStart = true;
      this.#setPhase("connecting");
      this.view.setStatus("status.connecting");
      this.conn.open(() => this.#hello());
    } else if (this.conn.ready) {
      this.#sendStart();
    } else {
      this.pendingStart = true;
      this.#setPhase("connecting");
      this.view.setStatus("status.reconnecting");
    }
  }

  #sendStart() {
    // The mode may need a moment first (video: camera permission). The hello went out already,
    // so a refusal (e.g. video not allowed for minors) comes before the camera is asked for;
    // `start` waits until the mode is ready.
    const ready = this.mode.prepare(this.ctx);
    if (ready !== true) {
      const token = ++this.prepareToken;
      this.pendingStart = false;
      this.#setPhase("preparing");
      this.view.setStatus("status.preparing");
      Promise.resolve(ready).then(
        (ok) => this.#prepared(token, ok === true),
        () => this.#prepared(token, false),
      );
      return;
    }
    if (!this.#take("start")) {
      this.pendingStart = false;
      this.#setPhase("idle");
      this.view.setStatus("status.too_fast_start");
      return;
    }
    if (this.#send({ type: "start", ...this.#startFields() }) === null) {
      this.pendingStart = true;
      this.#setPhase("connecting");
      this.view.setStatus("status.reconnecting");
      return;
    }
    this.pendingStart = false;
    this.#enterWaiting();
    if (this.requeue) {
      this.requeue = false;
      this.view.setBanner("banner.requeued");
    }
  }

  #prepared(token, ok) {
    if (token !== this.prepareToken || this.phase !== "preparing") return;
    if (ok) {
      this.#sendStart();
    } else {
      this.#setPhase("idle");
      this.view.setStatus("status.mode_unavailable");
    }
  }

  #enterWaiting() {
    this.#setPhase("waiting");
    this.#stopCountdown();
    const withInterests = this.settings.interests.length > 0;
    this.view.setStatus(this.#key(withInterests ? "status.waiting_interests" : "status.waiting"));
  }

  #stop() {
    this.stopArmed = false;
    if (this.phase === "chatting") {
      this.#setTyping(false);
      if (this.#send({ type: "stop" }) !== null) this.awaitingStopped += 1;
      this.#endPair();
      this.view.setStatus("status.you_left", {}, { announce: false });
      this.view.addSystemLine("status.you_left");
    } else if (this.phase === "waiting") {
      if (this.#send({ type: "stop" }) !== null) this.awaitingStopped += 1;
      this.view.setStatus("status.stopped");
    } else {
      this.view.setStatus("status.stopped");
    }
    this.pendingStart = false;
    this.requeue = false;
    this.view.setBanner(null);
    this.#stopCountdown();
    this.#setPhase("idle");
  }

  // ---- protocol: incoming ------------------------------------------------------------------------

  #onWelcome(frame) {
    if (typeof frame.device === "string" && frame.device) storageSet(DEVICE_KEY, frame.device);
    if (Number.isInteger(frame.online)) this.onOnline(frame.online);
    const limits = frame.limits ?? {};
    this.view.setMaxChars(limits.max_message_chars);
    // This socket's buckets start full, as the server's do.
    const rates = limits.rates ?? {};
    this.buckets = {
      message: TokenBucket.from(rates.message),
      typing: TokenBucket.from(rates.typing),
      start: TokenBucket.from(rates.start),
    };
    this.acks = typeof limits.rates === "object" && limits.rates !== null; // 1.6
    this.awaitingStopped = 0;
    this.sent.clear();
    this.mode.onWelcome(this.ctx, frame);
    if (this.pendingStart) this.#sendStart();
  }

  #onFrame(f) {
    switch (f.type) {
      case "waiting":
        return this.#onWaiting(f);
      case "matched":
        return this.#onMatched(f);
      case "message":
        return this.#onMessage(f);
      case "ack":
        return this.#onAck(f);
      case "typing":
        if (this.phase === "chatting" && f.pair === this.pair) {
          this.view.setTyping(f.on === true, f.from); // `from`: who, in question mode
        }
        return undefined;
      case "partner_left":
        return this.#onPartnerLeft(f);
      case "stopped":
        this.awaitingStopped = Math.max(0, this.awaitingStopped - 1);
        return undefined;
      case "notice":
        return this.#onNotice(f);
      case "reported":
        this.#emit("reported", { pair: f.pair, ref: f.ref, ref_id: f.ref_id });
        return undefined;
      case "blocked":
        return this.#onBlocked(f);
      case "banned":
        return this.#onBanned(f);
      case "error":
        return this.#onError(f);
      default:
        this.mode.onFrame(this.ctx, f);
        return undefined;
    }
  }

  #onWaiting(f) {
    if (this.awaitingStopped > 0) return;
    if (this.phase === "idle") return this.#resync();
    if (!["connecting", "waiting", "chatting"].includes(this.phase)) return undefined;
    if (this.phase === "chatting") this.#endPair();
    this.#setPhase("waiting");
    this.#stopCountdown();
    const withInterests = this.settings.interests.length > 0;
    if (f.stage === "interests") {
      this.view.setStatus(this.#key("status.waiting_interests"));
      if (typeof f.fallback_in === "number" && f.fallback_in > 0) this.#startCountdown(f.fallback_in);
    } else if (withInterests && this.settings.fallback) {
      this.view.setStatus(this.#key("status.waiting_anyone"));
    } else {
      this.view.setStatus(this.#key("status.waiting"));
    }
    this.mode.onWaiting?.(this.ctx, f);
    this.#emit("waiting", { frame: f });
  }

  #onMatched(f) {
    if (this.awaitingStopped > 0) return undefined;
    if (this.phase === "idle") return this.#resync();
    if (!["connecting", "waiting", "chatting"].includes(this.phase)) return undefined;
    if (typeof f.pair !== "string") return undefined;
    if (this.phase === "chatting") this.#endPair();
    this.view.setBanner(null); // back in a chat: the requeue is done
    this.pair = f.pair;
    this.reportSeat = typeof f.seat === "string" ? f.seat : null;
    this.#setReportPair(f.pair); // the server dropped the last chat's evidence with this match
    this.stopArmed = false;
    this.#stopCountdown();
    this.#setPhase("chatting");
    this.view.setTyping(false);
    const matched = this.#key("status.matched", f);
    this.view.setStatus(matched, {}, { announce: false });
    this.view.addSystemLine(matched);
    const common = Array.isArray(f.common) ? f.common.filter((c) => typeof c === "string") : [];
    if (common.length) this.view.addCommonLine(common);
    this.view.focusInput();
    // Text typed while waiting is kept; tell the new partner if the user is mid-sentence.
    if (this.view.input.value.trim()) this.inputChanged();
    else this.#checkLength(); // a "too fast" from the last chat is stale now
    this.mode.onMatched(this.ctx, f);
  }

  /**
   * The server put us in a queue or a pair while we believe we are idle (our `stop` was lost,
   * e.g. dropped by a rate limit): leave again, so nobody is left talking to no one.
   */
  #resync() {
    if (this.#send({ type: "stop" }) !== null) this.awaitingStopped += 1;
    return undefined;
  }

  #onAck(f) {
    const line = Number.isInteger(f.ref) ? this.pending.get(f.ref) : undefined;
    if (!line) return;
    this.pending.delete(f.ref);
    this.view.markSent(line);
  }

  #onMessage(f) {
    if (this.phase !== "chatting" || f.pair !== this.pair || typeof f.text !== "string") return;
    this.view.setTyping(false, f.from);
    this.view.addChatLine("stranger", f.text, f.from);
    if (document.hidden) {
      this.unread += 1;
      this.onUnread?.(this.unread);
    }
  }

  #onPartnerLeft(f) {
    if (this.phase !== "chatting" || f.pair !== this.pair) return;
    this.#endPair("partner_left");
    this.stopArmed = false;
    this.#setPhase("idle");
    const left = this.#key("status.partner_left", f);
    this.view.setStatus(left, {}, { announce: false });
    this.view.addSystemLine(left);
  }

  #onNotice(f) {
    const text = typeof f.text === "string" ? f.text : "";
    if (f.code === "safety_prompt") {
      // Sent to a minor when the stranger's messages show warning signs: a kind, prominent
      // prompt with a one-click report (rendered by the safety module).
      if (this.phase === "chatting" && this.pair !== null) {
        this.#emit("safety-prompt", { pair: this.pair, text });
      }
      return;
    }
    if (f.code === "moderator_warning") {
      // A moderator's own words, under a label that says who is speaking.
      this.view.addWarning("notice.moderator_warning", text);
      this.mode.onNotice?.(this.ctx, f);
      return;
    }
    const key = `notice.${f.code}`;
    if (typeof f.code === "string" && has(key)) this.view.addSystemLine(key);
    else if (text) this.view.addSystemText(text);
    this.mode.onNotice?.(this.ctx, f);
  }

  #onBlocked(f) {
    if (typeof f.pair !== "string") return;
    this.blockedPairs.add(f.pair);
    if (this.phase === "chatting" && f.pair === this.pair) {
      // The server ended the chat (the stranger sees "disconnected"): we are idle; New starts again.
      this.#endPair("left");
      this.stopArmed = false;
      this.#setPhase("idle");
      this.view.setStatus("block.done", {}, { announce: false });
    } else if (this.phase === "idle") {
      this.view.setStatus("block.done", {}, { announce: false });
    }
    this.view.addSystemLine("block.done");
    this.#emit("blocked", { pair: f.pair });
    this.#emitReportable();
  }

  #onBanned(f) {
    this.conn.close(); // the server closes 4007 next; never reconnect on our own
    this.#endPair("lost");
    this.#leaveMode();
    this.pendingStart = false;
    this.stopArmed = false;
    this.#stopCountdown();
    this.#setReportPair(null);
    this.requeue = false;
    this.view.setBanner(null);
    this.#setPhase("ended");
    this.#emit("banned", { frame: f });
  }

  #onError(f) {
    const code = typeof f.code === "string" ? f.code : "";
    const sent = Number.isInteger(f.ref) ? this.sent.get(f.ref) : undefined;
    if (FINAL_REFUSALS.has(code)) return this.#refused(code);
    if (code === "unsupported_version") return this.#outdated();
    if (!this.conn.welcomed) {
      // Our hello was rejected (bad age or interests): back to the form, with the reason.
      this.conn.close();
      this.pendingStart = false;
      this.#setPhase("off");
      this.#leaveMode();
      let key = `landing.error.${code}`;
      let field = FIELD_OF_ERROR[code] ?? "age";
      if (code === "attestation_required" && this.settings?.mode !== "video") {
        key = "landing.error.attestation_required_any"; // the whole service needs an age check
        field = "age";
      }
      this.onHelloRejected(has(key) ? { key, field } : { text: f.message || code, field });
      return undefined;
    }
    if (sent?.kind === "stop") {
      // That stop was not carried out: no `stopped` will come for it.
      this.awaitingStopped = Math.max(0, this.awaitingStopped - 1);
      return undefined;
    }
    if (sent?.kind === "frame") {
      // A moderation still (video): its sampling backs off or stops; nothing to tell the user.
      this.mode.onStillRefused?.(this.ctx, code);
      return undefined;
    }
    if (sent?.kind === "report") {
      this.#emit("report-error", { id: f.ref, code, message: f.message });
      return undefined;
    }
    if (sent?.kind === "block") {
      this.view.addSystemLine(BLOCK_FAILED[code] ?? "block.error.other");
      return undefined;
    }
    if (sent?.kind === "message" && sent.line) {
      this.pending.delete(f.ref);
      const reason = NOT_SENT_REASON[code] ?? "reason.error";
      this.view.markNotSent(sent.line, reason, { retry: RETRYABLE.has(reason) });
      return undefined;
    }
    if ((sent?.kind === "start" || sent?.kind === "next") && Object.hasOwn(START_FAILED, code)) {
      if (this.phase === "waiting" || this.phase === "connecting") {
        this.#setPhase("idle");
        this.#stopCountdown();
        this.view.setStatus(START_FAILED[code]);
        // A refused question: the server's words say what was wrong with it.
        if (code === "bad_question" && typeof f.message === "string" && f.message) {
          this.view.addSystemText(f.message);
        }
      }
      return undefined;
    }
    // Races the user need not hear about: a typing/stop frame that crossed a partner_left, etc.
    if (["stale_pair", "not_chatting", "bad_state"].includes(code)) return undefined;
    if (sent?.kind === "typing") return undefined;
    const key = `error.${code}`;
    if (has(key)) this.view.addSystemLine(key);
    else if (typeof f.message === "string" && f.message) this.view.addSystemText(f.message);
    return undefined;
  }

  #onDown({ code, reconnect }) {
    this.awaitingStopped = 0;
    for (const [id, sent] of this.sent) {
      if (sent.kind === "report") this.#emit("report-error", { id, code: "offline", message: "" });
    }
    this.sent.clear();
    // Lines the server never acknowledged may not have arrived: never let them look sent.
    for (const line of this.pending.values()) {
      this.view.markNotSent(line, "reason.offline", { retry: true });
    }
    this.pending.clear();
    this.typingSent = false;
    // Our server session is gone, and with it the evidence of the last chat.
    this.#setReportPair(null);
    if (!reconnect) {
      this.requeue = false;
      this.view.setBanner(null);
      if (code === CLOSE.REFUSED) return this.#refused("age_refused");
      if (code === CLOSE.UNSUPPORTED_VERSION) return this.#outdated();
      if (code === CLOSE.BANNED) return this.#onBanned({ type: "banned" }); // no statement came
      // Disconnected as a sanction (4000/4001): no automatic reconnect; New reconnects.
      const wasChatting = this.phase === "chatting";
      this.#endPair("lost");
      this.pendingStart = false;
      this.#stopCountdown();
      this.#setPhase("idle");
      this.view.setStatus("status.kicked", {}, { announce: !wasChatting });
      if (wasChatting) this.view.addSystemLine("status.kicked");
      return undefined;
    }
    // Someone waiting or chatting is put back in the queue once we are back (the chat itself is
    // over: the server told the stranger we left); someone who stopped stays stopped.
    const full = code === CLOSE.SERVER_FULL;
    if (this.phase === "chatting") {
      this.#endPair("lost");
      this.pendingStart = true;
      this.requeue = true;
      this.#setPhase("connecting");
      this.view.setStatus(full ? "status.full" : "status.reconnecting");
      this.view.addSystemLine("status.connection_lost_requeue");
    } else if (this.phase === "waiting" || this.phase === "connecting") {
      this.pendingStart = true;
      this.requeue ||= this.phase === "waiting";
      this.#stopCountdown();
      this.#setPhase("connecting");
      this.view.setStatus(full ? "status.full" : "status.reconnecting");
    }
    return undefined;
  }

  #refused(code) {
    this.conn.close();
    this.#endPair();
    this.#leaveMode();
    this.pendingStart = false;
    this.#stopCountdown();
    this.#setReportPair(null);
    this.#setPhase("ended");
    this.onRefused(code);
  }

  #outdated() {
    this.conn.close();
    this.#endPair();
    this.#leaveMode();
    this.pendingStart = false;
    this.#stopCountdown();
    this.#setPhase("ended");
    this.view.setStatus("status.outdated");
  }

  // ---- helpers -------------------------------------------------------------------------------------

  /** Extra fields of `start` / `next` from the mode (question mode: the asker's question). */
  #startFields() {
    return this.mode.startFields?.(this.ctx) ?? {};
  }

  /** The status text to show for `key`: the mode may word it its own way (question mode). */
  #key(key, frame = {}) {
    return this.mode.describe?.(key, frame) ?? key;
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  #setReportPair(pair) {
    if (pair === this.reportPair) return;
    this.reportPair = pair;
    this.#emitReportable();
  }

  #emitReportable() {
    const pair = this.reportPair;
    this.#emit("reportable", { pair, blocked: pair !== null && this.blockedPairs.has(pair) });
  }

  /** The pair ended. `why`: "left" (we did: Next/Stop), "partner_left", "lost" (network). */
  #endPair(why = "left") {
    window.clearTimeout(this.typingTimer);
    this.typingSent = false;
    this.view.setTyping(false);
    if (this.pair !== null) {
      this.pair = null;
      this.mode.onPairEnded(this.ctx, why);
    }
  }

  #leaveMode() {
    this.prepareToken += 1; // a pending prepare() no longer matters
    if (this.mounted) {
      this.mounted = false;
      this.mode.unmount(this.ctx);
    }
  }

  #setPhase(phase) {
    const before = this.phase;
    this.phase = phase;
    if (before !== phase) this.#emit("phase", { phase, before });
    const v = this.view;
    if (phase === "idle") {
      this.stopArmed = false;
      v.setStopState("new");
    } else if (!this.stopArmed) {
      v.setStopState("stop");
    }
    v.setStopEnabled(phase !== "ended" && phase !== "off");
    v.setNextEnabled(phase === "chatting" || phase === "idle");
    v.setCanSend(phase === "chatting");
    v.setCanRetry(phase === "chatting");
    v.setWaiting(phase === "waiting");
    if (this.mounted) this.mode.onPhase(this.ctx, phase);
  }

  #startCountdown(seconds) {
    const deadline = performance.now() + seconds * 1000;
    const tick = () => {
      const left = Math.ceil((deadline - performance.now()) / 1000);
      if (left <= 0 || this.phase !== "waiting") {
        this.#stopCountdown();
        return;
      }
      this.view.setCountdown(left);
    };
    tick();
    this.countdownTimer = window.setInterval(tick, 250);
  }

  #stopCountdown() {
    if (this.countdownTimer !== null) {
      window.clearInterval(this.countdownTimer);
      this.countdownTimer = null;
    }
    this.view.setCountdown(null);
  }
}

function sameHello(a, b) {
  if (!a || !b) return false;
  return a.age === b.age && a.mode === b.mode && a.language === b.language &&
    a.fallback === b.fallback && a.any_language === b.any_language &&
    JSON.stringify(a.interests) === JSON.stringify(b.interests);
}
