/* SPDX-License-Identifier: Apache-2.0 */
/* The nurse's picture quality on the watch page: what the relay sends this
 * screen (full picture, reduced picture or sound only, in plain words) and
 * her choice of automatic, best picture, save data or sound only. The
 * choice is kept in this browser (per screen) and sent to the relay each
 * time the page connects, with its offer (the WHEP URL's query, from
 * kkQualityWhepUrl (url)), with the layer the screen had last when that
 * was the light one, so that the first picture is already the chosen one;
 * a change of mind later is a PATCH of the WHEP resource. What the
 * screen gets is read from the resource's statistics every few seconds.
 * watch.js calls kkQualityConnected (client) once a WHEP client has
 * started, and kkQualityOnSegments () when the page plays HTTPS segments,
 * where the relay sends one picture to everyone and the choice would
 * change nothing. */
"use strict";

const kkQualityT = kkTranslator({
  "quality.choice": "Picture",
  "quality.auto": "Automatic",
  "quality.best": "Best picture",
  "quality.save-data": "Save data",
  "quality.sound-only": "Sound only",
  "layer.full": "Full picture",
  "layer.light": "Reduced picture",
  "layer.audio-only": "Sound only",
}, {
  "quality.auto": "Automatisk",
  "quality.best": "Beste bilde",
  "quality.save-data": "Spar data",
  "quality.sound-only": "Bare lyd",
  "layer.full": "Fullt bilde",
  "layer.light": "Redusert bilde",
  "layer.audio-only": "Bare lyd",
});

const kkQualityKey = "kringkast.quality";
/* The layer this screen had last: one that had the light layer starts on
 * it next time (the relay moves it up when its link proves able). */
const kkLayerKey = "kringkast.layer";
const kkQualities = ["auto", "best", "save-data", "sound-only"];
let kkQualityClient = null;
let kkQualityTimer = null;

function kkQualityChosen() {
  const stored = localStorage.getItem(kkQualityKey);
  return kkQualities.includes(stored) ? stored : "auto";
}

async function kkQualityRequest(client, method, body) {
  if (!client.resource) return null;
  const response = await fetch(client.resource, {
    method,
    headers: { Authorization: `Bearer ${client.token}`,
      ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return response.ok ? response.json() : null;
}

async function kkQualitySend(quality) {
  const client = kkQualityClient;
  if (client) await kkQualityRequest(client, "PATCH", { quality }).catch(() => {});
}

async function kkQualityShowLayer() {
  const client = kkQualityClient;
  const note = document.getElementById("layer");
  if (!client || !client.resource) { note.textContent = ""; return; }
  const stats = await kkQualityRequest(client, "GET").catch(() => null);
  if (client !== kkQualityClient || !stats) return;
  note.textContent = stats.connected ? kkQualityT(`layer.${stats.layer}`) : "";
  note.dataset.layer = stats.layer;
  if (stats.connected && (stats.layer === "full" || stats.layer === "light")) {
    localStorage.setItem(kkLayerKey, stats.layer);
  }
  window.kringkastLayer = stats;   /* read by the end-to-end tests */
}

/* Shows or hides the choice and the layer note together. */
function kkQualityShowChoice(shown) {
  for (const id of ["quality-choice", "layer"]) document.getElementById(id).hidden = !shown;
  document.querySelector('label[for="quality-choice"]').hidden = !shown;
}

/* The page plays HTTPS segments: no WHEP resource to send a choice to. */
function kkQualityOnSegments() {
  kkQualityClient = null;
  clearInterval(kkQualityTimer);
  kkQualityShowChoice(false);
}

/* The WHEP URL @url with the choice kept for this screen, for a new
 * connection's offer: nothing when it is automatic and the screen had the
 * full picture last (the relay's default). */
function kkQualityWhepUrl(url) {
  const params = new URLSearchParams();
  const start = localStorage.getItem(kkLayerKey) === "light" ? "light" : null;
  if (kkQualityChosen() !== "auto" || start) params.set("quality", kkQualityChosen());
  if (start) params.set("start", start);
  const query = params.toString();
  return query ? `${url}?${query}` : url;
}

/* A new WHEP client (a new connection to the relay, made with the URL
 * kkQualityWhepUrl () gave): its layer is shown from now on. */
function kkQualityConnected(client) {
  kkQualityClient = client;
  kkQualityShowChoice(true);
  clearInterval(kkQualityTimer);
  kkQualityTimer = setInterval(kkQualityShowLayer, 4000);
  setTimeout(kkQualityShowLayer, 1500);
}

(() => {
  const select = document.getElementById("quality-choice");
  kkQualityT.translatePage();
  for (const option of select.options) option.textContent = kkQualityT(`quality.${option.value}`);
  select.value = kkQualityChosen();
  select.addEventListener("change", () => {
    localStorage.setItem(kkQualityKey, select.value);
    kkQualitySend(select.value);
    setTimeout(kkQualityShowLayer, 1500);
  });
})();
