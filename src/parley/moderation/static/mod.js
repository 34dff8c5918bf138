// Keyboard shortcuts of the item view. Plain script, no markup is ever built from data.
"use strict";
document.addEventListener("keydown", (event) => {
  const form = document.getElementById("actions");
  if (!form || event.ctrlKey || event.metaKey || event.altKey) return;
  const reason = document.getElementById("reason");
  const target = event.target;
  const typing = target instanceof HTMLElement &&
    (target.tagName === "TEXTAREA" || target.tagName === "INPUT" || target.tagName === "SELECT");
  if (typing) {
    if (event.key === "Escape" && target instanceof HTMLElement) target.blur();
    return;
  }
  if (event.key === "r" && reason) {
    event.preventDefault();
    reason.focus();
    return;
  }
  const button = form.querySelector(`button[data-key="${CSS.escape(event.key)}"]`);
  if (!button) return;
  event.preventDefault();
  if (reason && !reason.value.trim()) {
    reason.focus();
    return;
  }
  form.requestSubmit(button);
});
