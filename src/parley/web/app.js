// Entry point: wires the landing form, the chat view, the connection and the language switch.

import { ChatView, downloadText } from "./chat.js";
import { Connection } from "./connection.js";
import {
  detectLanguage, format, formatNumber, language, onLanguageChange, setLanguage, t,
} from "./i18n.js";
import {
  DEFAULT_LIMITS, forgetProfile, parseInterests, readAnyLanguage, readForm, readMode,
  recallProfile, recentRefusal, refusalMessage, rememberProfile, rememberRefusal,
} from "./landing.js";
import { getMode } from "./modes.js";
import { QuestionField } from "./question.js";
import { SafetyUI } from "./safety.js";
import { Session } from "./session.js";
import { WaitingScreen } from "./waiting.js";

const STATUS_POLL_MS = 20_000;
// Below this public figure the counter invites ("Be the first here"). The figure is already
// rounded down by the server, so this is its smallest step, not a second rounding.
const INVITE_BELOW = 1;

const $ = (sel) => document.querySelector(sel);

const landing = $("#landing");
const chat = $("#chat");
const banView = $("#ban");
const form = $("#start-form");
const formError = $("#form-error");
const onlineEl = $("[data-testid=online]");
const ageNotice = $("[data-testid=age-notice]");
const langSelect = $("[data-testid=lang]");
const startButton = $("[data-testid=start]");
const modeHint = $("#mode-hint");
const alwaysBlurOption = $("[data-testid=always-blur-option]");
const speak = $("[data-testid=speak]");
const speakRow = $("[data-testid=speak-row]");
const remember = $("[data-testid=remember]");
const questionField = new QuestionField(form);

let onlineCount = null;
let ages = null; // who may use the service, from /api/status: {min_age, adult_age, minor_pool_open}
let formErrorState = null; // {key, params} or {text}
let unread = 0;

const view = new ChatView(chat);
const conn = new Connection();
const session = new Session({
  conn,
  view,
  language,
  onOnline: setOnline,
  onHelloRejected: (why) => showLanding(why),
  onRefused: (code) => {
    // Under 13, or a minor where the service is for adults only: not another age, not today.
    if (code !== "age_mismatch") rememberRefusal(code);
    lockForRefusal();
    showLanding(refusalMessage(code, ages));
  },
  onSwitchMode: (mode) => switchMode(mode),
});
new SafetyUI({
  session,
  view,
  onBanned: () => {
    landing.hidden = true;
    chat.hidden = true;
  },
});
new WaitingScreen({
  root: chat.querySelector("[data-testid=waiting]"),
  session,
  settings: () => session.settings,
  limits: () => conn.limits,
  adultAge: () => ages?.adult_age ?? null,
  act: {
    // Each starts the search again with one thing changed, and the landing form follows, so the
    // next Start asks for the same.
    dropInterests: () => {
      $("[data-testid=interests]").value = "";
      restartWith({ interests: [], fallback: true });
    },
    anyLanguage: () => {
      speak.value = "any";
      restartWith({ any_language: true });
    },
    tryText: () => switchMode("text"),
  },
});
session.onUnread = (n) => {
  unread = n;
  updateTitle();
};

// ---- views --------------------------------------------------------------------------------------

function showChat() {
  banView.hidden = true;
  landing.hidden = true;
  chat.hidden = false;
  document.body.dataset.view = "chat";
  view.autoGrow();
  view.input.focus({ preventScroll: true });
}

function showLanding(error = null) {
  banView.hidden = true;
  chat.hidden = true;
  landing.hidden = false;
  document.body.dataset.view = "landing";
  setFormError(error);
  const target = $(`[data-testid=${error?.field || "age"}]`) || $("[data-testid=age]");
  if (!target.disabled) target.focus();
}

/** The start button and hint follow the chosen mode ("Start text chat" / "Start video chat"). */
function syncMode() {
  const mode = getMode(readMode(form));
  startButton.dataset.mode = mode.id;
  startButton.textContent = t(mode.startKey);
  modeHint.textContent = t(mode.hintKey);
  alwaysBlurOption.hidden = mode.id !== "video";
  questionField.sync(mode.id);
  syncSpeak();
}

/** The language choice follows the mode (rooms keep to one language) and names the page's. */
function syncSpeak() {
  speakRow.hidden = !["text", "video"].includes(readMode(form));
  const params = { language: t(`lang.name.${language()}`) };
  speak.options[0].textContent = t("landing.speak_any", params);
  speak.options[1].textContent = t("landing.speak_mine", params);
}

/** A new search from the waiting screen with ``changes`` to the settings. */
function restartWith(changes) {
  if (!session.settings) return;
  const settings = { ...session.settings, ...changes };
  if (remember.checked) {
    const { age, interests, any_language } = settings;
    rememberProfile({ age, interests, any_language });
  }
  session.begin(settings);
}

/** Fill the form from what this device remembers (only if the person asked it to). */
function restoreProfile() {
  const profile = recallProfile();
  if (!profile) return;
  remember.checked = true;
  if (profile.age !== null) $("[data-testid=age]").value = String(profile.age);
  $("[data-testid=interests]").value = profile.interests.join(", ");
  speak.value = profile.any_language ? "any" : "mine";
}

/** The asker, between rooms, goes back to the form to change the question. */
function editQuestion() {
  showLanding();
  $("[data-testid=question]").focus();
}

/** A mode gave up (e.g. no camera) and the person chose another: start that right away. */
function switchMode(mode) {
  const radio = $(`[data-testid=mode-${mode}]`);
  if (radio) radio.checked = true;
  syncMode();
  if (session.settings) session.begin({ ...session.settings, mode });
}

function setFormError(error) {
  formErrorState = error;
  if (!error) {
    formError.hidden = true;
    formError.replaceChildren();
    for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
    return;
  }
  formError.hidden = false;
  if (error.key) formError.replaceChildren(format(error.key, error.params || {}));
  else formError.textContent = error.text;
  if (error.field) $(`[data-testid=${error.field}]`).setAttribute("aria-invalid", "true");
}

function lockForRefusal() {
  for (const el of form.querySelectorAll("input, button, select")) el.disabled = true;
  // Nothing left to choose: the options give their room to the refusal (and Start stays in view).
  form.querySelector(".options").hidden = true;
}

function setOnline(n) {
  onlineCount = n;
  onlineEl.dataset.count = String(n);
  // The public figure is rounded down (docs/pages.md): 0 means "a few or nobody", so it reads as
  // an invitation rather than a discouraging "0 online".
  onlineEl.textContent = n < INVITE_BELOW ? t("online.invite") : t("online", { n: formatNumber(n) });
  onlineEl.hidden = false;
}

/** Who may use the service, as the server says (an adults-only server says so, not "13+"). */
function setAges(next) {
  ages = next;
  syncAgeNotice();
  // A refusal shown before the server said its minimum age now states it.
  if (formErrorState?.refusal) setFormError(refusalMessage(formErrorState.refusal, ages));
}

function syncAgeNotice() {
  ageNotice.hidden = ages === null; // unknown: the page claims no age rather than a wrong one
  if (ages === null) return;
  const key = ages.minor_pool_open ? "landing.ages_open" : "landing.ages_adults";
  ageNotice.textContent = t(key, {
    min_age: formatNumber(ages.min_age),
    adult_age: formatNumber(ages.adult_age),
  });
}

function updateTitle() {
  const base = t("doc.title");
  document.title = unread > 0 ? `(${unread}) ${base}` : base;
}

// ---- landing form -------------------------------------------------------------------------------

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const refusal = recentRefusal();
  if (refusal) {
    lockForRefusal();
    setFormError(refusalMessage(refusal, ages));
    return;
  }
  const limits = { ...DEFAULT_LIMITS, ...(conn.limits || {}) };
  const { settings, error } = readForm(form, limits);
  if (error) {
    setFormError(error);
    $(`[data-testid=${error.field}]`).focus();
    return;
  }
  setFormError(null);
  if (remember.checked) {
    rememberProfile({
      age: settings.age,
      interests: parseInterests($("[data-testid=interests]").value), // kept in question mode too
      any_language: readAnyLanguage(form),
    });
  } else {
    forgetProfile();
  }
  showChat();
  session.begin(settings);
  if (view.input.hidden) view.messages.focus({ preventScroll: true }); // an asker has no input
});

form.addEventListener("change", (event) => {
  if (event.target.name === "mode") syncMode();
  if (event.target === remember && !remember.checked) forgetProfile(); // forget at once
});

// ---- chat controls ------------------------------------------------------------------------------

view.stopButton.addEventListener("click", () => session.pressStop());
$("[data-testid=question-edit]").addEventListener("click", () => editQuestion());
view.nextButton.addEventListener("click", () => session.pressNext());

chat.querySelector(".composer").addEventListener("submit", (event) => {
  event.preventDefault();
  session.sendMessage();
  view.input.focus({ preventScroll: true });
});

view.input.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
    event.preventDefault();
    session.sendMessage();
  }
});
view.input.addEventListener("input", () => session.inputChanged());

view.saveButton.addEventListener("click", () => {
  const now = new Date();
  const pad = (n) => String(n).padStart(2, "0");
  const stamp = `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}` +
    `-${pad(now.getHours())}${pad(now.getMinutes())}`;
  const header = [`${t("log.title")} — ${now.toLocaleString(language())}`, ""];
  downloadText(`parley-chat-${stamp}.txt`, header.concat(session.transcript()));
});

// Esc presses the Stop / Really? / New button, as on Omegle.
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape" || event.repeat || chat.hidden) return;
  if (event.target instanceof HTMLSelectElement) return; // closing a drop-down
  if (document.querySelector("dialog[open]")) return; // Esc closes the dialog instead
  event.preventDefault();
  if (!view.stopButton.disabled) session.pressStop();
});

window.addEventListener("beforeunload", (event) => {
  if (session.chatting) {
    event.preventDefault();
    event.returnValue = "";
  }
});

document.addEventListener("visibilitychange", () => {
  if (!document.hidden) {
    unread = 0;
    session.pageVisible();
    updateTitle();
  }
});

// ---- language -----------------------------------------------------------------------------------

langSelect.addEventListener("change", () => {
  setLanguage(langSelect.value, { remember: true });
});

onLanguageChange((lang) => {
  langSelect.value = lang;
  syncMode();
  view.retranslate();
  if (onlineCount !== null) setOnline(onlineCount);
  syncAgeNotice();
  if (formErrorState) setFormError(formErrorState);
  updateTitle();
});

// ---- online counter -----------------------------------------------------------------------------

async function pollStatus({ always = false } = {}) {
  if (document.hidden && !always) return;
  try {
    const response = await fetch("/api/status", { cache: "no-store" });
    if (!response.ok) return;
    const body = await response.json();
    if (Number.isInteger(body?.online)) setOnline(body.online);
    if (Number.isInteger(body?.min_age) && Number.isInteger(body?.adult_age) &&
        typeof body?.minor_pool_open === "boolean") {
      const { min_age, adult_age, minor_pool_open } = body;
      setAges({ min_age, adult_age, minor_pool_open });
    }
  } catch {
    /* offline: keep the last number */
  }
}

// A new chat is a good moment to refresh the count (at most every 10 s).
let lastMatchPoll = 0;
conn.addEventListener("frame", (event) => {
  if (event.detail.type === "matched" && Date.now() - lastMatchPoll > 10_000) {
    lastMatchPoll = Date.now();
    pollStatus();
  }
});

// ---- boot ---------------------------------------------------------------------------------------

async function boot() {
  try {
    await setLanguage(detectLanguage());
  } catch (err) {
    console.error(err); // the page keeps its built-in English text
  }
  restoreProfile();
  syncMode(); // a reload may keep the video radio checked
  const refusal = recentRefusal();
  if (refusal) {
    lockForRefusal();
    setFormError(refusalMessage(refusal, ages));
  }
  document.body.dataset.ready = "true";
  pollStatus({ always: true }); // the landing notice needs it, even in a background tab
  window.setInterval(pollStatus, STATUS_POLL_MS);
}

boot();
