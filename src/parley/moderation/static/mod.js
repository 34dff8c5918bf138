// The item view: keyboard shortcuts, ready-made reasons, and a confirmation before a permanent
// ban. Plain script; no markup is ever built from data (textContent only).
"use strict";

function form() {
  return document.getElementById("actions");
}

function dialog() {
  return document.getElementById("confirm-ban");
}

document.addEventListener("keydown", (event) => {
  const actions = form();
  if (!actions || event.ctrlKey || event.metaKey || event.altKey) return;
  const confirm = dialog();
  if (confirm && confirm.open) return; // the dialog's own buttons and Esc answer it
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
  const button = actions.querySelector(`button[data-key="${CSS.escape(event.key)}"]`);
  if (!button) return;
  event.preventDefault();
  if (reason && !reason.value.trim()) {
    const needed = document.getElementById("reason-needed");
    if (needed) needed.hidden = false;
    reason.focus();
    return;
  }
  actions.requestSubmit(button);
});

function setUp() {
  const actions = form();
  if (!actions) return;
  const reason = document.getElementById("reason");
  const preset = document.getElementById("reason-preset");
  if (preset && reason) {
    preset.addEventListener("change", () => {
      if (!preset.value) return;
      const now = reason.value.trim();
      reason.value = now ? `${now} ${preset.value}` : preset.value;
      preset.value = "";
      reason.focus();
    });
  }
  if (reason) {
    reason.addEventListener("input", () => {
      const needed = document.getElementById("reason-needed");
      if (needed && reason.value.trim()) needed.hidden = true;
    });
  }

  const confirm = dialog();
  const confirmed = document.getElementById("confirmed");
  const banButton = actions.querySelector('button[value="ban_perm"]');
  if (!confirm || !confirmed || !banButton) return;
  const cancel = document.getElementById("confirm-ban-cancel");
  const ok = document.getElementById("confirm-ban-ok");

  // Nothing is banned for good until the dialog's own button says so. The server asks again
  // for a form that comes without "confirmed" (no scripts).
  actions.addEventListener("submit", (event) => {
    if (event.submitter !== banButton || confirmed.value === "yes") return;
    event.preventDefault();
    document.getElementById("confirm-ban-reason").textContent = reason ? reason.value.trim() : "";
    confirm.showModal();
    cancel.focus();
  });
  cancel.addEventListener("click", () => confirm.close("cancel"));
  ok.addEventListener("click", () => {
    confirmed.value = "yes";
    confirm.close("ban");
    actions.requestSubmit(banButton);
  });
  confirm.addEventListener("close", () => {
    if (confirm.returnValue !== "ban") {
      confirmed.value = "";
      banButton.focus();
    }
  });
}

setUp();
