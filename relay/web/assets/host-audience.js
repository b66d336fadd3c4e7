/* SPDX-License-Identifier: Apache-2.0 */
/* The host's live audience chart: the same chart as the session report
 * (chart.js), for the broadcast running now, asked for again every few
 * seconds (GET /api/rooms/{room}/audience with the host token). A chart
 * only needs to follow the room at a glance, so polling is enough; the
 * relay makes the series from the attendance log and the page draws it.
 * Hidden until the relay answers (an older relay without the route
 * answers 404), and kept as it was when a poll fails. */
"use strict";

const KK_AUDIENCE_POLL_MS = 4000;

/* Starts following @room's audience into the card #live-chart; @token()
 * gives the host token at each poll; @t is the page's translator, with
 * the keys "host.people", "host.viewers" and "chart.waiting". */
function kkFollowLiveAudience(room, token, t) {
  const card = document.getElementById("live-chart");
  const svg = document.getElementById("live-chart-svg");
  const status = document.getElementById("live-chart-status");
  if (!card || !svg) return;
  const poll = async () => {
    let reply;
    try {
      reply = await kkApi("GET", `/api/rooms/${encodeURIComponent(room)}/audience`, token());
    } catch (error) {
      return;
    }
    if (!reply.ok || !reply.data) return;
    card.hidden = false;
    const data = reply.data;
    if (!data.live) {
      status.textContent = t("chart.waiting");
      status.hidden = false;
      svg.dataset.session = "";
      return;
    }
    status.hidden = true;
    kkDrawAudienceChart(svg, { from: data.live.from, to: data.live.to, points: data.audience },
      { people: t("host.people"), screens: t("host.viewers") }, { width: 400, height: 200 });
    svg.dataset.session = data.session_id;
  };
  poll();
  setInterval(poll, KK_AUDIENCE_POLL_MS);
}
