// The waiting screen's extras: how long you have waited, how many wait in your pool, when other
// languages join in, suggestions after a while, and an optional alert when someone is found.
//
// It listens to the session's events ("phase", "waiting") and acts only through the callbacks
// app.js gives it; the card itself (title, how to leave) is chat.js's.

import { formatNumber, language, onLanguageChange, t } from "./i18n.js";
import { storageGet, storageSet } from "./storage.js";

const COUNT_POLL_MS = 5_000;
const DEFAULT_HINTS_S = 20;
const ALERT_KEY = "parley.alert";


/** "m:ss" for a number of seconds. */
export function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/**
 * How many wait in the pool this person waits in, from /api/status `waiting` (adult pools only:
 * a minor's pool is never public, so null then, and when the band is not known).
 */
export function poolCount(waiting, { adult, mode, lang, anyLanguage }) {
  if (!adult || !waiting || typeof waiting !== "object") return null;
  let n = 0;
  for (const [pool, count] of Object.entries(waiting)) {
    const [band, poolMode, poolLang] = pool.split(":");
    if (band !== "adult" || poolMode !== mode || !Number.isInteger(count)) continue;
    if (anyLanguage || poolLang === lang) n += count;
  }
  return n;
}

export class WaitingScreen {
  /**
   * @param {object} o
   * @param {HTMLElement} o.root  the waiting card
   * @param {EventTarget} o.session  emits "phase" ({phase, before}) and "waiting" ({frame})
   * @param {() => object|null} o.settings  the session's settings (age, interests, mode…)
   * @param {() => object|null} o.limits  welcome.limits (language_wait, wait_hints), or null
   * @param {() => number|null} o.adultAge  from /api/status, or null while unknown
   * @param {{dropInterests: () => void, anyLanguage: () => void, tryText: () => void}} o.act
   */
  constructor({ root, session, settings, limits, adultAge, act }) {
    this.root = root;
    this.settings = settings;
    this.limits = limits;
    this.adultAge = adultAge;
    this.elapsed = root.querySelector("[data-testid=waiting-elapsed]");
    this.count = root.querySelector("[data-testid=waiting-count]");
    this.lang = root.querySelector("[data-testid=waiting-language]");
    this.hints = root.querySelector("[data-testid=waiting-hints]");
    this.hintButtons = {
      interests: root.querySelector("[data-testid=hint-drop-interests]"),
      language: root.querySelector("[data-testid=hint-any-language]"),
      text: root.querySelector("[data-testid=hint-try-text]"),
    };
    this.alert = root.querySelector("[data-testid=match-alert]");
    this.alert.checked = storageGet(ALERT_KEY) === "on";

    this.since = null; // performance.now() when this wait began
    this.languageAt = null; // performance.now() when other languages join in, if they will
    this.widened = false;
    this.pool = null; // people waiting in the pool, or null (not public / unknown)
    this.tick = null;
    this.poll = null;

    this.hintButtons.interests.addEventListener("click", () => act.dropInterests());
    this.hintButtons.language.addEventListener("click", () => act.anyLanguage());
    this.hintButtons.text.addEventListener("click", () => act.tryText());
    this.alert.addEventListener("change", () => this.#alertChanged());
    session.addEventListener("phase", (e) => this.#onPhase(e.detail.phase, e.detail.before));
    session.addEventListener("waiting", (e) => this.#onWaiting(e.detail.frame));
    onLanguageChange(() => this.#render());
  }

  // ---- session events ------------------------------------------------------------------------

  #onPhase(phase, before) {
    if (phase === "waiting") {
      if (this.since === null) this.#begin();
      return;
    }
    if (phase === "chatting" && before === "waiting") this.#announceMatch();
    // Connecting in between (a reconnect, a changed hello) is part of the same wait.
    if (phase !== "connecting") this.#end();
  }

  #onWaiting(f) {
    if (this.since === null) this.#begin();
    const now = performance.now();
    if (f.stage === "any_language") {
      this.widened = true;
      this.languageAt = null;
    } else if (typeof f.language_in === "number" && f.language_in >= 0) {
      this.widened = false;
      this.languageAt = now + f.language_in * 1000;
    } else if (f.stage !== "interests" || !this.#wantsAny()) {
      this.languageAt = null;
    }
    this.#render();
    this.#pollCount();
  }

  #begin() {
    this.since = performance.now();
    this.languageAt = null;
    this.widened = false;
    this.pool = null;
    this.hints.hidden = true;
    this.tick = window.setInterval(() => this.#render(), 1000);
    this.poll = window.setInterval(() => this.#pollCount(), COUNT_POLL_MS);
    this.#render();
  }

  #end() {
    if (this.since === null) return;
    this.since = null;
    window.clearInterval(this.tick);
    window.clearInterval(this.poll);
    this.tick = this.poll = null;
    this.hints.hidden = true;
    this.count.hidden = true;
    this.lang.hidden = true;
    this.elapsed.textContent = "";
  }

  // ---- what it shows ---------------------------------------------------------------------------

  #wantsAny() {
    const s = this.settings();
    // "Only shared interests" never widens, to other languages neither (the server sends no
    // language_in): the screen must not promise other languages later.
    const interestsOnly = s?.fallback === false && s.interests?.length > 0;
    return s?.any_language === true && !interestsOnly;
  }

  #hintsAfter() {
    const s = Number(this.limits()?.wait_hints);
    return Number.isFinite(s) && s >= 0 ? s : DEFAULT_HINTS_S;
  }

  #render() {
    if (this.since === null) return;
    const now = performance.now();
    const waited = (now - this.since) / 1000;
    this.elapsed.textContent = t("waiting.elapsed", { time: clock(waited) });

    if (this.pool === null) {
      this.count.hidden = true;
    } else {
      const others = Math.max(0, this.pool - 1); // the count includes you
      this.count.hidden = false;
      this.count.textContent = others === 0
        ? t("waiting.count_none")
        : t(others === 1 ? "waiting.count_one" : "waiting.count", { n: formatNumber(others) });
    }

    const settings = this.settings();
    const pairMode = settings && (settings.mode === "text" || settings.mode === "video");
    this.lang.hidden = !pairMode;
    if (pairMode) {
      const name = t(`lang.name.${language()}`);
      if (!this.#wantsAny()) {
        this.lang.textContent = t("waiting.language_only", { language: name });
      } else if (this.widened) {
        this.lang.textContent = t("waiting.language_any");
      } else if (this.languageAt !== null) {
        const s = Math.max(0, Math.ceil((this.languageAt - now) / 1000));
        this.lang.textContent = t("waiting.language_in", { language: name, s });
      } else {
        this.lang.textContent = t("waiting.language_first", { language: name });
      }
    }

    if (this.hints.hidden && waited >= this.#hintsAfter()) this.#showHints();
  }

  #showHints() {
    const s = this.settings();
    if (!s) return;
    const pairMode = s.mode === "text" || s.mode === "video";
    this.hintButtons.interests.hidden = !(s.interests?.length > 0);
    this.hintButtons.language.hidden = !pairMode || s.any_language === true;
    this.hintButtons.text.hidden = s.mode === "text";
    this.hints.hidden = false;
  }

  async #pollCount() {
    const s = this.settings();
    const adultAge = this.adultAge();
    if (this.since === null || !s || document.hidden) return;
    try {
      const response = await fetch("/api/status", { cache: "no-store" });
      if (!response.ok) return;
      const body = await response.json();
      if (this.since === null) return;
      this.pool = poolCount(body?.waiting, {
        adult: adultAge !== null && Number.isInteger(s.age) && s.age >= adultAge,
        mode: s.mode,
        lang: language(),
        anyLanguage: s.any_language === true && this.widened,
      });
      this.#render();
    } catch {
      /* offline: keep the last figure */
    }
  }

  // ---- alert on a match ------------------------------------------------------------------------

  #alertChanged() {
    const on = this.alert.checked;
    storageSet(ALERT_KEY, on ? "on" : null);
    // Permission is asked only here, when the person turns the alert on.
    if (on && "Notification" in window && Notification.permission === "default") {
      Notification.requestPermission().catch(() => {});
    }
  }

  #announceMatch() {
    if (!this.alert.checked) return;
    beep();
    if (document.hidden && "Notification" in window && Notification.permission === "granted") {
      try {
        const body = t("waiting.alert_body");
        new Notification(t("waiting.alert_title"), { body, tag: "parley" });
      } catch {
        /* some browsers allow notifications only from a service worker */
      }
    }
  }
}

/** A short two-note chime (no sound file to fetch). */
function beep() {
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (!Ctx) return;
  try {
    const ctx = new Ctx();
    const gain = ctx.createGain();
    gain.gain.value = 0.08;
    gain.connect(ctx.destination);
    [660, 880].forEach((hz, i) => {
      const osc = ctx.createOscillator();
      osc.frequency.value = hz;
      osc.connect(gain);
      osc.start(ctx.currentTime + i * 0.15);
      osc.stop(ctx.currentTime + i * 0.15 + 0.12);
    });
    window.setTimeout(() => ctx.close(), 600);
  } catch {
    /* audio unavailable */
  }
}
