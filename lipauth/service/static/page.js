// The login page. It never holds the service's API key: a login gets a one-time token with
// its challenge from the public POST v1/login, and enrolling takes a one-time code an
// administrator issued for that user (lipauth.auth.tokens). Records camera + microphone with
// MediaRecorder after a countdown with the preview on, uploads the recording (same origin),
// and shows the decision with each check.
"use strict";

const SECONDS = 4;        // long enough for one GRID phrase with a pause either side
const COUNTDOWN = 3;      // seconds of preview before each recording
const ENROL_CLIPS = 3;
const $ = (id) => document.getElementById(id);
let login = null;         // {token, phrase, challenge_id, expires_at} from POST v1/login

function status(text, cls) {
  $("status").textContent = text;
  $("status").className = cls || "";
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The camera is on only around recordings (its light says so).
async function cameraOn() {
  // The voice as the microphone heard it: the browser's echo cancelling, noise suppression
  // and gain control reshape the spectrum the synchrony and speech checks read.
  const audio = { echoCancellation: false, noiseSuppression: false, autoGainControl: false, channelCount: 1 };
  const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio });
  $("preview").srcObject = stream;
  return stream;
}

function cameraOff(stream) {
  stream.getTracks().forEach((t) => t.stop());
  $("preview").srcObject = null;
}

async function countdown(what) {
  const el = $("countdown");
  el.hidden = false;
  for (let n = COUNTDOWN; n > 0; n--) {
    el.textContent = `${n}…`;
    status(`${what} in ${n} s — look at the camera`);
    await sleep(1000);
  }
  el.hidden = true;
}

function record(stream, seconds) {
  return new Promise((resolve, reject) => {
    const type = ["video/webm;codecs=vp8,opus", "video/webm", "video/mp4"].find((t) => MediaRecorder.isTypeSupported(t)) || "";
    const rec = new MediaRecorder(stream, type ? { mimeType: type } : {});
    const parts = [];
    rec.ondataavailable = (e) => e.data.size && parts.push(e.data);
    rec.onstop = () => resolve(new Blob(parts, { type: rec.mimeType || "video/webm" }));
    rec.onerror = (e) => reject(e.error || new Error("recording failed"));
    rec.start(250);
    setTimeout(() => rec.stop(), seconds * 1000);
  });
}

async function api(method, path, body, token) {
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  const r = await fetch(path, { method, body, headers });
  const data = await r.json().catch(() => ({ detail: r.statusText }));
  if (!r.ok) throw new Error(`${r.status} ${data.error || ""}: ${data.detail || r.statusText}`);
  return data;
}

function user() {
  const u = $("user").value.trim();
  if (!u) throw new Error("enter your user name first");
  return u;
}

const fmt = (x) => (typeof x === "number" && isFinite(x) ? x.toFixed(3) : "–");

function identityRow(d) {
  const fused = d.fused && d.fused.length > 1;
  const [score, threshold] = fused ? [d.llr, d.llr_threshold] : [d.score, d.threshold];
  const passed = score >= threshold;
  const detail = fused
    ? `${d.fused.join(" + ")} fused (log-likelihood ratio); ${Object.entries(d.modality_scores).map(([m, s]) => `${m} ${s.toFixed(2)}`).join(", ")}`
    : "lip embedding against the enrolled template";
  return { name: "identity", status: passed ? "passed" : "failed", score, threshold, detail };
}

function show(decision) {
  $("result").hidden = false;
  $("verdict").textContent = decision.accepted ? "Accepted" : "Rejected";
  $("verdict").className = decision.accepted ? "accepted" : "rejected";
  $("summary").textContent = `${decision.user}, operating point ${decision.operating_point}` +
    (Object.keys(decision.left_out || {}).length ? `; left out: ${Object.entries(decision.left_out).map(([m, why]) => `${m} (${why})`).join(", ")}` : "");
  const body = $("checks").querySelector("tbody");
  body.innerHTML = "";
  for (const c of [identityRow(decision), ...decision.checks]) {
    const tr = document.createElement("tr");
    tr.dataset.check = c.name;
    for (const v of [c.name, c.status, fmt(c.score), fmt(c.threshold), c.detail]) {
      const td = document.createElement("td");
      td.textContent = v;
      tr.appendChild(td);
    }
    body.appendChild(tr);
  }
  window.scrollTo(0, 0);
}

function guarded(fn) {
  return async () => {
    try { await fn(); } catch (e) { status(e.message, "error"); }
  };
}

$("enrol-button").onclick = guarded(async () => {
  const token = $("enrol-token").value.trim();
  if (!token) throw new Error("enter the enrolment code your administrator gave you");
  $("result").hidden = true;
  const form = new FormData();
  const stream = await cameraOn();
  try {
    for (let i = 1; i <= ENROL_CLIPS; i++) {
      await countdown(`recording clip ${i} of ${ENROL_CLIPS}`);
      status(`recording clip ${i} of ${ENROL_CLIPS}… say anything`);
      form.append("videos", await record(stream, SECONDS), `enrol-${i}.webm`);
    }
  } finally {
    cameraOff(stream);
  }
  status("enrolling…");
  const r = await api("POST", "v1/enroll", form, token);
  $("enrol-token").value = "";
  if (!$("user").value.trim()) $("user").value = r.user;
  status(`enrolled ${r.user} from ${r.n_clips} clips`, "accepted");
});

$("challenge-button").onclick = guarded(async () => {
  const form = new FormData();
  form.append("user", user());
  login = await api("POST", "v1/login", form);
  $("phrase").textContent = `“${login.phrase}”`;
  $("phrase").hidden = false;
  $("login-button").disabled = false;
  status(`read the phrase; press “Say it and log in” and say it when the countdown ends (it expires ${new Date(login.expires_at).toLocaleTimeString()})`);
});

$("login-button").onclick = guarded(async () => {
  const token = login.token;
  login = null;
  $("login-button").disabled = true;
  $("result").hidden = true;
  const form = new FormData();
  const stream = await cameraOn();
  try {
    await countdown("recording");
    $("phrase").classList.add("speaking");
    status("recording — say the phrase now…");
    form.append("video", await record(stream, SECONDS), "login.webm");
  } finally {
    $("phrase").classList.remove("speaking");
    cameraOff(stream);
  }
  status("checking…");
  const decision = await api("POST", "v1/login/verify", form, token);
  show(decision);
  status(decision.accepted ? "logged in" : "not logged in", decision.accepted ? "accepted" : "rejected");
});
