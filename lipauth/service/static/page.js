// The login page: records camera + microphone with MediaRecorder, uploads the recording to
// the REST API (same origin), and shows the decision with each check.
"use strict";

const SECONDS = 4;        // long enough for one GRID phrase with a pause either side
const ENROL_CLIPS = 3;
const $ = (id) => document.getElementById(id);
let challenge = null;

function status(text, cls) {
  $("status").textContent = text;
  $("status").className = cls || "";
}

// The camera is on only while recording (its light says so).
async function camera() {
  // The voice as the microphone heard it: the browser's echo cancelling, noise suppression
  // and gain control reshape the spectrum the synchrony and speech checks read.
  const audio = { echoCancellation: false, noiseSuppression: false, autoGainControl: false, channelCount: 1 };
  const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio });
  $("preview").srcObject = stream;
  return stream;
}

function stop(stream) {
  stream.getTracks().forEach((t) => t.stop());
  $("preview").srcObject = null;
}

function record(seconds) {
  return camera().then((s) => new Promise((resolve, reject) => {
    const type = ["video/webm;codecs=vp8,opus", "video/webm", "video/mp4"].find((t) => MediaRecorder.isTypeSupported(t)) || "";
    const rec = new MediaRecorder(s, type ? { mimeType: type } : {});
    const parts = [];
    rec.ondataavailable = (e) => e.data.size && parts.push(e.data);
    rec.onstop = () => { stop(s); resolve(new Blob(parts, { type: rec.mimeType || "video/webm" })); };
    rec.onerror = (e) => { stop(s); reject(e.error || new Error("recording failed")); };
    rec.start(250);
    setTimeout(() => rec.stop(), seconds * 1000);
  }));
}

async function api(method, path, body) {
  const r = await fetch(path, { method, body, headers: { "X-API-Key": $("api-key").value } });
  const data = await r.json().catch(() => ({ detail: r.statusText }));
  if (!r.ok) throw new Error(`${r.status} ${data.error || ""}: ${data.detail || r.statusText}`);
  return data;
}

function user() {
  const u = $("user").value.trim();
  if (!u) throw new Error("enter a user name first");
  return encodeURIComponent(u);
}

function show(decision) {
  $("result").hidden = false;
  $("verdict").textContent = decision.accepted ? "Accepted" : "Rejected";
  $("verdict").className = decision.accepted ? "accepted" : "rejected";
  $("summary").textContent = `identity score ${decision.score.toFixed(3)}, threshold ${decision.threshold.toFixed(3)} (${decision.operating_point})`;
  const body = $("checks").querySelector("tbody");
  body.innerHTML = "";
  const rows = [{ name: "identity", passed: decision.score >= decision.threshold, status: decision.score >= decision.threshold ? "passed" : "failed", score: decision.score, threshold: decision.threshold, detail: "lip embedding against the enrolled template" }, ...decision.checks];
  for (const c of rows) {
    const tr = document.createElement("tr");
    tr.dataset.check = c.name;
    for (const v of [c.name, c.status, fmt(c.score), fmt(c.threshold), c.detail]) {
      const td = document.createElement("td");
      td.textContent = v;
      tr.appendChild(td);
    }
    body.appendChild(tr);
  }
}

const fmt = (x) => (typeof x === "number" && isFinite(x) ? x.toFixed(3) : "–");

function guarded(fn) {
  return async () => {
    try { await fn(); } catch (e) { status(e.message, "error"); }
  };
}

$("enrol-button").onclick = guarded(async () => {
  const u = user();
  const form = new FormData();
  for (let i = 1; i <= ENROL_CLIPS; i++) {
    status(`recording clip ${i} of ${ENROL_CLIPS}…`);
    form.append("videos", await record(SECONDS), `enrol-${i}.webm`);
  }
  form.append("mode", $("enrol-mode-replace").checked ? "replace" : "new");
  status("enrolling…");
  const r = await api("POST", `v1/users/${u}/enroll`, form);
  status(`enrolled ${decodeURIComponent(u)} from ${r.n_clips} clips`, "accepted");
});

$("challenge-button").onclick = guarded(async () => {
  const form = new FormData();
  form.append("user", decodeURIComponent(user()));
  challenge = await api("POST", "v1/challenges", form);
  $("phrase").textContent = `“${challenge.phrase}”`;
  $("phrase").hidden = false;
  $("login-button").disabled = false;
  status(`say the phrase when you press the button (it expires ${new Date(challenge.expires_at).toLocaleTimeString()})`);
});

$("login-button").onclick = guarded(async () => {
  const u = user();
  $("login-button").disabled = true;
  $("result").hidden = true;
  status("recording — say the phrase now…");
  const form = new FormData();
  form.append("video", await record(SECONDS), "login.webm");
  form.append("challenge", challenge.challenge_id);
  challenge = null;
  status("checking…");
  const decision = await api("POST", `v1/users/${u}/verify`, form);
  show(decision);
  status(decision.accepted ? "logged in" : "not logged in", decision.accepted ? "accepted" : "rejected");
});
