// The routing screen: "Which endpoints get this alert?" through the route test (POST /v1/routing/test,
// which stores and sends nothing), every endpoint's matchers, the tenant's default endpoint, which gets
// the alerts that no endpoint's routing takes, and the latest of those unrouted alerts.

import { get, post, put } from "./api.js";
import { announce, el, messageBox, setMessage, show, table, when } from "./dom.js";

const SEVERITIES = ["info", "low", "medium", "high", "critical"];
const MESSAGE_TYPES = ["error", "reminder", "ok"];
/** The newest unrouted alerts listed. */
const UNROUTED_SHOWN = 20;

/** What one endpoint would do with the tested alert, in words. */
export function routeText(route) {
  if (route.delivery === "none") {
    if (route.not_matched_because === "not_named") return "Not routed: the alert names other endpoints";
    return `Not routed: ${route.failed_matcher} does not hold`;
  }
  const how = route.default_endpoint ? "Gets it as the default endpoint" : "Gets it";
  return route.delivery === "filtered" ? `${how}, filtered: ${route.filter}` : how;
}

function lines(text) {
  return text.split("\n").map((l) => l.trim()).filter(Boolean);
}

export async function routingScreen() {
  const [{ endpoints }, settings, { alerts: unrouted }] = await Promise.all([
    get("/v1/endpoints"), get("/v1/settings"), get(`/v1/alerts/unrouted?limit=${UNROUTED_SHOWN}`)]);
  const field = (label, control) => el("label", {}, label, control);
  const title = el("input", { id: "route-title", type: "text", value: "Test alert", required: true });
  const severity = el("select", { id: "route-severity" },
    SEVERITIES.map((s) => el("option", { value: s, selected: s === "high" }, s)));
  const messageType = el("select", { id: "route-message-type" },
    MESSAGE_TYPES.map((t) => el("option", { value: t }, t)));
  const tags = el("textarea", { id: "route-tags", rows: "4", placeholder: "team=db\nenv=prod" });
  const named = el("input", { id: "route-endpoints", type: "text", placeholder: "names or ids, comma-separated (optional)" });
  const message = messageBox("route-message");
  const result = el("div", { id: "route-result" });

  async function test(event) {
    event.preventDefault();
    const alert = {
      title: title.value,
      severity: severity.value,
      message_type: messageType.value,
      tags: lines(tags.value),
    };
    const list = named.value.split(",").map((s) => s.trim()).filter(Boolean);
    if (list.length) alert.endpoints = list;
    try {
      const answer = await post("/v1/routing/test", alert);
      setMessage(message, "ok", answer.unrouted
        ? `No endpoint's routing takes this alert${answer.routed_endpoints ? "; the default endpoint gets it" : ": it would be counted as unrouted and sent nowhere"}.`
        : `${answer.routed_endpoints} endpoint${answer.routed_endpoints === 1 ? "" : "s"} would get this alert.`);
      result.replaceChildren(table(["Endpoint", "Matchers", "Result"], answer.endpoints.map((r) => [
        el("a", { href: `#/endpoints/${r.endpoint_id}` }, r.name),
        r.matchers.length ? el("code", { class: "matchers" }, r.matchers.join(", ")) : "Every alert",
        el("span", { class: `route route-${r.delivery}` }, routeText(r)),
      ])));
      announce("Route tested");
    } catch (e) {
      setMessage(message, "error", e.field ? `${e.field}: ${e.message}` : e.message);
      result.replaceChildren();
    }
  }

  const defaultSelect = el("select", { id: "default-endpoint" },
    el("option", { value: "" }, "None: unrouted alerts are only counted"),
    endpoints.map((e) => el("option", { value: e.id, selected: e.id === settings.default_endpoint_id }, e.name)));
  const defaultMessage = messageBox("default-endpoint-message");
  async function saveDefault() {
    try {
      await put("/v1/settings", { operations_endpoint_id: settings.operations_endpoint_id,
        default_endpoint_id: defaultSelect.value || null });
      settings.default_endpoint_id = defaultSelect.value || null;
      setMessage(defaultMessage, "ok", "Saved.");
    } catch (e) {
      setMessage(defaultMessage, "error", e.message);
    }
  }

  show(
    el("h2", {}, "Routing"),
    el("form", { id: "route-test", onsubmit: test },
      el("h3", {}, "Which endpoints get this alert?"),
      field("Title", title),
      field("Severity", severity),
      field("Message type", messageType),
      field("Tags, one per line (name=value tags are labels for matchers)", tags),
      field("Endpoints the alert names", named),
      el("div", { class: "actions" }, el("button", { type: "submit", class: "primary" }, "Test the route"))),
    message,
    result,
    el("h3", {}, "Default endpoint"),
    el("p", {}, "Gets every alert that no endpoint's routing takes, like Alertmanager's root route."),
    field("Default endpoint", defaultSelect),
    el("div", { class: "actions" },
      el("button", { type: "button", id: "save-default-endpoint", onclick: saveDefault }, "Save")),
    defaultMessage,
    el("h3", {}, "Unrouted alerts"),
    unrouted.length === 0
      ? el("p", { id: "no-unrouted" }, "No alert has gone unrouted.")
      : el("div", { id: "unrouted" }, table(["Received", "Title", "Severity", "Tags", "Went to"], unrouted.map((a) => [
        when(a.received_at),
        a.title,
        a.severity,
        a.tags.length ? el("code", {}, a.tags.join(", ")) : "—",
        a.routed_endpoints
          ? el("a", { href: `#/deliveries?alert_id=${encodeURIComponent(a.id)}` }, "The default endpoint")
          : "Nowhere (no default endpoint then)",
      ]))),
  );
}
