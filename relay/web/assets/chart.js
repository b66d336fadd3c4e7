/* SPDX-License-Identifier: Apache-2.0 */
/* The audience-over-time chart, drawn as SVG by the page itself (no
 * library), shared by the session report (report.js) and the host's live
 * view (host-audience.js). The relay sends the series ready made (GET
 * /api/sessions/{id}/report, GET /api/rooms/{room}/audience): points
 * {at, screens, people}, each count holding from its time until the next
 * point, and the live time {from, to}; this file only places them.
 *
 * Every point is also a <g class="point"> carrying its time and counts
 * (data-at, data-screens, data-people) at the coordinates it is drawn
 * at, so what the chart shows can be checked against the API. */
"use strict";

const KK_SVG = "http://www.w3.org/2000/svg";

function kkSvg(name, attributes, ...children) {
  const node = document.createElementNS(KK_SVG, name);
  for (const [key, value] of Object.entries(attributes || {})) node.setAttribute(key, value);
  for (const child of children) if (child) node.append(child);
  return node;
}

/* Hours and minutes in Norway, whatever the browser's own zone. */
function kkOsloClock(ms) {
  return new Date(ms).toLocaleTimeString("nb-NO", { timeZone: "Europe/Oslo", hour: "2-digit", minute: "2-digit" });
}

/* Round steps for an axis: about @count ticks over @span. */
function kkNiceStep(span, count, steps) {
  const wanted = span / Math.max(count, 1);
  return steps.find((step) => step >= wanted) || steps[steps.length - 1];
}

/**
 * Draws @series into the <svg> @svg (its content is replaced).
 * @series: {from, to (RFC 3339), points: [{at, screens, people}]}
 * @labels: {screens, people, empty, end}: the legend's words, in the page's
 *   language; @end (optional) names the axis's end instead of its clock
 *   time ("now" for a broadcast still on air).
 * @size: the drawing's own units: a narrow column draws fewer of them, so
 *   that its lettering stays readable when scaled down to fit.
 * Returns the number of points drawn.
 */
function kkDrawAudienceChart(svg, series, labels, size = { width: 800, height: 240 }) {
  const { width, height } = size;
  const margin = { left: 40, right: 16, top: 28, bottom: 30 };
  const plotW = width - margin.left - margin.right, plotH = height - margin.top - margin.bottom;
  const from = Date.parse(series.from), to = Math.max(Date.parse(series.to), from + 1000);
  const points = (series.points || []).map((p) => ({ at: Date.parse(p.at), screens: p.screens, people: p.people }));
  const most = Math.max(1, ...points.map((p) => Math.max(p.screens, p.people)));
  const x = (ms) => margin.left + (Math.min(Math.max(ms, from), to) - from) / (to - from) * plotW;
  const y = (count) => margin.top + plotH - count / most * plotH;

  svg.replaceChildren();
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("preserveAspectRatio", "xMidYMid meet");
  svg.classList.add("audience-chart");
  svg.dataset.from = series.from;
  svg.dataset.to = series.to;
  svg.dataset.max = String(most);

  /* Grid and axes: whole numbers up, clock times along. */
  const grid = kkSvg("g", { class: "grid" });
  const countStep = kkNiceStep(most, 5, [1, 2, 5, 10, 20, 25, 50, 100, 200, 500, 1000]);
  for (let c = 0; c <= most; c += countStep) {
    grid.append(kkSvg("line", { x1: margin.left, x2: width - margin.right, y1: y(c), y2: y(c) }),
      kkSvg("text", { x: margin.left - 6, y: y(c) + 4, "text-anchor": "end" }, document.createTextNode(String(c))));
  }
  /* The start and the end are always named, at the ends of the axis;
   * round times between them where they do not crowd those two. */
  const minute = 60000;
  const timeStep = kkNiceStep(to - from, 6, [1, 2, 5, 10, 15, 30, 60, 120, 240].map((m) => m * minute));
  const timeLabel = (ms, anchor, text) => kkSvg("text", { x: x(ms), y: height - 8, "text-anchor": anchor },
    document.createTextNode(text || kkOsloClock(ms)));
  const endLabel = timeLabel(to, "end", labels.end);
  endLabel.classList.add("end");
  grid.append(timeLabel(from, "start"), endLabel);
  for (let ms = Math.ceil(from / timeStep) * timeStep; ms <= to; ms += timeStep) {
    grid.append(kkSvg("line", { class: "tick", x1: x(ms), x2: x(ms), y1: margin.top + plotH, y2: margin.top + plotH + 5 }));
    if (x(ms) - x(from) > 60 && x(to) - x(ms) > 60) grid.append(timeLabel(ms, "middle"));
  }
  grid.append(kkSvg("line", { class: "axis", x1: margin.left, x2: width - margin.right, y1: margin.top + plotH, y2: margin.top + plotH }));
  svg.append(grid);

  /* The two step lines: each count holds until the next point, the last
   * until the end of the live time. */
  for (const key of ["people", "screens"]) {
    let d = "";
    points.forEach((p, i) => {
      const next = i + 1 < points.length ? points[i + 1].at : to;
      d += `${i === 0 ? "M" : "L"}${x(p.at).toFixed(2)},${y(p[key]).toFixed(2)}H${x(next).toFixed(2)}`;
    });
    if (d) svg.append(kkSvg("path", { class: `line ${key}`, d, "data-series": key }));
  }
  const marks = kkSvg("g", { class: "points" });
  for (const p of points) {
    marks.append(kkSvg("g", {
      class: "point", "data-at": new Date(p.at).toISOString().replace(".000Z", "Z"),
      "data-screens": p.screens, "data-people": p.people, "data-x": x(p.at).toFixed(2),
    },
    kkSvg("circle", { class: "people", cx: x(p.at).toFixed(2), cy: y(p.people).toFixed(2), r: 3 }),
    kkSvg("circle", { class: "screens", cx: x(p.at).toFixed(2), cy: y(p.screens).toFixed(2), r: 3 })));
  }
  svg.append(marks);

  /* The legend, in words as well as colours (and the line styles differ
   * too, for a black-and-white print). */
  const legend = kkSvg("g", { class: "legend" });
  [["people", labels.people], ["screens", labels.screens]].forEach(([key, text], i) => {
    const left = margin.left + i * 150;
    legend.append(kkSvg("line", { class: `line ${key}`, x1: left, x2: left + 24, y1: 12, y2: 12 }),
      kkSvg("text", { x: left + 30, y: 16 }, document.createTextNode(text)));
  });
  svg.append(legend);
  if (points.every((p) => p.screens === 0 && p.people === 0) && labels.empty) {
    svg.append(kkSvg("text", { class: "empty", x: margin.left + plotW / 2, y: margin.top + plotH / 2, "text-anchor": "middle" },
      document.createTextNode(labels.empty)));
  }
  svg.setAttribute("role", "img");
  return points.length;
}
