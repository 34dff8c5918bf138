// The chat view: status line, message list, typing indicator, composer buttons.
//
// This module only renders. It never decides what the protocol does (that is session.js).
// All text, including the partner's, is inserted with textContent / text nodes only.
//
// Our own lines have a delivery state (`data-state`): "pending" until the server acknowledges
// them, then "sent"; or "not-sent", with the reason and, when sending again can help, a retry
// button (data-testid "message-retry") that calls `onRetry(line)`.

import { format, formatList, t } from "./i18n.js";

const STOP_LABELS = { stop: "chat.stop", really: "chat.really", new: "chat.new" };
// Question mode labels its two discussers by seat (the `from` of their frames).
const SEAT_LABELS = { stranger1: "chat.stranger1", stranger2: "chat.stranger2" };
const NEAR_BOTTOM_PX = 48;
const MAX_LINES = 2000; // keep a very long chat from growing the page without bound

export class ChatView {
  constructor(root) {
    this.root = root;
    this.status = root.querySelector("[data-testid=status]");
    this.statusText = root.querySelector(".status-text");
    this.countdown = root.querySelector(".countdown");
    this.messages = root.querySelector("[data-testid=messages]");
    this.typing = root.querySelector("[data-testid=typing]");
    this.typingLabel = this.typing.querySelector("[data-i18n]");
    this.typingSeats = new Set(); // question mode: which discussers are typing
    this.input = root.querySelector("[data-testid=input]");
    this.sendButton = root.querySelector("[data-testid=send]");
    this.nextButton = root.querySelector("[data-testid=next]");
    this.stopButton = root.querySelector("[data-testid=stop]");
    this.stopLabel = this.stopButton.querySelector(".label");
    this.saveButton = root.querySelector("[data-testid=save-log]");
    this.waitingCard = root.querySelector("[data-testid=waiting]");
    this.waitingTitle = this.waitingCard.querySelector(".waiting-title");
    this.waitingLeave = this.waitingCard.querySelector(".waiting-leave");
    this.statusState = null; // {key, params} so it can be re-rendered on language change
    this.countdownSeconds = null;
    this.stopState = "stop";
    this.restoreLive = null;
    this.warnings = 0; // ids for the moderator warnings' labels
    this.onRetry = () => {};
    this.canRetry = false;
    this.maxChars = null; // the server's message limit (welcome.limits), for the composer
    // The composer takes any length: a pasted text cut short without a word would be a silent
    // loss. Over the limit, the page says so and does not send (composerNote).
    this.input.removeAttribute("maxlength");
    this.composerNote = this.#paragraph("composer-note", "composer-note");
    this.composerNote.setAttribute("aria-live", "polite");
    this.composerNote.id = "composer-note";
    this.composerNoteState = null; // {key, params}
    this.root.querySelector(".composer").before(this.composerNote);
    this.banner = this.#paragraph("banner", "requeue-banner");
    this.banner.setAttribute("role", "status");
    this.bannerKey = null;
    this.waitingCard.before(this.banner);
    this.messages.addEventListener("click", (event) => {
      const button = event.target.closest?.("[data-testid=message-retry]");
      if (button && !button.disabled) this.onRetry(button.closest("[data-testid=line]"));
    });
  }

  #paragraph(className, testid) {
    const p = document.createElement("p");
    p.className = className;
    p.dataset.testid = testid;
    p.hidden = true;
    return p;
  }

  // ---- banner and composer note ----------------------------------------------------------------

  /** A banner above the chat (e.g. "back in the queue" after a reconnect); null hides it. */
  setBanner(key) {
    this.bannerKey = key;
    this.banner.hidden = key === null;
    this.banner.textContent = key === null ? "" : t(key);
  }

  /** Why the composer's text was not sent (too long, too fast); null clears it. */
  setComposerNote(key, params = {}) {
    this.composerNoteState = key === null ? null : { key, params };
    this.composerNote.hidden = key === null;
    this.composerNote.textContent = key === null ? "" : t(key, params);
    if (key === null) {
      this.input.removeAttribute("aria-invalid");
      this.input.removeAttribute("aria-describedby");
    } else {
      this.input.setAttribute("aria-invalid", "true");
      this.input.setAttribute("aria-describedby", this.composerNote.id); // read with the box
    }
  }

  get composerNoteKey() {
    return this.composerNoteState?.key ?? null;
  }

  // ---- status line ---------------------------------------------------------------------------

  /**
   * Show a status. `announce: false` keeps screen readers quiet because the same words also go
   * into the message log (which is itself a live region), so they are not read twice.
   */
  setStatus(key, params = {}, { announce = true } = {}) {
    this.statusState = { key, params };
    if (!announce) {
      this.status.setAttribute("aria-live", "off");
      window.clearTimeout(this.restoreLive);
      this.restoreLive = window.setTimeout(() => this.#restoreStatusLive(), 100);
    }
    this.statusText.replaceChildren(format(key, materialize(params)));
    if (!this.waitingCard.hidden) this.#renderWaiting();
  }

  // While the waiting card shows it is the live region for the status: one voice, not two.
  #restoreStatusLive() {
    this.status.setAttribute("aria-live", this.waitingCard.hidden ? "polite" : "off");
  }

  // ---- waiting ---------------------------------------------------------------------------------

  /** Show (or hide) the waiting state: the current status and how to leave. */
  setWaiting(on) {
    if (on === !this.waitingCard.hidden) return;
    this.waitingCard.hidden = !on;
    window.clearTimeout(this.restoreLive);
    this.#restoreStatusLive();
    if (on) this.#renderWaiting();
    else {
      this.waitingTitle.replaceChildren();
      this.waitingLeave.replaceChildren();
    }
  }

  #renderWaiting() {
    const { key, params } = this.statusState ?? { key: "status.waiting", params: {} };
    this.waitingTitle.replaceChildren(format(key, materialize(params)));
    // Esc is named where there is a keyboard to press it on.
    const keys = window.matchMedia("(pointer: fine)").matches;
    this.waitingLeave.textContent = t(keys ? "waiting.leave_keys" : "waiting.leave");
  }

  setCountdown(seconds) {
    this.countdownSeconds = seconds;
    if (seconds === null) {
      this.countdown.hidden = true;
      this.countdown.textContent = "";
    } else {
      this.countdown.hidden = false;
      this.countdown.textContent = t("status.fallback_in", { s: seconds });
    }
  }

  // ---- message list ----------------------------------------------------------------------------

  #isNearBottom() {
    const m = this.messages;
    return m.scrollHeight - m.scrollTop - m.clientHeight < NEAR_BOTTOM_PX;
  }

  #append(line, { forceScroll = false } = {}) {
    const stick = forceScroll || this.#isNearBottom();
    this.messages.append(line);
    while (this.messages.childElementCount > MAX_LINES) this.messages.firstElementChild.remove();
    if (stick) this.messages.scrollTop = this.messages.scrollHeight;
  }

  /**
   * A line said by "you" or "stranger"; `text` is untrusted and only ever used as text. In
   * question mode `seat` ("stranger1" / "stranger2") says which stranger.
   */
  addChatLine(from, text, seat = null) {
    const line = document.createElement("div");
    line.className = `line line-${from}`;
    line.dataset.testid = "line";
    line.dataset.from = from;
    const seatKey = from === "you" ? undefined : SEAT_LABELS[seat];
    if (seatKey) {
      line.dataset.seat = seat;
      line.classList.add(`line-${seat}`);
    }
    const who = document.createElement("strong");
    who.className = "who";
    who.textContent = t(seatKey ?? (from === "you" ? "chat.you" : "chat.stranger")) + ":";
    const body = document.createElement("span");
    body.className = "text";
    if (from === "you") {
      body.textContent = text;
      line.dataset.state = "sent";
      line._text = text; // what a retry sends again
    } else {
      body.append(withMasks(text));
    }
    line.append(who, " ", body);
    this.#append(line, { forceScroll: from === "you" });
    return line;
  }

  /** A system line from a translation key; params are text (or nodes built by the caller). */
  addSystemLine(key, params = {}) {
    const line = document.createElement("div");
    line.className = "line line-system";
    line.dataset.testid = "line";
    line.dataset.from = "system";
    line.dataset.key = key;
    line._params = params;
    line.append(format(key, materialize(params)));
    this.#append(line);
    return line;
  }

  /** A system line with literal (server-provided) text. */
  addSystemText(text) {
    const line = document.createElement("div");
    line.className = "line line-system";
    line.dataset.testid = "line";
    line.dataset.from = "system";
    line.textContent = text;
    this.#append(line);
    return line;
  }

  /** A block built by another module (e.g. the safety prompt): its text was set as text. */
  addBlock(el, { forceScroll = false } = {}) {
    this.#append(el, { forceScroll });
    return el;
  }

  /**
   * A moderator's warning: a card labelled by who speaks (`labelKey`), their words as text.
   * It sits in the message log, so screen readers hear it as it arrives.
   */
  addWarning(labelKey, text) {
    this.warnings += 1;
    const card = document.createElement("div");
    card.className = "warning-card";
    card.dataset.testid = "moderator-warning";
    card.setAttribute("role", "note");
    const label = document.createElement("p");
    label.className = "warning-label";
    label.id = `moderator-warning-${this.warnings}`;
    label.dataset.key = labelKey;
    label.textContent = t(labelKey);
    card.setAttribute("aria-labelledby", label.id);
    const body = document.createElement("p");
    body.className = "warning-text";
    body.textContent = text;
    card.append(label, body);
    this.#append(card, { forceScroll: true });
    return card;
  }

  addCommonLine(common) {
    return this.addSystemLine("chat.common", { list: common });
  }

  /** Our line went out and waits for the server's `ack`. */
  markPending(line) {
    if (!line) return;
    for (const extra of line.querySelectorAll(".note, .retry")) extra.remove();
    line.classList.remove("not-sent");
    line.dataset.state = "pending";
  }

  /** The server acknowledged our line. */
  markSent(line) {
    if (line && line.dataset.state === "pending") line.dataset.state = "sent";
  }

  /** Our line was not delivered: say why, and offer to send it again when that can help. */
  markNotSent(line, reasonKey, { retry = false } = {}) {
    if (!line || line.classList.contains("not-sent")) return;
    line.classList.add("not-sent");
    line.dataset.state = "not-sent";
    const note = document.createElement("span");
    note.className = "note";
    note.dataset.reason = reasonKey;
    note.textContent = " " + t("chat.not_sent", { reason: t(reasonKey) });
    line.append(note);
    if (retry) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "secondary compact retry";
      button.dataset.testid = "message-retry";
      button.textContent = t("chat.retry");
      button.title = t("chat.retry_title");
      button.disabled = !this.canRetry;
      line.append(" ", button);
    }
  }

  /** Retry buttons work only while there is a chat to send into. */
  setCanRetry(enabled) {
    this.canRetry = enabled;
    for (const button of this.messages.querySelectorAll("[data-testid=message-retry]")) {
      button.disabled = !enabled;
    }
  }

  /** Move a line to the end of the log (a line sent again belongs to the chat of now). */
  moveToEnd(line) {
    this.#append(line, { forceScroll: true });
  }

  clearLines() {
    this.messages.replaceChildren();
  }

  /** The transcript as plain text, one line per message. */
  transcript() {
    const out = [];
    for (const line of this.messages.querySelectorAll("[data-testid=line], .warning-card")) {
      const parts = line.classList.contains("warning-card")
        ? [...line.children].map((p) => p.textContent).join(": ")
        : [...line.childNodes].filter((n) => n.nodeName !== "BUTTON").map((n) => n.textContent)
          .join("");
      out.push(parts.replace(/\s+$/u, ""));
    }
    return out;
  }

  // ---- typing, buttons, input --------------------------------------------------------------------

  /** The stranger is (not) typing; in question mode `seat` says which one (no seat: all). */
  setTyping(on, seat = null) {
    const known = Object.hasOwn(SEAT_LABELS, seat);
    if (on && known) this.typingSeats.add(seat);
    else if (known) this.typingSeats.delete(seat);
    else if (!on) this.typingSeats.clear();
    this.typing.hidden = known ? this.typingSeats.size === 0 : !on;
    this.#renderTyping();
  }

  #renderTyping() {
    const seats = this.typingSeats;
    let key = "chat.typing";
    if (seats.size === 2) key = "chat.typing_both";
    else if (seats.size === 1) key = `chat.typing_${[...seats][0]}`;
    this.typingLabel.textContent = t(key);
  }

  setStopState(state) {
    this.stopState = state;
    this.stopLabel.textContent = t(STOP_LABELS[state]);
    this.stopButton.dataset.state = state;
  }

  setStopEnabled(enabled) {
    this.stopButton.disabled = !enabled;
  }

  setCanSend(enabled) {
    this.sendButton.disabled = !enabled;
  }

  setNextEnabled(enabled) {
    this.nextButton.disabled = !enabled;
  }

  /** The server's message limit, in characters (code points, as the server counts them). */
  setMaxChars(n) {
    this.maxChars = Number.isInteger(n) && n > 0 ? n : null;
  }

  autoGrow() {
    const el = this.input;
    el.style.height = "auto";
    el.style.height = `${Math.min(el.scrollHeight, 160)}px`;
  }

  focusInput() {
    // Do not steal focus from another control the user is on (e.g. the language switch).
    const active = document.activeElement;
    if (!active || active === document.body || this.root.contains(active)) {
      this.input.focus({ preventScroll: true });
    }
  }

  /** Re-render everything that was built from translation keys. */
  retranslate() {
    if (this.statusState) {
      const { key, params } = this.statusState;
      this.statusText.replaceChildren(format(key, materialize(params)));
    }
    if (this.countdownSeconds !== null) this.setCountdown(this.countdownSeconds);
    if (!this.waitingCard.hidden) this.#renderWaiting();
    for (const label of this.messages.querySelectorAll(".warning-label[data-key]")) {
      label.textContent = t(label.dataset.key);
    }
    this.setStopState(this.stopState);
    for (const who of this.messages.querySelectorAll(".line-you > .who")) {
      who.textContent = t("chat.you") + ":";
    }
    for (const who of this.messages.querySelectorAll(".line-stranger > .who")) {
      const seatKey = SEAT_LABELS[who.parentElement.dataset.seat];
      who.textContent = t(seatKey ?? "chat.stranger") + ":";
    }
    this.#renderTyping();
    for (const line of this.messages.querySelectorAll(".line-system[data-key]")) {
      line.replaceChildren(format(line.dataset.key, materialize(line._params || {})));
    }
    for (const note of this.messages.querySelectorAll(".note[data-reason]")) {
      note.textContent = " " + t("chat.not_sent", { reason: t(note.dataset.reason) });
    }
    for (const button of this.messages.querySelectorAll("[data-testid=message-retry]")) {
      button.textContent = t("chat.retry");
      button.title = t("chat.retry_title");
    }
    if (this.bannerKey !== null) this.setBanner(this.bannerKey);
    if (this.composerNoteState) {
      this.setComposerNote(this.composerNoteState.key, this.composerNoteState.params);
    }
    for (const mask of this.messages.querySelectorAll(".masked")) labelMask(mask);
  }
}

// What the server puts where it hid contact details (parley.safety.text.PLACEHOLDER). Shown in
// the reader's language, as text nodes and spans only (the line itself is the stranger's text).
const MASK = "[hidden]";

function labelMask(span) {
  span.textContent = t("chat.hidden");
  span.title = t("chat.hidden_title");
}

function withMasks(text) {
  const fragment = document.createDocumentFragment();
  text.split(MASK).forEach((part, i) => {
    if (i > 0) {
      const span = document.createElement("span");
      span.className = "masked";
      labelMask(span);
      fragment.append(span);
    }
    if (part) fragment.append(part);
  });
  return fragment;
}

/**
 * Turn stored params into format() params: an array (e.g. common interests, which are user
 * input) becomes a <strong> holding the localised list as text.
 */
function materialize(params) {
  const out = {};
  for (const [name, value] of Object.entries(params)) {
    if (Array.isArray(value)) {
      const strong = document.createElement("strong");
      strong.textContent = formatList(value.map(String));
      out[name] = strong;
    } else {
      out[name] = value;
    }
  }
  return out;
}

/** Download `lines` as a .txt file. */
export function downloadText(filename, lines) {
  const blob = new Blob([lines.join("\r\n") + "\r\n"], { type: "text/plain;charset=utf-8" });
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
