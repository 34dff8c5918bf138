// This device's localStorage, for the page's few remembered choices. Storage may be disabled
// (private modes, blocked site data): reads then give null and writes do nothing, so a choice
// lasts for this page only.

/** The stored string, or null. */
export function storageGet(key) {
  try {
    return window.localStorage.getItem(key);
  } catch {
    return null;
  }
}

/** Store a string; null removes the key. */
export function storageSet(key, value) {
  try {
    if (value === null) window.localStorage.removeItem(key);
    else window.localStorage.setItem(key, value);
  } catch {
    /* storage disabled */
  }
}
