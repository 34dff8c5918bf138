// The safety UI: Report and Block (with their dialogs), the in-chat safety prompt for minors, and
// the statement of reasons when a ban covers this browser or network.
//
// The session (session.js) speaks the protocol and emits what happened; this module only renders
// and asks. Everything from the server (ban reasons, notice text, references) is put in the page
// as text (textContent / text nodes), never as markup. Dialogs are native <dialog> elements
// opened with showModal(): the rest of the page is inert while one is open (focus stays inside),
// and Esc closes them.

import { format, has, language, onLanguageChange, t } from "./i18n.js";

const EMERGENCY_NOTE = {
  minor_in_danger: "report.emergency_minor",
  self_harm: "report.emergency_self_harm",
};

// Why a report was not taken, by error code (translation keys).
const REPORT_FAILED = {
  stale_pair: "report.error.ended",
  not_chatting: "report.error.ended",
  rate_limited: "report.error.too_fast",
  server_busy: "report.error.busy",
  offline: "report.error.offline",
};

// The server's own statements of reasons for its automatic bans (safety/sanctions.py). When the
// reason is exactly one of these, the page shows its translation; any other reason (a
// moderator's words) is shown as written.
const KNOWN_REASONS = {
  "Several people reported you in a short time. You cannot chat until the ban ends; a moderator will review the reports.":
    "ban.reason.mass_report",
  "Your connection repeatedly sent too much, too fast, or broken data. You cannot chat until the ban ends.":
    "ban.reason.flood",
};

const MAX_TIMEOUT_MS = 2 ** 31 - 1;

// Question mode: whom a report or block can be about, by our seat. An asker must choose which
// stranger; a discusser means the other discusser unless they pick the question (its asker).
const ABOUT_CHOICES = {
  asker: ["stranger1", "stranger2"],
  stranger1: ["stranger2", "asker"],
  stranger2: ["stranger1", "asker"],
};
const ABOUT_DEFAULT = { stranger1: "stranger2", stranger2: "stranger1" };

const STILL_MAX_SIDE = 320;

/** This browser's device token (the session keeps it in localStorage), or "". */
function deviceToken() {
  try {
    return window.localStorage.getItem("parley.device") || "";
  } catch {
    return "";
  }
}

/**
 * Draw the stranger's video, as it shows now, to a canvas (long side at most 320 px) and return
 * a promise of a JPEG blob, or null when there is no picture to take.
 */
function captureStill() {
  const video = document.querySelector("[data-testid=remote-video]");
  if (!video || video.hidden || !video.srcObject || !video.videoWidth || !video.videoHeight) {
    return null;
  }
  const scale = Math.min(1, STILL_MAX_SIDE / Math.max(video.videoWidth, video.videoHeight));
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(video.videoWidth * scale));
  canvas.height = Math.max(1, Math.round(video.videoHeight * scale));
  const ctx = canvas.getContext("2d");
  if (!ctx) return null;
  try {
    ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
  } catch {
    return null;
  }
  return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.7));
}

export class SafetyUI {
  /**
   * @param {object} o
   * @param {import("./session.js").Session} o.session
   * @param {import("./chat.js").ChatView} o.view
   * @param {() => void} o.onBanned  hide the other views (the ban notice replaces them)
   */
  constructor({ session, view, onBanned }) {
    this.session = session;
    this.view = view;
    this.onBanned = onBanned;

    const $ = (sel) => document.querySelector(sel);
    this.reportButton = $("[data-testid=report]");
    this.blockButton = $("[data-testid=block]");

    // Report dialog.
    this.reportDialog = $("#report-dialog");
    this.reportForm = this.reportDialog.querySelector("form");
    this.category = $("[data-testid=report-category]");
    this.comment = $("[data-testid=report-comment]");
    this.counter = $("#report-count");
    this.emergency = $("[data-testid=report-emergency]");
    this.emergencyText = this.emergency.querySelector(".emergency-text");
    this.fields = this.reportDialog.querySelector(".report-fields");
    this.intro = $("#report-intro");
    this.already = $("[data-testid=report-already]");
    this.reportError = $("[data-testid=report-error]");
    this.reportRef = $("[data-testid=report-ref]");
    this.reportCancel = $("[data-testid=report-cancel]");
    this.reportSubmit = $("[data-testid=report-submit]");
    this.reportBlock = $("[data-testid=report-block]");
    // The optional still of the stranger's video (video mode only).
    this.frameField = $("[data-testid=report-frame-field]");
    this.frameBox = $("[data-testid=report-frame]");
    this.frameStatus = $("[data-testid=report-frame-status]");

    // Block dialog.
    this.blockDialog = $("#block-dialog");
    this.blockCancel = $("[data-testid=block-cancel]");
    this.blockConfirm = $("[data-testid=block-confirm]");
    // Question mode: who a report or block is about.
    this.reportAbout = $("[data-testid=report-about]");
    this.blockAbout = $("[data-testid=block-about]");

    // Ban notice.
    this.ban = $("[data-testid=ban-notice]");

    this.target = null; // the pair the open report is about
    this.blockTarget = null;
    this.blockTargetAbout = null;
    this.pending = null; // {id, pair} while a report waits for its acknowledgement
    this.done = null; // {pair, ref, about} once the open report was acknowledged
    this.errorKey = null;
    this.refs = new Map(); // pair -> reference of a report already sent about it
    this.opener = null;
    this.banFrame = null;
    this.banTimer = null;

    this.#wire();
    this.#syncButtons();
  }

  // ---- wiring -----------------------------------------------------------------------------------

  #wire() {
    const s = this.session;
    s.addEventListener("reportable", () => this.#syncButtons());
    s.addEventListener("reported", (e) => this.#onReported(e.detail));
    s.addEventListener("report-error", (e) => this.#onReportError(e.detail));
    s.addEventListener("blocked", () => {
      if (this.blockDialog.open) this.blockDialog.close();
      this.#syncButtons();
    });
    s.addEventListener("safety-prompt", (e) => this.#showPrompt(e.detail));
    s.addEventListener("banned", (e) => this.showBan(e.detail.frame));

    this.reportButton.addEventListener("click", () => this.openReport());
    this.blockButton.addEventListener("click", () => this.openBlock());

    this.reportForm.addEventListener("submit", (event) => {
      event.preventDefault();
      this.#submitReport();
    });
    this.reportCancel.addEventListener("click", () => this.reportDialog.close());
    this.reportBlock.addEventListener("click", () => {
      const pair = this.done?.pair;
      const about = this.done?.about ?? null;
      this.reportDialog.close();
      if (pair) this.session.sendBlock(pair, about);
    });
    this.reportAbout.addEventListener("change", () => {
      if (this.errorKey === "report.error.no_about") this.#setReportError(null);
    });
    this.blockAbout.addEventListener("change", () => this.#syncBlockConfirm());
    this.category.addEventListener("change", () => {
      this.category.removeAttribute("aria-invalid");
      if (this.errorKey === "report.error.no_category") this.#setReportError(null);
      this.#syncEmergency();
    });
    this.comment.addEventListener("input", () => this.#syncCounter());

    this.blockDialog.querySelector("form").addEventListener("submit", (event) => {
      event.preventDefault();
      const pair = this.blockTarget;
      const about = chosenAbout(this.blockAbout);
      if (about === "") return; // an asker has not said which stranger yet
      this.blockDialog.close();
      if (pair) this.session.sendBlock(pair, about);
    });
    this.blockCancel.addEventListener("click", () => this.blockDialog.close());

    for (const dialog of [this.reportDialog, this.blockDialog]) {
      dialog.addEventListener("close", () => this.#restoreFocus());
    }
    // A tap on the backdrop cancels the block question (as Esc does). Not the report: a stray
    // tap must not throw away what someone was writing.
    this.blockDialog.addEventListener("click", (event) => {
      if (event.target !== this.blockDialog) return;
      const r = this.blockDialog.getBoundingClientRect();
      const inside = event.clientX >= r.left && event.clientX <= r.right &&
        event.clientY >= r.top && event.clientY <= r.bottom;
      if (!inside) this.blockDialog.close();
    });

    this.ban.querySelector("[data-testid=ban-back]").addEventListener("click", () => {
      window.location.reload();
    });

    onLanguageChange(() => this.#retranslate());
  }

  #syncButtons() {
    const pair = this.session.reportPair;
    const blocked = pair !== null && this.session.blockedPairs.has(pair);
    this.reportButton.disabled = pair === null;
    this.blockButton.disabled = pair === null || blocked;
    for (const b of this.view.messages.querySelectorAll("[data-testid=safety-report]")) {
      b.disabled = b.dataset.pair !== pair;
    }
    if (this.done) this.reportBlock.hidden = this.session.blockedPairs.has(this.done.pair);
  }

  // ---- report -----------------------------------------------------------------------------------

  /** Open the report dialog for the current (or just-ended) chat, optionally preselecting. */
  openReport(category = "") {
    const pair = this.session.reportPair;
    if (pair === null || this.reportDialog.open) return;
    this.target = pair;
    this.pending = null;
    this.done = null;
    setUpAbout(this.reportAbout, this.session.reportSeat);
    this.#syncIntro();
    this.category.value = category;
    this.category.removeAttribute("aria-invalid");
    this.comment.value = "";
    this.frameField.hidden = document.body.dataset.mode !== "video";
    this.frameBox.checked = false;
    this.#setFrameStatus(null);
    this.fields.hidden = false;
    this.intro.hidden = false;
    this.reportRef.hidden = true;
    this.reportRef.replaceChildren();
    this.reportBlock.hidden = true;
    this.reportSubmit.hidden = false;
    this.#setSubmitBusy(false);
    this.#setReportError(null);
    this.#syncEmergency();
    this.#syncCounter();
    this.#syncAlready();
    this.reportCancel.textContent = t("dialog.cancel");
    this.reportCancel.dataset.label = "dialog.cancel";
    this.opener = document.activeElement;
    this.reportDialog.showModal();
    this.category.focus();
  }

  #submitReport() {
    if (this.pending || this.done || this.target === null) return;
    const category = this.category.value;
    if (!category) {
      this.category.setAttribute("aria-invalid", "true");
      this.#setReportError("report.error.no_category");
      this.category.focus();
      return;
    }
    const about = chosenAbout(this.reportAbout);
    if (about === "") {
      this.#setReportError("report.error.no_about");
      this.reportAbout.querySelector("input:not(:disabled)").focus();
      return;
    }
    const comment = this.comment.value.trim().slice(0, 1000);
    // Take the still now, before the report goes out: the stranger may leave meanwhile.
    const wantStill = !this.frameField.hidden && this.frameBox.checked;
    const still = wantStill ? captureStill() : null;
    const id = this.session.sendReport(this.target, category, comment, about);
    if (id === null) {
      this.#setReportError("report.error.offline");
      return;
    }
    this.pending = { id, pair: this.target, about, wantStill, still };
    this.#setReportError(null);
    this.#setSubmitBusy(true);
  }

  #onReported({ pair, ref, ref_id: refId }) {
    if (typeof ref !== "string") return;
    if (typeof pair === "string") this.refs.set(pair, ref);
    const mine = this.pending !== null && (refId === this.pending.id ||
      (refId === null && pair === this.pending.pair));
    const strong = document.createElement("strong");
    strong.textContent = ref;
    // A line in the chat too, so the reference is in the saved log and survives closing the box.
    this.view.addSystemLine("report.logged", { ref });
    if (!mine) return;
    const { wantStill, still, about } = this.pending;
    this.pending = null;
    this.done = { pair: this.target, ref, about };
    this.#setSubmitBusy(false);
    this.#setReportError(null);
    this.fields.hidden = true;
    this.intro.hidden = true;
    this.already.hidden = true;
    this.reportSubmit.hidden = true;
    this.reportRef.replaceChildren(format("report.thanks", { ref: strong }));
    this.reportRef.hidden = false;
    this.reportBlock.hidden = this.session.blockedPairs.has(this.done.pair);
    this.reportCancel.textContent = t("dialog.close");
    this.reportCancel.dataset.label = "dialog.close";
    if (this.reportDialog.open) this.reportCancel.focus();
    if (wantStill) this.#uploadStill(ref, still);
  }

  /** POST the still (a promise of a JPEG blob, or null) to the report `ref`. */
  async #uploadStill(ref, still) {
    const blob = still ? await still : null;
    if (!blob) {
      this.#setFrameStatus("report.frame_none", true);
      return;
    }
    this.#setFrameStatus("report.frame_sending");
    let ok = false;
    try {
      const response = await fetch(`/api/reports/${encodeURIComponent(ref)}/frame`, {
        method: "POST",
        headers: { "Content-Type": "image/jpeg", "X-Parley-Device": deviceToken() },
        body: blob,
      });
      ok = response.status === 204;
    } catch {
      ok = false;
    }
    if (this.done?.ref !== ref) return; // the dialog moved on to another report
    this.#setFrameStatus(ok ? "report.frame_done" : "report.frame_failed", !ok);
  }

  #setFrameStatus(key, failed = false) {
    this.frameStatus.hidden = key === null;
    this.frameStatus.dataset.label = key ?? "";
    this.frameStatus.dataset.state = key === null ? "" : failed ? "error" : "ok";
    this.frameStatus.classList.toggle("dialog-error", failed);
    this.frameStatus.textContent = key === null ? "" : t(key);
  }

  #onReportError({ id, code }) {
    if (this.pending === null || id !== this.pending.id) {
      this.view.addSystemLine(REPORT_FAILED[code] ?? "report.error.other");
      return;
    }
    this.pending = null;
    this.#setSubmitBusy(false);
    this.#setReportError(REPORT_FAILED[code] ?? "report.error.other");
    if (!this.reportDialog.open) this.view.addSystemLine(REPORT_FAILED[code] ?? "report.error.other");
  }

  #setSubmitBusy(busy) {
    this.reportSubmit.disabled = busy;
    this.reportSubmit.setAttribute("aria-busy", busy ? "true" : "false");
    const key = busy ? "report.sending" : "report.submit";
    this.reportSubmit.dataset.label = key;
    this.reportSubmit.textContent = t(key);
  }

  #setReportError(key) {
    this.errorKey = key;
    this.reportError.hidden = key === null;
    this.reportError.textContent = key === null ? "" : t(key);
  }

  #syncEmergency() {
    const key = EMERGENCY_NOTE[this.category.value];
    this.emergency.hidden = !key;
    this.emergencyText.textContent = key ? t(key) : "";
  }

  #syncCounter() {
    const n = [...this.comment.value].length;
    this.counter.textContent = t("report.count", { n, max: 1000 });
  }

  /** What goes with the report: a room's evidence holds the question and both discussers. */
  #syncIntro() {
    this.intro.textContent = t(this.reportAbout.hidden ? "report.intro" : "report.intro_room");
  }

  #syncAlready() {
    const ref = this.target === null ? undefined : this.refs.get(this.target);
    this.already.hidden = ref === undefined;
    this.already.textContent = ref === undefined ? "" : t("report.already", { ref });
  }

  // ---- block ------------------------------------------------------------------------------------

  openBlock() {
    const pair = this.session.reportPair;
    if (pair === null || this.session.blockedPairs.has(pair) || this.blockDialog.open) return;
    this.blockTarget = pair;
    setUpAbout(this.blockAbout, this.session.reportSeat);
    this.#syncBlockConfirm();
    this.opener = document.activeElement;
    this.blockDialog.showModal();
    const first = this.blockConfirm.disabled
      ? this.blockAbout.querySelector("input:not(:disabled)")
      : this.blockConfirm;
    first.focus();
  }

  /** An asker blocks one stranger: Block waits until they said which. */
  #syncBlockConfirm() {
    this.blockConfirm.disabled = chosenAbout(this.blockAbout) === "";
  }

  #restoreFocus() {
    const el = this.opener;
    this.opener = null;
    if (el && el.isConnected && !el.disabled && typeof el.focus === "function" &&
        el !== document.body) {
      el.focus({ preventScroll: true });
    } else if (!this.view.root.hidden) {
      this.view.focusInput();
    }
  }

  // ---- the in-chat safety prompt (minors) ------------------------------------------------------

  #showPrompt({ pair, text }) {
    const existing = this.view.messages.querySelector(
      `[data-testid=safety-prompt][data-pair="${CSS.escape(pair)}"]`,
    );
    if (existing) {
      // Once per chat is enough; bring it back into view.
      existing.scrollIntoView({ block: "nearest" });
      return;
    }
    const card = document.createElement("div");
    card.className = "safety-prompt";
    card.dataset.testid = "safety-prompt";
    card.dataset.pair = pair;
    card._text = text;
    const titleId = `safety-title-${Math.random().toString(36).slice(2, 9)}`;
    card.setAttribute("role", "group");
    card.setAttribute("aria-labelledby", titleId);

    const icon = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    icon.setAttribute("viewBox", "0 0 24 24");
    icon.setAttribute("aria-hidden", "true");
    icon.setAttribute("focusable", "false");
    icon.classList.add("safety-icon");
    const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
    path.setAttribute("d", "M12 2 3 6v6c0 5 3.8 9.4 9 10 5.2-.6 9-5 9-10V6l-9-4Z");
    path.setAttribute("fill", "none");
    path.setAttribute("stroke", "currentColor");
    path.setAttribute("stroke-width", "2");
    path.setAttribute("stroke-linejoin", "round");
    const tick = document.createElementNS("http://www.w3.org/2000/svg", "path");
    tick.setAttribute("d", "m8.5 12 2.5 2.5 4.5-5");
    tick.setAttribute("fill", "none");
    tick.setAttribute("stroke", "currentColor");
    tick.setAttribute("stroke-width", "2");
    tick.setAttribute("stroke-linecap", "round");
    tick.setAttribute("stroke-linejoin", "round");
    icon.append(path, tick);

    const body = document.createElement("div");
    body.className = "safety-body";
    const title = document.createElement("p");
    title.className = "safety-title";
    title.id = titleId;
    const para = document.createElement("p");
    para.className = "safety-text";
    const actions = document.createElement("div");
    actions.className = "safety-actions";
    const report = document.createElement("button");
    report.type = "button";
    report.className = "primary";
    report.dataset.testid = "safety-report";
    report.dataset.pair = pair;
    report.addEventListener("click", () => this.openReport("minor_in_danger"));
    const leave = document.createElement("button");
    leave.type = "button";
    leave.className = "secondary";
    leave.dataset.testid = "safety-leave";
    leave.addEventListener("click", () => this.session.leaveNow());
    actions.append(report, leave);
    body.append(title, para, actions);
    card.append(icon, body);
    this.#fillPrompt(card);
    this.view.addBlock(card, { forceScroll: true });
    // Taller than the log (a phone): show its beginning rather than its end.
    const log = this.view.messages;
    if (card.offsetHeight > log.clientHeight) {
      log.scrollTop += card.getBoundingClientRect().top - log.getBoundingClientRect().top - 8;
    }
    this.#syncButtons();
  }

  #fillPrompt(card) {
    card.querySelector(".safety-title").textContent = t("safety.title");
    // The page's own words in the reader's language; the server's text if it has none.
    card.querySelector(".safety-text").textContent =
      has("notice.safety_prompt") ? t("notice.safety_prompt") : card._text;
    card.querySelector("[data-testid=safety-report]").textContent = t("safety.report");
    card.querySelector("[data-testid=safety-leave]").textContent = t("safety.leave");
  }

  // ---- ban notice -------------------------------------------------------------------------------

  /** A ban covers this browser or network: the statement of reasons replaces the chat. */
  showBan(frame) {
    this.banFrame = frame;
    for (const d of [this.reportDialog, this.blockDialog]) if (d.open) d.close();
    this.onBanned();
    this.#renderBan();
    this.ban.hidden = false;
    document.body.dataset.view = "banned";
    this.ban.querySelector("#ban-title").focus();
    window.clearTimeout(this.banTimer);
    const endsAt = Number(frame.ends_at);
    if (frame.ends_at !== null && frame.ends_at !== undefined && Number.isFinite(endsAt)) {
      const delay = endsAt * 1000 - Date.now();
      if (delay < MAX_TIMEOUT_MS) {
        this.banTimer = window.setTimeout(() => this.#banOver(), Math.max(0, delay) + 1000);
      }
    }
  }

  #banOver() {
    const over = this.ban.querySelector("[data-testid=ban-over]");
    over.hidden = false;
  }

  #renderBan() {
    const f = this.banFrame;
    if (!f) return;
    const q = (id) => this.ban.querySelector(`[data-testid=${id}]`);

    const reason = typeof f.reason === "string" ? f.reason.trim() : "";
    const known = KNOWN_REASONS[reason];
    q("ban-reason").textContent = known && has(known) ? t(known) : reason || t("ban.no_reason");

    const category = typeof f.category === "string" ? f.category : "";
    const catKey = `ban.cat.${category}`;
    q("ban-category").textContent = has(catKey) ? t(catKey) : category || "—";

    q("ban-ends").replaceChildren(formatEnds(f.ends_at));

    const numberRow = this.ban.querySelector(".ban-number-row");
    numberRow.hidden = !Number.isInteger(f.ban);
    q("ban-number").textContent = Number.isInteger(f.ban) ? String(f.ban) : "";

    const appeal = safeUrl(f.appeal_url);
    const link = q("ban-appeal");
    if (appeal) link.setAttribute("href", appeal);
    else link.removeAttribute("href");
    q("ban-appeal-row").hidden = !appeal;
    q("ban-no-appeal").hidden = Boolean(appeal);
  }

  // ---- language ---------------------------------------------------------------------------------

  #retranslate() {
    for (const b of [this.reportSubmit, this.reportCancel, this.frameStatus]) {
      if (b.dataset.label) b.textContent = t(b.dataset.label);
    }
    if (this.errorKey) this.reportError.textContent = t(this.errorKey);
    this.#syncEmergency();
    this.#syncCounter();
    this.#syncAlready();
    this.#syncIntro();
    if (this.done) {
      const strong = document.createElement("strong");
      strong.textContent = this.done.ref;
      this.reportRef.replaceChildren(format("report.thanks", { ref: strong }));
    }
    for (const card of this.view.messages.querySelectorAll("[data-testid=safety-prompt]")) {
      this.#fillPrompt(card);
    }
    if (!this.ban.hidden) this.#renderBan();
  }
}

/**
 * "November 24, 2026 at 9:53 PM (in 24 hours)"; "Permanently…" for `ends_at: null`; "Not
 * stated" when the server's statement never arrived (a bare close 4007).
 */
function formatEnds(endsAt) {
  const fragment = document.createDocumentFragment();
  const seconds = Number(endsAt);
  if (endsAt === null) {
    fragment.append(t("ban.permanent"));
    return fragment;
  }
  if (endsAt === undefined || typeof endsAt !== "number" || !Number.isFinite(seconds)) {
    fragment.append(t("ban.not_stated"));
    return fragment;
  }
  const date = new Date(seconds * 1000);
  const time = document.createElement("time");
  time.dateTime = date.toISOString();
  time.textContent = new Intl.DateTimeFormat(language(), {
    dateStyle: "long",
    timeStyle: "short",
  }).format(date);
  return format("ban.ends_value", { when: time, rel: relativeTime(date.getTime() - Date.now()) });
}

function relativeTime(ms) {
  const rtf = new Intl.RelativeTimeFormat(language(), { numeric: "auto" });
  const minutes = Math.max(1, Math.ceil(ms / 60_000));
  if (minutes < 60) return rtf.format(minutes, "minute");
  const hours = Math.round(ms / 3_600_000);
  if (hours < 48) return rtf.format(hours, "hour");
  return rtf.format(Math.round(ms / 86_400_000), "day");
}

/**
 * Question mode: offer the choices for our `seat` in `fieldset` (hidden outside question mode,
 * where `seat` is null), with the default checked.
 */
function setUpAbout(fieldset, seat) {
  const choices = Object.hasOwn(ABOUT_CHOICES, seat) ? ABOUT_CHOICES[seat] : null;
  fieldset.hidden = choices === null;
  for (const radio of fieldset.querySelectorAll("input[type=radio]")) {
    const allowed = choices !== null && choices.includes(radio.value);
    radio.closest("label").hidden = !allowed;
    radio.disabled = !allowed;
    radio.checked = allowed && radio.value === ABOUT_DEFAULT[seat];
  }
}

/** The chosen `about`: null outside question mode, "" when a choice is still missing. */
function chosenAbout(fieldset) {
  if (fieldset.hidden) return null;
  return fieldset.querySelector("input[type=radio]:checked")?.value ?? "";
}

/** An http(s) URL (absolute, or relative to this page), or null for anything else. */
function safeUrl(raw) {
  if (typeof raw !== "string" || !raw.trim()) return null;
  try {
    const url = new URL(raw.trim(), window.location.href);
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
  } catch {
    return null;
  }
}
