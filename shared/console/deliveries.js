// The deliveries screen: filter by endpoint, status and time (and by alert, from a link that names one);
// open one for its attempts timeline (status code, error class, response body, duration) and resend it.

import { get, post } from "./api.js";
import { announce, el, messageBox, retentionNote, setMessage, show, table, when } from "./dom.js";

const STATUSES = ["pending", "delivered", "dead", "filtered"];
const PERIODS = [["", "Any time"], ["3600", "Last hour"], ["86400", "Last day"], ["604800", "Last week"]];

export async function deliveriesScreen(id, query) {
  if (id) return deliveryScreen(id);
  const [{ endpoints }, { retention }] = await Promise.all([get("/v1/endpoints"), get("/v1/settings")]);
  const names = new Map(endpoints.map((e) => [e.id, e.name]));
  const endpoint = el("select", { id: "filter-endpoint" }, el("option", { value: "" }, "All endpoints"),
    endpoints.map((e) => el("option", { value: e.id }, e.name)));
  endpoint.value = query.get("endpoint_id") ?? "";
  const status = el("select", { id: "filter-status" }, el("option", { value: "" }, "Any status"),
    STATUSES.map((s) => el("option", { value: s }, s)));
  status.value = query.get("status") ?? "";
  const period = el("select", { id: "filter-time" }, PERIODS.map(([v, t]) => el("option", { value: v }, t)));
  period.value = query.get("within") ?? "";
  const results = el("div", { id: "deliveries", "aria-live": "polite" });
  const alertId = query.get("alert_id");

  async function load() {
    const params = new URLSearchParams();
    if (endpoint.value) params.set("endpoint_id", endpoint.value);
    if (status.value) params.set("status", status.value);
    if (alertId) params.set("alert_id", alertId);
    params.set("limit", "200");
    const { deliveries } = await get(`/v1/deliveries?${params}`);
    const since = period.value ? Date.now() - Number(period.value) * 1000 : 0;
    const shown = deliveries.filter((d) => new Date(d.created_at).getTime() >= since);
    results.replaceChildren(shown.length === 0 ? el("p", {}, "No deliveries match.") :
      table(["Created", "Endpoint", "Type", "Status", "Attempts", ""], shown.map((d) => [
        when(d.created_at),
        names.get(d.endpoint_id) ?? d.endpoint_id,
        d.message_type,
        el("span", { class: "state", "data-status": d.status }, d.status),
        String(d.attempt_count),
        el("a", { href: `#/deliveries/${d.id}`, class: "open-delivery" }, "Attempts and resend"),
      ])));
    announce(`${shown.length} ${shown.length === 1 ? "delivery" : "deliveries"} shown`);
  }
  for (const select of [endpoint, status, period]) select.addEventListener("change", load);
  show(
    el("h2", {}, "Deliveries"),
    alertId ? el("p", { id: "alert-filter" }, `Of alert ${alertId} only.`) : null,
    el("div", { class: "row", role: "search" },
      el("div", {}, el("label", { for: "filter-endpoint" }, "Endpoint"), endpoint),
      el("div", {}, el("label", { for: "filter-status" }, "Status"), status),
      el("div", {}, el("label", { for: "filter-time" }, "Created"), period),
      el("button", { type: "button", id: "refresh", onclick: load }, "Refresh")),
    results,
    el("p", { id: "retention", class: "hint" }, retentionNote(retention)));
  await load();
}

async function deliveryScreen(id) {
  const delivery = await get(`/v1/deliveries/${encodeURIComponent(id)}`);
  const message = messageBox("resend-message");
  const outcome = (a) => a.error_class
    ? `Failed (${a.error_class})${a.status_code ? `: answered ${a.status_code}` : ""}`
    : a.status_code >= 200 && a.status_code < 300 ? `Succeeded: answered ${a.status_code}` : `Failed: answered ${a.status_code}`;
  const timeline = el("ol", { class: "timeline", id: "attempts" }, delivery.attempts.map((a) =>
    el("li", {},
      el("h3", {}, `Attempt ${a.number}${a.run ? ` of resend ${a.run}` : ""}: `, el("span", { class: "state" }, outcome(a))),
      el("dl", { class: "facts" },
        el("dt", {}, "Started"), el("dd", {}, when(a.started_at)),
        el("dt", {}, "Duration"), el("dd", {}, `${a.duration_ms} ms`),
        el("dt", {}, "Status code"), el("dd", {}, a.status_code ?? "none"),
        el("dt", {}, "Error class"), el("dd", {}, a.error_class ?? "none"),
        a.error ? [el("dt", {}, "Error"), el("dd", {}, a.error)] : null),
      a.response_body ? el("pre", {}, a.response_body + (a.response_body_truncated ? "\n[truncated]" : "")) : null)));
  async function resend() {
    try {
      await post(`/v1/deliveries/${encodeURIComponent(id)}/resend`);
      setMessage(message, "ok", "Resend queued. Refresh to follow its attempts.");
    } catch (e) {
      setMessage(message, "error", e.message);
    }
  }
  show(
    el("p", {}, el("a", { href: "#/deliveries" }, "All deliveries")),
    el("h2", {}, `Delivery ${delivery.id}`),
    el("dl", { class: "facts" },
      el("dt", {}, "Status"), el("dd", { id: "delivery-status", class: "state" }, delivery.status),
      el("dt", {}, "Reason"), el("dd", {}, delivery.status_reason ?? "—"),
      delivery.digest_delivery_id ? [el("dt", {}, "Folded into"), el("dd", {},
        el("a", { id: "digest-link", href: `#/deliveries/${delivery.digest_delivery_id}` },
          `the digest ${delivery.digest_delivery_id}`))] : null,
      el("dt", {}, "Endpoint"), el("dd", {}, el("a", { href: `#/endpoints/${delivery.endpoint_id}` }, delivery.endpoint_id)),
      el("dt", {}, "Alert"), el("dd", {}, delivery.alert_id),
      el("dt", {}, "Message type"), el("dd", {}, delivery.message_type),
      el("dt", {}, "Created"), el("dd", {}, when(delivery.created_at))),
    el("div", { class: "actions" },
      el("button", { type: "button", id: "resend", onclick: resend }, "Resend"),
      el("button", { type: "button", onclick: () => deliveryScreen(id) }, "Refresh")),
    message,
    el("h3", {}, `Attempts (${delivery.attempts.length})`),
    delivery.attempts.length ? timeline : el("p", {}, "No attempts yet."));
}
