// An endpoint's circuit breaker and last 24 hours, shown on its screen: the circuit's state as a badge in
// words (since when, the next probe, the last error), the attempts' success rate and p95 latency, and a
// chart of delivered and failed deliveries per hour drawn as inline SVG.

import { el, when } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";
const CIRCUIT_WORDS = { closed: "Circuit closed", open: "Circuit open", half_open: "Circuit half open" };
/** The chart's drawing units: one hour is this wide, the busiest hour this tall. */
const HOUR_WIDTH = 10;
const CHART_HEIGHT = 60;

/** The circuit's state as a badge: the word says it, the colour only repeats it. */
export function circuitBadge(endpoint) {
  const state = endpoint.health?.circuit?.state ?? "closed";
  return el("span", { class: `badge circuit-${state}`, "data-state": state }, CIRCUIT_WORDS[state] ?? state);
}

/** The circuit's facts: state, since when, the next probe, the last error, a 429 slowdown. */
export function circuitFacts(endpoint) {
  const health = endpoint.health ?? {};
  const circuit = health.circuit ?? { state: "closed" };
  const open = circuit.state !== "closed";
  return el("dl", { class: "facts", id: "circuit" },
    el("dt", {}, "Circuit"), el("dd", {}, circuitBadge(endpoint)),
    open ? [el("dt", {}, "Open since"), el("dd", { id: "circuit-since" }, when(circuit.since))] : null,
    open ? [el("dt", {}, circuit.state === "open" ? "Next probe" : "Probe given up at"),
      el("dd", {}, when(circuit.probe_at))] : null,
    circuit.outage_streak ? [el("dt", {}, "Outages in a row"), el("dd", {}, String(circuit.outage_streak))] : null,
    circuit.last_error ? [el("dt", {}, "Last error"), el("dd", { id: "circuit-last-error" }, circuit.last_error)] : null,
    health.slowed_until && new Date(health.slowed_until) > new Date()
      ? [el("dt", {}, "Slowed by a 429 until"), el("dd", {}, when(health.slowed_until))] : null);
}

/** The figures of `GET /v1/endpoints/{id}/stats` (or the error that kept them away). */
export function statsSection(stats) {
  const section = el("section", { id: "stats", "aria-labelledby": "stats-title" },
    el("h3", { id: "stats-title" }, "Last 24 hours"));
  if (stats instanceof Error) {
    section.append(el("div", { class: "message error", role: "alert" }, `No figures: ${stats.message}`));
    return section;
  }
  const total = (key) => stats.hours.reduce((sum, h) => sum + h[key], 0);
  const rate = stats.success_rate === null ? "no attempts" : `${(stats.success_rate * 100).toFixed(1)} %`;
  const p95 = stats.p95_latency_ms === null ? "no attempts" : `${stats.p95_latency_ms} ms`;
  section.append(
    el("dl", { class: "facts" },
      el("dt", {}, "Success rate"), el("dd", { id: "stats-success-rate" }, rate, ` of ${stats.attempts} attempt${stats.attempts === 1 ? "" : "s"}`),
      el("dt", {}, "p95 latency"), el("dd", { id: "stats-p95" }, p95),
      el("dt", {}, "Deliveries"), el("dd", { id: "stats-totals" },
        `${total("delivered")} delivered, ${total("failed")} failed`,
        stats.capped ? ` (the newest ${stats.deliveries} only)` : "")),
    chart(stats.hours),
    el("p", { class: "chart-axis", "aria-hidden": "true" },
      el("span", {}, when(stats.window_start)), el("span", {}, "now")),
    el("p", { class: "legend" },
      el("span", { class: "swatch delivered" }), "delivered ",
      el("span", { class: "swatch failed" }), "failed (per hour; hover a bar for its figures)"));
  return section;
}

function svg(tag, attributes = {}, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  for (const child of children) element.append(child);
  return element;
}

/** Stacked bars, oldest hour first: delivered at the bottom, failed above; each hour titled in words. */
function chart(hours) {
  const busiest = Math.max(1, ...hours.map((h) => h.delivered + h.failed));
  const scale = (n) => (n / busiest) * CHART_HEIGHT;
  return svg("svg", { id: "stats-chart", role: "img", "aria-labelledby": "stats-chart-title",
    viewBox: `0 0 ${hours.length * HOUR_WIDTH} ${CHART_HEIGHT}`, preserveAspectRatio: "none" },
  svg("title", { id: "stats-chart-title" }, "Delivered and failed deliveries per hour, the last 24 hours"),
  ...hours.map((h, i) => {
    const delivered = scale(h.delivered);
    const failed = scale(h.failed);
    const x = i * HOUR_WIDTH + 1;
    return svg("g", { "data-delivered": h.delivered, "data-failed": h.failed },
      svg("title", {}, `${when(h.start)}: ${h.delivered} delivered, ${h.failed} failed`),
      svg("rect", { class: "delivered", x, y: CHART_HEIGHT - delivered, width: HOUR_WIDTH - 2, height: delivered }),
      svg("rect", { class: "failed", x, y: CHART_HEIGHT - delivered - failed, width: HOUR_WIDTH - 2, height: failed }));
  }));
}
