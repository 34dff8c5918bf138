// The landing form: reading and checking age and interests before anything is sent.
// The server is the authority (it validates again and decides pools); these checks only give
// quick, friendly feedback.

import { checkQuestion, isQuestionMode } from "./question.js";

export const DEFAULT_LIMITS = Object.freeze({ max_interests: 10, max_interest_chars: 32 });

const REFUSED_KEY = "parley.refused";
const REFUSED_WHY_KEY = "parley.refused.why";
const REFUSED_FOR_MS = 24 * 60 * 60 * 1000;
// Age, interests and the language choice, kept only when the person ticks "remember" (and
// forgotten as soon as they untick it). The under-age refusal above is kept regardless.
const PROFILE_KEY = "parley.profile";

/** Normalise interests like the server does (NFKC, lower case, no leading #, single spaces). */
export function parseInterests(raw) {
  const seen = new Set();
  const out = [];
  for (const part of String(raw).split(/[,，、;]/u)) {
    const v = part.normalize("NFKC").toLowerCase().trim().replace(/^#+/u, "").trim()
      .replace(/\s+/gu, " ");
    if (v && !seen.has(v)) {
      seen.add(v);
      out.push(v);
    }
  }
  return out;
}

/**
 * Read the form. Returns {settings} or {error: {key, params}}.
 * settings: {age, interests, fallback, any_language, mode}, and `question` for an asker.
 */
export function readForm(form, limits = DEFAULT_LIMITS) {
  const ageRaw = form.querySelector("[data-testid=age]").value.trim();
  if (!ageRaw) return { error: { key: "landing.error.age_missing", field: "age" } };
  if (!/^\d{1,3}$/u.test(ageRaw)) return { error: { key: "landing.error.invalid_age", field: "age" } };
  const age = Number.parseInt(ageRaw, 10);
  if (age < 1 || age > 120) return { error: { key: "landing.error.invalid_age", field: "age" } };

  const mode = readMode(form);
  if (isQuestionMode(mode)) {
    // Interests play no part in question mode (their field is hidden then).
    // Rooms keep to one language: question mode never widens.
    const settings = { age, interests: [], fallback: true, any_language: false, mode };
    if (mode === "discuss") return { settings };
    const question = form.querySelector("[data-testid=question]").value.trim();
    const problem = checkQuestion(question);
    if (problem) return { error: { ...problem, field: "question" } };
    return { settings: { ...settings, question } };
  }

  const interests = parseInterests(form.querySelector("[data-testid=interests]").value);
  if (interests.length > limits.max_interests) {
    return { error: { key: "landing.error.too_many_interests", params: { n: limits.max_interests },
      field: "interests" } };
  }
  const long = interests.find((i) => [...i].length > limits.max_interest_chars);
  if (long) {
    return { error: { key: "landing.error.interest_too_long",
      params: { n: limits.max_interest_chars, interest: long }, field: "interests" } };
  }
  const onlyShared = form.querySelector("[data-testid=fallback]").checked;
  return { settings: { age, interests, fallback: !onlyShared, any_language: readAnyLanguage(form),
    mode } };
}

/** "Meet people who speak": true for any language (yours first), false for only yours. */
export function readAnyLanguage(form) {
  return form.querySelector("[data-testid=speak]").value !== "mine";
}

/** The remembered profile ({age, interests, any_language}), or null. */
export function recallProfile() {
  try {
    const raw = window.localStorage.getItem(PROFILE_KEY);
    if (!raw) return null;
    const p = JSON.parse(raw);
    if (!p || typeof p !== "object") return null;
    return {
      age: Number.isInteger(p.age) ? p.age : null,
      interests: Array.isArray(p.interests) ? p.interests.filter((i) => typeof i === "string") : [],
      any_language: p.any_language !== false,
    };
  } catch {
    return null;
  }
}

/** Keep the form's age, interests and language choice on this device. */
export function rememberProfile({ age, interests, any_language }) {
  try {
    window.localStorage.setItem(PROFILE_KEY, JSON.stringify({ age, interests, any_language }));
  } catch {
    /* storage disabled */
  }
}

/** Forget what `rememberProfile` kept. */
export function forgetProfile() {
  try {
    window.localStorage.removeItem(PROFILE_KEY);
  } catch {
    /* storage disabled */
  }
}

const FORM_MODES = new Set(["text", "video", "question", "discuss"]);

/** The chosen chat mode: "text" (the default), "video", "question" (ask) or "discuss". */
export function readMode(form) {
  const value = form.querySelector("input[name=mode]:checked")?.value;
  return FORM_MODES.has(value) ? value : "text";
}

/**
 * Remember a final refusal for a day, so that retyping another age in this browser does not get
 * around it: `code` is "age_refused" (under 13) or "minor_pool_closed" (adults-only service).
 */
export function rememberRefusal(code = "age_refused") {
  try {
    window.localStorage.setItem(REFUSED_KEY, String(Date.now()));
    window.localStorage.setItem(REFUSED_WHY_KEY, code);
  } catch {
    /* storage disabled */
  }
}

/** Was this browser refused within the last day? */
export function recentlyRefused() {
  return recentRefusal() !== null;
}

/** The code of a refusal within the last day ("age_refused", "minor_pool_closed"), or null. */
export function recentRefusal() {
  try {
    const at = Number(window.localStorage.getItem(REFUSED_KEY));
    if (!(Number.isFinite(at) && at > 0 && Date.now() - at < REFUSED_FOR_MS)) return null;
    const why = window.localStorage.getItem(REFUSED_WHY_KEY);
    return why === "minor_pool_closed" ? why : "age_refused";
  } catch {
    return null;
  }
}

/**
 * The landing message for a final refusal. `ages` is who may use the service as /api/status
 * says ({min_age, adult_age, minor_pool_open}), or null before it has answered: the minimum age
 * is the operator's (PARLEY_MIN_AGE), so the page states no number it has not been told.
 * `refusal` keeps the code, so the message can be written again when the ages arrive.
 */
export function refusalMessage(code, ages = null) {
  if (code === "minor_pool_closed") return { key: "landing.refused_minor", refusal: code };
  if (code === "age_mismatch") return { key: "landing.refused_mismatch", refusal: code };
  if (!ages) return { key: "landing.refused_age_unknown", refusal: "age_refused" };
  return { key: "landing.refused", params: { min_age: ages.min_age }, refusal: "age_refused" };
}
