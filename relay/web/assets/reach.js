/* SPDX-License-Identifier: Apache-2.0 */
/* How a page reaches the relay: the TURN servers it may use (with
 * credentials the relay minted for this participant or host, fetched
 * just before each offer, since they expire), and which path the
 * browser ended up on, in plain words. The relay is an ICE-lite agent
 * on a public address: a browser needs no STUN server to reach it, so
 * only TURN servers are ever listed. */
"use strict";

/* The RTCIceServer list for @room, or [] when the relay offers none or
 * cannot be asked: a direct path may still work, so a failure here never
 * stops the page. */
async function kkIceServers(room, token) {
  try {
    const reply = await kkApi("GET", `/api/rooms/${encodeURIComponent(room)}/ice-servers`, token);
    if (reply.ok && Array.isArray(reply.data?.ice_servers)) return reply.data.ice_servers;
  } catch (e) { /* offline: the offer that follows says so */ }
  return [];
}

/* The selected candidate pair's local side: "udp" or "tcp" straight to
 * the relay, or "turn" with the protocol the browser speaks to the TURN
 * server (relayProtocol: udp, tcp or tls). null before ICE has chosen. */
async function kkConnectionPath(pc) {
  if (!pc) return null;
  const report = await pc.getStats();
  let pair = null;
  report.forEach((s) => {
    if (s.type === "transport" && s.selectedCandidatePairId) pair = report.get(s.selectedCandidatePairId);
  });
  /* Firefox has no transport entry: its selected pair says so itself. */
  if (!pair) report.forEach((s) => { if (s.type === "candidate-pair" && s.selected) pair = s; });
  const local = pair && report.get(pair.localCandidateId);
  if (!local) return null;
  if (local.candidateType === "relay") return { transport: "turn", relayProtocol: local.relayProtocol || "" };
  return { transport: local.protocol === "tcp" ? "tcp" : "udp", relayProtocol: "" };
}

/* Tells the relay how this browser reaches its TURN server (the relay
 * sees only the server's UDP), once per WHEP resource: the coordinator
 * then sees "turn over tls" in the viewer's statistics. */
async function kkReportRelayProtocol(client, path) {
  if (!client?.resource || path?.transport !== "turn" || !path.relayProtocol
    || client.reportedRelayProtocol === client.resource) return;
  const resource = client.resource;
  client.reportedRelayProtocol = resource;   /* one request at a time */
  const again = await fetch(`${resource}/relay-protocol`, {
    method: "PUT",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${client.token}` },
    body: JSON.stringify({ relay_protocol: path.relayProtocol }),
  }).then((r) => r.status === 429 || r.status >= 500, () => true);
  /* Told again on the next statistics tick if it did not arrive; a
   * resource gone (404) or a refusal is not asked again. */
  if (again && client.reportedRelayProtocol === resource) client.reportedRelayProtocol = null;
}

const kkPathTexts = {
  en: {
    udp: "Direct connection (UDP)",
    tcp: "Direct connection over TCP (UDP is blocked here)",
    "turn-udp": "Through the TURN server (UDP)",
    "turn-tcp": "Through the TURN server over TCP",
    "turn-tls": "Through the TURN server over TLS, port 443 (the workplace network allows only that)",
  },
  nb: {
    udp: "Direkte forbindelse (UDP)",
    tcp: "Direkte forbindelse over TCP (UDP er stengt her)",
    "turn-udp": "Via TURN-tjeneren (UDP)",
    "turn-tcp": "Via TURN-tjeneren over TCP",
    "turn-tls": "Via TURN-tjeneren over TLS, port 443 (nettet på arbeidsplassen slipper bare det gjennom)",
  },
};

/* @path from kkConnectionPath() as a sentence in the page's language. */
function kkPathText(path) {
  if (!path) return "";
  const key = path.transport === "turn" ? `turn-${path.relayProtocol || "udp"}` : path.transport;
  const texts = kkEnglish ? kkPathTexts.en : kkPathTexts.nb;
  return texts[key] || texts["turn-udp"];
}
