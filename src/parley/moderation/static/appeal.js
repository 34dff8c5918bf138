// The public appeal page: proves whose ban it is with this browser's device token.
// The server picks the page's language (<html lang>); this script's words follow it.
const DEVICE_KEY = "parley.device";

const STRINGS = {
  en: {
    noIdentity: "This browser has no Parley identity, so there is no ban to appeal.",
    unavailable: "The appeal service is not available right now. Try again later.",
    lifted: "Your appeal was accepted: the ban is lifted.",
    upheld: "Your appeal was reviewed: the ban stays in place.",
    noBan: "There is no ban in force on this browser. You can chat again.",
    endsAt: "The ban ends on {when}.",
    permanent: "The ban is permanent.",
    canAppeal: "You can appeal this ban once.",
    received: "Your appeal was received. A moderator will decide on it.",
    receivedLater: "Your appeal was received. A moderator will decide on it; the decision shows here.",
    already: "This ban has been appealed already.",
    failed: "The appeal could not be sent. Try again later.",
  },
  id: {
    noIdentity: "Peramban ini tidak memiliki identitas Parley, jadi tidak ada larangan untuk dibanding.",
    unavailable: "Layanan banding sedang tidak tersedia. Coba lagi nanti.",
    lifted: "Banding Anda diterima: larangan dicabut.",
    upheld: "Banding Anda sudah ditinjau: larangan tetap berlaku.",
    noBan: "Tidak ada larangan yang berlaku pada peramban ini. Anda bisa mengobrol lagi.",
    endsAt: "Larangan berakhir pada {when}.",
    permanent: "Larangan ini permanen.",
    canAppeal: "Anda bisa mengajukan banding atas larangan ini satu kali.",
    received: "Banding Anda sudah diterima. Seorang moderator akan memutuskannya.",
    receivedLater: "Banding Anda sudah diterima. Seorang moderator akan memutuskannya; keputusannya tampil di sini.",
    already: "Larangan ini sudah pernah dibanding.",
    failed: "Banding tidak dapat dikirim. Coba lagi nanti.",
  },
};

const LANG = document.documentElement.lang in STRINGS ? document.documentElement.lang : "en";
const T = STRINGS[LANG];

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

// A date as people of the page's language write it, in their own time zone, with the zone named.
const DATES = new Intl.DateTimeFormat(LANG === "id" ? "id-ID" : "en-GB", {
  dateStyle: "long",
  timeStyle: "short",
});

function when(iso) {
  return iso ? DATES.format(new Date(iso)) : "";
}

async function load() {
  const token = device();
  if (!token) {
    $("status").textContent = T.noIdentity;
    return;
  }
  const { status, data } = await post("/api/appeal/status", { device: token });
  if (status !== 200 || !data) {
    $("status").textContent = T.unavailable;
    return;
  }
  if (data.decision) {
    $("decision").hidden = false;
    $("decision-text").textContent = data.decision.decision === "lifted" ? T.lifted : T.upheld;
    $("decision-reason").textContent = data.decision.decision_reason || "";
  }
  if (!data.banned) {
    $("status").textContent = T.noBan;
    return;
  }
  $("ban").hidden = false;
  $("ban-reason").textContent = data.ban.reason;
  $("ban-ends").textContent = data.ban.ends_at
    ? T.endsAt.replace("{when}", when(data.ban.ends_at))
    : T.permanent;
  if (data.can_appeal) {
    $("status").textContent = T.canAppeal;
    $("appeal-form").hidden = false;
  } else if (data.appeal && !data.appeal.decision) {
    $("status").textContent = T.received;
  } else {
    $("status").textContent = T.already;
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
    $("result").textContent = T.receivedLater;
  } else if (status === 409) {
    $("appeal-form").hidden = true;
    $("result").textContent = T.already;
  } else {
    $("appeal-form").querySelector("button").disabled = false;
    $("result").textContent = T.failed;
  }
});

load();
