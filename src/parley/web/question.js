// Question mode, Omegle's "spy mode": an asker writes a question and watches two strangers (the
// discussers) talk about it, read-only. Two chat modes share this module, one per side
// (`hello.mode`, see docs/protocol.md):
//   question  the asker: no composer at all (a "you're watching" note instead); the question stays
//             at the top; Next asks it again of a new pair; when idle, it can be edited.
//   discuss   a discusser: an ordinary text chat under the question, lines labelled "Stranger 1" /
//             "Stranger 2" (own lines "You").
// Both sides see how long they have waited and, when the server knows, how long a wait usually is:
// askers waited 1-2 minutes on Omegle. The landing form's question field (live counter, the 10-200
// character rule the server checks again) is here too.
//
// Besides the hooks every mode has (modes.js), these modes use the optional ones:
//   startFields(ctx)      extra fields of `start` / `next` (the asker's question)
//   describe(key, frame)  the translation key to show instead of a generic status key
//   onWaiting(ctx, frame) every `waiting` frame (its `since` and `expected_wait`)
//   onNotice(ctx, frame)  `asker_left`: the discussers carry on, unwatched

import { onLanguageChange, t } from "./i18n.js";

export const QUESTION_MIN = 10;
export const QUESTION_MAX = 200;
export const SEATS = Object.freeze(["stranger1", "stranger2"]);

const CLOCK_TICK_MS = 1000;
// A `since` further off than this is someone's clock being wrong: count from now instead.
const MAX_PLAUSIBLE_WAIT_S = 24 * 60 * 60;

/** Characters as the server counts them (code points), after trimming. */
export function questionLength(text) {
  return [...String(text).trim()].length;
}

/** null when the question may be asked, else a landing-form error ({key, params}). */
export function checkQuestion(text) {
  const n = questionLength(text);
  if (n === 0) return { key: "landing.error.question_missing" };
  if (n < QUESTION_MIN) {
    return { key: "landing.error.question_short", params: { min: QUESTION_MIN } };
  }
  if (n > QUESTION_MAX) {
    return { key: "landing.error.question_long", params: { max: QUESTION_MAX } };
  }
  return null;
}

/** Is `mode` one of the two question-mode sides? */
export function isQuestionMode(mode) {
  return mode === "question" || mode === "discuss";
}

/** "m:ss" (or "h:mm:ss") for a number of seconds. */
export function formatWait(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const pad = (n) => String(n).padStart(2, "0");
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

/** The landing form's question field: shown for askers only, with a live character counter. */
export class QuestionField {
  constructor(form) {
    this.box = form.querySelector("[data-testid=question]");
    this.field = this.box.closest(".field");
    this.counter = form.querySelector("#question-count");
    // Interests play no part in question mode (the server ignores them): don't ask for them.
    this.pairOnly = [
      form.querySelector("[data-testid=interests]").closest(".field"),
      form.querySelector("[data-testid=fallback]").closest(".check"),
      form.querySelector("#interests-hint"),
    ];
    this.box.addEventListener("input", () => {
      this.box.removeAttribute("aria-invalid");
      this.#count();
    });
    // One line is enough for a question: Enter starts, as in the other fields.
    this.box.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    onLanguageChange(() => this.#count());
    this.#count();
  }

  /** Show what the chosen mode needs. */
  sync(modeId) {
    this.field.hidden = modeId !== "question";
    for (const el of this.pairOnly) el.hidden = isQuestionMode(modeId);
  }

  #count() {
    const n = questionLength(this.box.value);
    const short = n < QUESTION_MIN;
    const params = { n, min: QUESTION_MIN, max: QUESTION_MAX };
    const key = short ? "landing.question_count_short" : "landing.question_count";
    this.counter.textContent = t(key, params);
    let state = "ok";
    if (n === 0) state = "empty";
    else if (short) state = "short";
    else if (n > QUESTION_MAX) state = "long";
    this.counter.dataset.state = state;
  }
}

/** One side of question mode: the asker ("question") or a discusser ("discuss"). */
class QuestionMode {
  constructor(id) {
    this.id = id;
    this.asker = id === "question";
    this.startKey = `landing.start_${id}`;
    this.hintKey = `landing.mode_hint_${id}`;
    this.ctx = null;
    this.el = null;
    this.question = null; // the question on show
    this.clock = null; // {origin (performance.now() of the wait's start), expected, timer}
    onLanguageChange(() => this.#retranslate());
  }

  // ---- mode hooks -------------------------------------------------------------------------------

  mount(ctx) {
    this.ctx = ctx;
    this.el = elements();
    document.body.dataset.mode = this.id;
    document.body.dataset.seat = this.asker ? "asker" : "discusser";
    // The asker only watches: there is nothing to type into (hidden *and* disabled).
    const { input, send, watching, edit } = this.el;
    input.hidden = this.asker;
    input.disabled = this.asker;
    send.hidden = this.asker;
    watching.hidden = !this.asker;
    edit.hidden = true;
    this.#showQuestion(null);
  }

  prepare() {
    return true;
  }

  startFields(ctx) {
    if (!this.asker) return {};
    const question = String(ctx.settings()?.question ?? "").trim();
    this.#showQuestion(question);
    return { question };
  }

  describe(key, frame = {}) {
    switch (key) {
      case "status.waiting":
      case "status.waiting_interests":
      case "status.waiting_anyone":
        return this.asker ? "question.waiting_asker" : "question.waiting_discuss";
      case "status.matched":
        return this.asker ? "question.matched_asker" : "question.matched_discuss";
      case "status.partner_left":
        return SEATS.includes(frame.who) ? `question.left_${frame.who}` : null;
      default:
        return null;
    }
  }

  onWelcome() {}

  onPhase(ctx, phase) {
    if (!this.el) return;
    if (phase === "waiting") {
      if (this.clock === null) this.#startClock(null, null);
    } else {
      this.#stopClock();
    }
    if (!this.asker && (phase === "waiting" || phase === "connecting")) this.#showQuestion(null);
    // Offer to change the question between rooms.
    this.el.edit.hidden = !(this.asker && phase === "idle");
  }

  onWaiting(ctx, frame) {
    const since = Number(frame.since);
    const expected = Number(frame.expected_wait);
    this.#startClock(
      Number.isFinite(since) ? since : null,
      frame.expected_wait !== null && Number.isFinite(expected) && expected > 0 ? expected : null,
    );
  }

  onMatched(ctx, frame) {
    const question = typeof frame.question === "string" ? frame.question : this.question;
    this.#showQuestion(question);
    if (question) ctx.view.addSystemLine("question.line", { question });
    if (!this.asker && SEATS.includes(frame.seat)) {
      ctx.view.addSystemLine(`question.you_are_${frame.seat}`);
    }
  }

  onNotice(ctx, frame) {
    if (frame.code === "asker_left" && ctx.phase() === "chatting" && frame.pair === ctx.pair()) {
      // The log says so already: the status line only stops claiming someone watches.
      ctx.view.setStatus("question.unwatched", {}, { announce: false });
    }
  }

  onFrame() {
    return false;
  }

  onPairEnded() {}

  unmount() {
    this.#stopClock();
    this.#showQuestion(null);
    if (this.el) {
      const { input, send, watching, edit } = this.el;
      input.hidden = false;
      input.disabled = false;
      send.hidden = false;
      watching.hidden = true;
      edit.hidden = true;
    }
    document.body.dataset.mode = "text";
    delete document.body.dataset.seat;
    this.ctx = null;
  }

  // ---- the question at the top ----------------------------------------------------------------

  #showQuestion(text) {
    this.question = text || null;
    if (!this.el) return;
    const { banner, bannerLabel, bannerText } = this.el;
    banner.hidden = this.question === null;
    bannerLabel.textContent = t(this.asker ? "question.label_asker" : "question.label_discuss");
    bannerText.textContent = this.question ?? "";
  }

  // ---- the waiting clock -----------------------------------------------------------------------

  /** Count from `since` (unix seconds; null: from now); `expected` seconds, or null. */
  #startClock(since, expected) {
    let waited = 0;
    if (since !== null) {
      const ago = Date.now() / 1000 - since;
      if (ago >= 0 && ago < MAX_PLAUSIBLE_WAIT_S) waited = ago;
      else if (this.clock) waited = (performance.now() - this.clock.origin) / 1000;
    } else if (this.clock) {
      waited = (performance.now() - this.clock.origin) / 1000;
    }
    if (this.clock) window.clearInterval(this.clock.timer);
    this.clock = {
      origin: performance.now() - waited * 1000,
      expected,
      timer: window.setInterval(() => this.#renderClock(), CLOCK_TICK_MS),
    };
    this.#renderClock();
  }

  #stopClock() {
    if (this.clock) window.clearInterval(this.clock.timer);
    this.clock = null;
    if (!this.el) return;
    this.el.clock.hidden = true;
    this.el.clockElapsed.textContent = "";
    this.el.clockExpected.textContent = "";
  }

  #renderClock() {
    if (!this.clock || !this.el) return;
    const { clock, clockElapsed, clockExpected } = this.el;
    const waited = (performance.now() - this.clock.origin) / 1000;
    clock.hidden = false;
    clockElapsed.textContent = t("question.waited", { time: formatWait(waited) });
    const expected = this.clock.expected;
    let text = "";
    if (expected !== null) {
      text = expected < 60
        ? t("question.expected_seconds", { n: Math.max(1, Math.round(expected)) })
        : t("question.expected_minutes", { n: Math.max(1, Math.round(expected / 60)) });
    }
    // Only rewritten when it changes: it sits in the status live region and is read out.
    if (clockExpected.textContent !== text) clockExpected.textContent = text;
    clockExpected.hidden = text === "";
  }

  #retranslate() {
    if (!this.ctx) return;
    this.#showQuestion(this.question);
    this.#renderClock();
  }
}

function elements() {
  const $ = (sel) => document.querySelector(sel);
  const banner = $("[data-testid=question-shown]");
  const clock = $("[data-testid=wait-time]");
  return {
    banner,
    bannerLabel: banner.querySelector(".question-label"),
    bannerText: banner.querySelector(".question-text"),
    clock,
    clockElapsed: clock.querySelector(".wait-elapsed"),
    clockExpected: clock.querySelector(".wait-expected"),
    input: $("[data-testid=input]"),
    send: $("[data-testid=send]"),
    watching: $("[data-testid=watching]"),
    edit: $("[data-testid=question-edit]"),
  };
}

export const questionMode = new QuestionMode("question");
export const discussMode = new QuestionMode("discuss");
