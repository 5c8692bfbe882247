// The endpoints screen: every endpoint with the alerts it is routed (its matchers), its state, health and
// circuit breaker, in words.

import { get } from "./api.js";
import { el, show, table, when } from "./dom.js";
import { circuitBadge } from "./endpoint_stats.js";

export function healthText(endpoint) {
  const streak = endpoint.health?.failure_streak ?? 0;
  if (streak === 0) return "Healthy: last attempt succeeded or none yet";
  return `Failing: ${streak} failed attempt${streak === 1 ? "" : "s"} in a row since ${when(endpoint.health.failing_since)}`;
}

export function stateText(endpoint) {
  return endpoint.enabled ? "Enabled" : `Disabled: ${endpoint.disabled_reason || "by a user"}`;
}

export async function endpointsScreen() {
  const { endpoints } = await get("/v1/endpoints");
  const rows = endpoints.map((e) => [
    el("a", { href: `#/endpoints/${e.id}` }, e.name),
    el("code", {}, `${e.method} ${e.url}`),
    e.matchers?.length ? el("code", { class: "matchers" }, e.matchers.join(", ")) : "Every alert",
    el("span", { class: "state" }, stateText(e)),
    healthText(e),
    circuitBadge(e),
    el("a", { href: `#/deliveries?endpoint_id=${encodeURIComponent(e.id)}` }, "Deliveries"),
  ]);
  show(
    el("h2", {}, "Endpoints"),
    el("div", { class: "actions" },
      el("a", { href: "#/endpoints/new", id: "new-endpoint" }, "New endpoint"),
      el("button", { type: "button", id: "refresh", onclick: endpointsScreen }, "Refresh")),
    endpoints.length === 0
      ? el("p", {}, "No endpoints yet.")
      : table(["Name", "Request", "Routed", "State", "Health", "Circuit", "Deliveries"], rows),
  );
}
