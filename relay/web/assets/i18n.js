/* SPDX-License-Identifier: Apache-2.0 */
/* Language for all three pages: Norwegian bokmål unless the browser asks
 * for English first (the first of navigator.languages that is Norwegian
 * or English wins). Pages are written in bokmål; elements carry
 * data-i18n (text), data-i18n-label (aria-label) or data-i18n-placeholder
 * keys, and each page gives its English strings plus the bokmål of the
 * strings it builds at run time. */
"use strict";

const kkEnglish = (() => {
  for (const lang of navigator.languages || [navigator.language || ""]) {
    if (/^(nb|no|nn)\b/i.test(lang)) return false;
    if (/^en\b/i.test(lang)) return true;
  }
  return false;
})();

function kkTranslator(english, bokmal) {
  /* The bokmål of keys the page's HTML carries, for strings set again at
   * run time (a button whose label toggles). */
  const html = {};
  const t = (key, vars) => {
    let text = (kkEnglish ? english[key] : bokmal[key] ?? html[key]) ?? english[key] ?? key;
    for (const [name, value] of Object.entries(vars || {})) text = text.replaceAll(`{${name}}`, value);
    return text;
  };
  t.english = kkEnglish;
  t.translatePage = () => {
    document.documentElement.lang = kkEnglish ? "en" : "nb";
    document.querySelectorAll("[data-i18n]").forEach((el) => {
      html[el.dataset.i18n] ??= el.textContent;
      if (kkEnglish && english[el.dataset.i18n]) el.textContent = english[el.dataset.i18n];
    });
    if (!kkEnglish) return;
    document.querySelectorAll("[data-i18n-label]").forEach((el) => {
      if (english[el.dataset.i18nLabel]) el.setAttribute("aria-label", english[el.dataset.i18nLabel]);
    });
    document.querySelectorAll("[data-i18n-placeholder]").forEach((el) => {
      if (english[el.dataset.i18nPlaceholder]) el.placeholder = english[el.dataset.i18nPlaceholder];
    });
  };
  return t;
}

/* fetch() with a bearer token and JSON in and out. Resolves to
 * {status, ok, data}; data is the parsed JSON body or null. Network
 * failures reject. */
async function kkApi(method, path, token, body) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store",
  });
  let data = null;
  if ((response.headers.get("Content-Type") || "").includes("json")) {
    try { data = await response.json(); } catch (e) { data = null; }
  }
  return { status: response.status, ok: response.ok, data };
}

/* A time from the relay (RFC 3339) as it is read in Norway: in
 * Europe/Oslo whatever the browser's own zone, in the page's language
 * ("tirsdag 4. mars kl. 10:00"). */
function kkOsloTime(iso) {
  return new Date(iso).toLocaleString(kkEnglish ? "en-GB" : "nb-NO", {
    timeZone: "Europe/Oslo", weekday: "long", day: "numeric", month: "long", hour: "2-digit", minute: "2-digit",
  });
}

/* Human-readable bit rate. */
function kkBitrate(bitsPerSecond) {
  if (bitsPerSecond >= 1e6) return `${(bitsPerSecond / 1e6).toFixed(1)} Mbit/s`;
  return `${Math.round(bitsPerSecond / 1e3)} kbit/s`;
}
