// The public appeal page: proves whose ban it is with this browser's device token.
const DEVICE_KEY = "parley.device";

function device() {
  try {
    return window.localStorage.getItem(DEVICE_KEY);
  } catch {
    return null;
  }
}

const $ = (id) => document.getElementById(id);

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
    credentials: "omit",
  });
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  return { status: response.status, data };
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "";
}

async function load() {
  const token = device();
  if (!token) {
    $("status").textContent = "This browser has no Parley identity, so there is no ban to appeal.";
    return;
  }
  const { status, data } = await post("/api/appeal/status", { device: token });
  if (status !== 200 || !data) {
    $("status").textContent = "The appeal service is not available right now. Try again later.";
    return;
  }
  if (data.decision) {
    $("decision").hidden = false;
    $("decision-text").textContent = data.decision.decision === "lifted"
      ? "Your appeal was accepted: the ban is lifted."
      : "Your appeal was reviewed: the ban stays in place.";
    $("decision-reason").textContent = data.decision.decision_reason || "";
  }
  if (!data.banned) {
    $("status").textContent = "There is no ban in force on this browser. You can chat again.";
    return;
  }
  $("ban").hidden = false;
  $("ban-reason").textContent = data.ban.reason;
  $("ban-ends").textContent = data.ban.ends_at ? `The ban ends ${when(data.ban.ends_at)}.` : "The ban is permanent.";
  if (data.can_appeal) {
    $("status").textContent = "You can appeal this ban once.";
    $("appeal-form").hidden = false;
  } else if (data.appeal && !data.appeal.decision) {
    $("status").textContent = "Your appeal was received. A moderator will decide on it.";
  } else {
    $("status").textContent = "This ban has been appealed already.";
  }
}

$("appeal-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = $("appeal-text").value.trim();
  if (!text) return;
  $("appeal-form").querySelector("button").disabled = true;
  const { status } = await post("/api/appeal", { device: device(), text });
  if (status === 201) {
    $("appeal-form").hidden = true;
    $("result").textContent = "Your appeal was received. A moderator will decide on it; the decision shows here.";
  } else if (status === 409) {
    $("appeal-form").hidden = true;
    $("result").textContent = "This ban has been appealed already.";
  } else {
    $("appeal-form").querySelector("button").disabled = false;
    $("result").textContent = "The appeal could not be sent. Try again later.";
  }
});

load();
