// Translation tables and safe interpolation.
//
// Every UI string comes from i18n/<lang>.json beside this module. Strings are only ever put into
// the page with textContent / setAttribute, and interpolated strings are built as DOM nodes (see
// `format`), so no table entry and no parameter can inject markup.

import { storageGet, storageSet } from "./storage.js";

export const SUPPORTED = ["en", "id"];
const STORAGE_KEY = "parley.lang";
const FALLBACK_LANG = "en";

const tables = new Map(); // lang -> object
let current = FALLBACK_LANG;
const listeners = new Set();


/** The language to use: the remembered choice, else the browser's preference (id → Indonesian). */
export function detectLanguage() {
  const saved = storageGet(STORAGE_KEY);
  if (SUPPORTED.includes(saved)) return saved;
  const prefs = navigator.languages && navigator.languages.length
    ? navigator.languages
    : [navigator.language || FALLBACK_LANG];
  for (const tag of prefs) {
    const primary = String(tag).toLowerCase().split(/[-_]/)[0];
    if (primary === "id" || primary === "in") return "id"; // "in" is the legacy code
    if (primary === "en") return "en";
  }
  return FALLBACK_LANG;
}

async function loadTable(lang) {
  if (tables.has(lang)) return tables.get(lang);
  // Relative to this module, so the table comes from the same versioned /static/<hash>/ as the
  // code that reads it; how long it is cached is the server's Cache-Control.
  const response = await fetch(new URL(`i18n/${lang}.json`, import.meta.url));
  if (!response.ok) throw new Error(`i18n: ${lang}: HTTP ${response.status}`);
  const table = await response.json();
  tables.set(lang, table);
  return table;
}

export function language() {
  return current;
}

/** Switch language: loads the table, sets <html lang>, re-translates the page, notifies. */
export async function setLanguage(lang, { remember = false } = {}) {
  if (!SUPPORTED.includes(lang)) lang = FALLBACK_LANG;
  await loadTable(FALLBACK_LANG);
  await loadTable(lang);
  current = lang;
  if (remember) storageSet(STORAGE_KEY, lang);
  document.documentElement.lang = lang;
  translateTree(document);
  for (const fn of listeners) fn(lang);
}

export function onLanguageChange(fn) {
  listeners.add(fn);
}

function lookup(key) {
  const own = tables.get(current);
  if (own && typeof own[key] === "string") return own[key];
  const fallback = tables.get(FALLBACK_LANG);
  if (fallback && typeof fallback[key] === "string") return fallback[key];
  return null;
}

export function has(key) {
  return lookup(key) !== null;
}

/** Plain-string translation, for textContent and attributes. Params are substituted as text. */
export function t(key, params = {}) {
  const template = lookup(key);
  if (template === null) return key;
  return template.replace(/\{(\w+)\}/g, (match, name) =>
    Object.hasOwn(params, name) ? String(params[name] instanceof Node
      ? params[name].textContent : params[name]) : match);
}

/**
 * Translation as a DocumentFragment. Parameters may be strings (inserted as text nodes, never
 * parsed) or Nodes (e.g. a <strong> whose textContent was set by the caller).
 */
export function format(key, params = {}) {
  const template = lookup(key) ?? key;
  const fragment = document.createDocumentFragment();
  const re = /\{(\w+)\}/g;
  let last = 0;
  let m;
  while ((m = re.exec(template)) !== null) {
    if (m.index > last) fragment.append(document.createTextNode(template.slice(last, m.index)));
    const name = m[1];
    if (Object.hasOwn(params, name)) {
      const value = params[name];
      fragment.append(value instanceof Node ? value : document.createTextNode(String(value)));
    } else {
      fragment.append(document.createTextNode(m[0]));
    }
    last = re.lastIndex;
  }
  if (last < template.length) fragment.append(document.createTextNode(template.slice(last)));
  return fragment;
}

export function formatNumber(n) {
  return new Intl.NumberFormat(current).format(n);
}

export function formatList(items) {
  try {
    return new Intl.ListFormat(current, { style: "long", type: "conjunction" }).format(items);
  } catch {
    return items.join(", ");
  }
}

/**
 * Translate static markup: `data-i18n="key"` sets textContent; `data-i18n-attr="attr:key;..."`
 * sets attributes (placeholder, aria-label, title).
 */
export function translateTree(root) {
  for (const el of root.querySelectorAll("[data-i18n]")) {
    el.textContent = t(el.dataset.i18n);
  }
  for (const el of root.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of el.dataset.i18nAttr.split(";")) {
      const [attr, key] = pair.split(":").map((s) => s.trim());
      if (attr && key) el.setAttribute(attr, t(key));
    }
  }
  const title = lookup("doc.title");
  if (title) document.title = title;
}
