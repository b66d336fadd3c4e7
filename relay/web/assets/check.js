/* SPDX-License-Identifier: Apache-2.0 */
/* The network check: tries each path from this screen to the relay, in
 * the order the nurse's page would use them (UDP to the media port,
 * ICE-TCP on the same port, TURN over UDP, TURN over TLS on 443), each
 * with a short stream of the relay's test pattern (POST
 * /network-check/whep: no course, no attendance), and measures what
 * arrives: bit rate, loss and round trip. Then it says which paths work,
 * and if the best ones do not, what to ask IT to open. Last, the lecture
 * over plain HTTPS segments (POST /network-check/segments), the nurse's
 * page's last resort: it fetches the segments as that page would and
 * measures the bit rate, the time to the first segment and how far
 * behind live a player would be. */
"use strict";

const t = kkTranslator({
  "check.title": "Kringkast – network check",
  "check.intro": "This page tries each way a lecture can reach this screen, with a test picture from Kringkast. It joins no course and records no attendance. It takes less than a minute.",
  "check.start": "Start the check",
  "check.col.path": "Path", "check.col.result": "Result", "check.col.bitrate": "Bit rate",
  "check.col.loss": "Loss", "check.col.rtt": "Round trip",
  "check.report": "The result as text, for IT",
  "check.copy": "Copy",
  copied: "Copied.",
  running: "Trying {path}…",
  done: "Done.",
  failed: "The relay could not be asked: {error}",
  "path.udp": "UDP to port {port}",
  "path.tcp": "TCP to port {port} (ICE-TCP)",
  "path.turn-udp": "TURN server over UDP",
  "path.turn-tls": "TURN server over TLS, port 443",
  "path.https": "Plain HTTPS (segments, delayed)",
  "https.detail": "first segment after {first} s, {behind} s behind live",
  works: "works", fails: "does not work", "not-offered": "not offered by this relay",
  "verdict.udp": "Everything is fine: lectures will come by the best path (UDP).",
  "verdict.tcp": "Lectures will come over TCP. They work, but on a busy network the picture may stall; ask IT to open {open}.",
  "verdict.turn": "Lectures will come through the TURN server ({path}). They work; for a direct and lighter path, ask IT to open {open}.",
  "verdict.https": "Only plain HTTPS works from here: lectures will come as short segments, about {behind} s behind live. For live lectures, ask IT to open {open}, or at least TCP port 443 to {turn}.",
  "verdict.https-noturn": "Only plain HTTPS works from here: lectures will come as short segments, about {behind} s behind live. For live lectures, ask IT to open {open}.",
  "verdict.none": "No path works from here. Ask IT to open {open}, or at least TCP port 443 to {turn}.",
  "verdict.none-noturn": "No path works from here. Ask IT to open {open}.",
  open: "UDP and TCP port {port} to {addresses}",
  report: "Kringkast network check, {time}\nRelay: {origin}\n\n{rows}\n\n{verdict}\n",
}, {
  copied: "Kopiert.",
  running: "Prøver {path} …",
  done: "Ferdig.",
  failed: "Kunne ikke spørre Kringkast: {error}",
  "path.udp": "UDP til port {port}",
  "path.tcp": "TCP til port {port} (ICE-TCP)",
  "path.turn-udp": "TURN-tjeneren over UDP",
  "path.turn-tls": "TURN-tjeneren over TLS, port 443",
  "path.https": "Vanlig HTTPS (segmenter, forsinket)",
  "https.detail": "første segment etter {first} s, {behind} s etter direkte",
  works: "virker", fails: "virker ikke", "not-offered": "tilbys ikke av denne Kringkast",
  "verdict.udp": "Alt er i orden: forelesningene kommer den beste veien (UDP).",
  "verdict.tcp": "Forelesningene kommer over TCP. Det virker, men på et travelt nett kan bildet stoppe opp; be IT åpne {open}.",
  "verdict.turn": "Forelesningene kommer via TURN-tjeneren ({path}). Det virker; for en direkte og lettere vei, be IT åpne {open}.",
  "verdict.https": "Bare vanlig HTTPS virker herfra: forelesningene kommer som korte segmenter, omtrent {behind} s etter direkte. For direkte forelesninger, be IT åpne {open}, eller i det minste TCP port 443 til {turn}.",
  "verdict.https-noturn": "Bare vanlig HTTPS virker herfra: forelesningene kommer som korte segmenter, omtrent {behind} s etter direkte. For direkte forelesninger, be IT åpne {open}.",
  "verdict.none": "Ingen vei virker herfra. Be IT åpne {open}, eller i det minste TCP port 443 til {turn}.",
  "verdict.none-noturn": "Ingen vei virker herfra. Be IT åpne {open}.",
  open: "UDP og TCP port {port} til {addresses}",
  report: "Kringkast nettverkssjekk, {time}\nKringkast: {origin}\n\n{rows}\n\n{verdict}\n",
});

const $ = (id) => document.getElementById(id);
const CONNECT_MS = 8000;   /* TURN over TLS may need a few seconds */
const MEASURE_MS = 4000;

/* The TURN URLs of one kind (turn: over UDP, or turns:), with the
 * credentials the relay minted for this check. */
function turnServers(servers, tls) {
  const out = [];
  for (const server of servers) {
    const urls = server.urls.filter((url) => tls ? url.startsWith("turns:")
      : url.startsWith("turn:") && !/transport=tcp/.test(url));
    if (urls.length) out.push({ urls, username: server.username, credential: server.credential });
  }
  return out;
}

/* Keeps only the answer's candidates of one transport, so that a path is
 * tried alone. */
function onlyCandidates(sdp, transport) {
  return sdp.split("\r\n").filter((line) => !line.startsWith("a=candidate:")
    || line.split(" ")[2].toLowerCase() === transport).join("\r\n");
}

async function measure(pc) {
  const report = await pc.getStats();
  const out = { bytes: 0, lost: 0, received: 0, rtt: null };
  report.forEach((s) => {
    if (s.type === "inbound-rtp") {
      out.bytes += s.bytesReceived || 0;
      out.lost += Math.max(0, s.packetsLost || 0);
      out.received += s.packetsReceived || 0;
    } else if (s.type === "candidate-pair" && (s.nominated || s.selected) && s.state === "succeeded"
      && s.currentRoundTripTime !== undefined) {
      out.rtt = s.currentRoundTripTime;
    }
  });
  return out;
}

/* One path: a receive-only connection to the test pattern; resolves to
 * {ok, bitrate, loss, rtt}. */
async function tryPath(path) {
  const pc = new RTCPeerConnection({ iceServers: path.iceServers, iceTransportPolicy: path.relay ? "relay" : "all" });
  let resource = null;
  try {
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.addTransceiver("audio", { direction: "recvonly" });
    await pc.setLocalDescription(await pc.createOffer());
    if (path.relay) {
      /* Relayed candidates must be in the offer: the relay learns our
       * addresses from checks, but the browser only checks from the
       * relayed candidates it has gathered. */
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, CONNECT_MS / 2);
        pc.addEventListener("icegatheringstatechange", () => {
          if (pc.iceGatheringState === "complete") { clearTimeout(timer); resolve(); }
        });
      });
    }
    const response = await fetch("/network-check/whep", {
      method: "POST", headers: { "Content-Type": "application/sdp" }, body: pc.localDescription.sdp,
    });
    if (response.status !== 201) {
      let message = `HTTP ${response.status}`;
      try { message = (await response.json()).error || message; } catch (e) { /* not JSON */ }
      throw new Error(message);
    }
    resource = response.headers.get("Location");
    let answer = await response.text();
    if (path.only) answer = onlyCandidates(answer, path.only);
    await pc.setRemoteDescription({ type: "answer", sdp: answer });
    const connected = await new Promise((resolve) => {
      if (pc.connectionState === "connected") return resolve(true);
      const timer = setTimeout(() => resolve(false), CONNECT_MS);
      pc.addEventListener("connectionstatechange", () => {
        if (pc.connectionState === "connected") { clearTimeout(timer); resolve(true); }
        if (pc.connectionState === "failed") { clearTimeout(timer); resolve(false); }
      });
    });
    if (!connected) return { ok: false };
    const first = await measure(pc);
    const start = performance.now();
    await new Promise((resolve) => setTimeout(resolve, MEASURE_MS));
    const last = await measure(pc);
    const seconds = (performance.now() - start) / 1000;
    const lost = last.lost - first.lost;
    const received = last.received - first.received;
    return {
      ok: received > 0,
      bitrate: ((last.bytes - first.bytes) * 8) / seconds,
      loss: lost + received > 0 ? lost / (lost + received) : 0,
      rtt: last.rtt,
    };
  } finally {
    pc.close();
    if (resource) fetch(resource, { method: "DELETE" }).catch(() => {});
  }
}

/* The HTTPS path: a checker of the test pattern's segments, fetched as
 * the nurse's page fetches a lecture's (the playlist once per target
 * duration, from the newest keyframe segment on, each new one once: the
 * pattern has a keyframe every second, so that is the newest one, as a
 * lecture's page gets when it asks for a start point); resolves to {ok,
 * bitrate, first, behind}: the media's bit rate, seconds from asking to
 * the first segment, and how far behind live a player would be (the
 * relay's live edge when each segment arrived, less the segment's start). */
/* fetch(), waiting as a 429's Retry-After says (at most 5 s, 3 times)
 * before asking again, as the nurse's page does. */
async function fetchPolitely(url, options) {
  for (let tries = 0; ; tries++) {
    const reply = await fetch(url, options);
    if (reply.status !== 429 || tries >= 3) return reply;
    const wait = Math.min(Number(reply.headers.get("Retry-After")) || 1, 5);
    await new Promise((resolve) => setTimeout(resolve, wait * 1000));
  }
}

async function tryHttps() {
  const started = performance.now();
  const response = await fetch("/network-check/segments", { method: "POST" });
  if (response.status !== 201) {
    let message = `HTTP ${response.status}`;
    try { message = (await response.json()).error || message; } catch (e) { /* not JSON */ }
    throw new Error(message);
  }
  const checker = await response.json();
  const seen = new Set();
  let initFetched = false;
  let firstAt = null;
  let bytes = 0;
  let media = 0;
  const behind = [];
  for (;;) {
    const now = performance.now();
    if (firstAt === null ? now - started > CONNECT_MS : now - firstAt > MEASURE_MS) break;
    const asked = performance.now();
    const reply = await fetchPolitely(checker.playlist, { cache: "no-store" });
    if (!reply.ok) break;
    const playlist = await reply.json();
    const listedAt = performance.now();
    if (playlist.init && !initFetched) {
      const init = await fetchPolitely(playlist.init);
      await init.arrayBuffer();
      initFetched = init.ok;
    }
    /* A player starts at the newest keyframe segment, not at the oldest kept. */
    const newestStart = playlist.segments.map((s) => s.keyframe).lastIndexOf(true);
    const segments = seen.size ? playlist.segments : playlist.segments.slice(newestStart >= 0 ? newestStart : 0);
    for (const segment of segments) {
      if (seen.has(segment.seq)) continue;
      seen.add(segment.seq);
      const segmentReply = await fetchPolitely(segment.url);
      const body = await segmentReply.arrayBuffer();
      /* An error's body is no media: a segment trimmed meanwhile (404) is
       * left out of the figures. */
      if (!segmentReply.ok) continue;
      const arrived = performance.now();
      if (firstAt === null) firstAt = arrived;
      bytes += body.byteLength;
      media += segment.duration;
      /* The live edge moves on with the clock from when it was listed
       * (half the request's time is the best guess of when that was). */
      const liveEdge = playlist.live_edge + (arrived - (asked + listedAt) / 2) / 1000;
      behind.push(liveEdge - segment.start);
    }
    await new Promise((resolve) => setTimeout(resolve, (playlist.target_duration || 1) * 1000));
  }
  if (firstAt === null || behind.length < 2) return { ok: false };
  return {
    ok: true,
    bitrate: (bytes * 8) / media,
    first: (firstAt - started) / 1000,
    behind: behind.reduce((a, b) => a + b, 0) / behind.length,
  };
}

function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text;
  row.append(td);
}

async function runCheck() {
  $("start").disabled = true;
  $("results").hidden = false;
  $("verdict").hidden = true;
  $("report-card").hidden = true;
  const body = $("results").querySelector("tbody");
  body.textContent = "";
  let info;
  try {
    const reply = await kkApi("GET", "/api/network-check");
    if (!reply.ok) throw new Error(reply.data?.error || `HTTP ${reply.status}`);
    info = reply.data;
  } catch (error) {
    $("state").textContent = t("failed", { error: error.message });
    $("start").disabled = false;
    return;
  }
  const port = info.media_port;
  const paths = [
    { id: "udp", iceServers: [], only: "udp" },
    { id: "tcp", iceServers: [], only: "tcp" },
    { id: "turn-udp", iceServers: turnServers(info.ice_servers, false), relay: true },
    { id: "turn-tls", iceServers: turnServers(info.ice_servers, true), relay: true },
    { id: "https", https: true },
  ];
  const results = {};
  const lines = [];
  for (const path of paths) {
    const name = t(`path.${path.id}`, { port });
    const row = document.createElement("tr");
    row.dataset.path = path.id;
    body.append(row);
    let result;
    if (path.relay && !path.iceServers.length) {
      result = { ok: false, offered: false };
    } else {
      $("state").textContent = t("running", { path: name });
      try { result = await (path.https ? tryHttps() : tryPath(path)); } catch (error) { result = { ok: false, error: error.message }; }
      result.offered = true;
    }
    results[path.id] = result;
    row.dataset.result = result.ok ? "works" : result.offered ? "fails" : "not-offered";
    const word = t(row.dataset.result);
    cell(row, name);
    if (path.https) {
      const detail = result.ok ? t("https.detail", { first: result.first.toFixed(1), behind: result.behind.toFixed(1) }) : "";
      cell(row, result.ok ? `${word} (${detail})` : word);
      cell(row, result.ok ? kkBitrate(result.bitrate) : "");
      cell(row, "");
      cell(row, "");
      lines.push(`${name}: ${word}${result.ok ? ` (${kkBitrate(result.bitrate)}, ${detail})` : ""}`);
      continue;
    }
    cell(row, word);
    cell(row, result.ok ? kkBitrate(result.bitrate) : "");
    cell(row, result.ok ? `${(result.loss * 100).toFixed(1)} %` : "");
    cell(row, result.ok && result.rtt !== null ? `${Math.round(result.rtt * 1000)} ms` : "");
    lines.push(`${name}: ${word}${result.ok ? ` (${kkBitrate(result.bitrate)}, ${(result.loss * 100).toFixed(1)} %`
      + `${result.rtt !== null ? `, ${Math.round(result.rtt * 1000)} ms` : ""})` : ""}`);
  }
  const open = t("open", { port, addresses: info.addresses.join(", ") });
  const turnHosts = [...new Set(info.ice_servers.flatMap((s) => s.urls)
    .filter((url) => url.startsWith("turns:")).map((url) => url.replace(/^turns:/, "").replace(/\?.*$/, "")))];
  let best;
  let verdict;
  if (results.udp.ok) {
    best = "udp"; verdict = t("verdict.udp");
  } else if (results.tcp.ok) {
    best = "tcp"; verdict = t("verdict.tcp", { open });
  } else if (results["turn-udp"].ok || results["turn-tls"].ok) {
    best = results["turn-udp"].ok ? "turn-udp" : "turn-tls";
    verdict = t("verdict.turn", { path: t(`path.${best}`, { port }), open });
  } else if (results.https.ok) {
    best = "https";
    const behind = results.https.behind.toFixed(1);
    verdict = turnHosts.length ? t("verdict.https", { behind, open, turn: turnHosts.join(", ") })
      : t("verdict.https-noturn", { behind, open });
  } else {
    best = "none";
    verdict = turnHosts.length ? t("verdict.none", { open, turn: turnHosts.join(", ") })
      : t("verdict.none-noturn", { open });
  }
  $("verdict").textContent = verdict;
  $("verdict").dataset.best = best;
  $("verdict").hidden = false;
  $("report").value = t("report", {
    time: new Date().toISOString().replace("T", " ").slice(0, 16) + " UTC",
    origin: location.origin, rows: lines.join("\n"), verdict,
  });
  $("report-card").hidden = false;
  $("state").textContent = t("done");
  $("start").disabled = false;
  window.kringkastCheck = { best, results };   /* read by the end-to-end tests */
}

$("start").addEventListener("click", runCheck);
$("copy").addEventListener("click", async () => {
  $("report").select();
  try { await navigator.clipboard.writeText($("report").value); } catch (e) { document.execCommand("copy"); }
  $("state").textContent = t("copied");
});
t.translatePage();
