// The maintenance windows screen: every window of the tenant with whether it is open now, the deliveries
// it holds (pending deliveries to the endpoints of the open windows), a form for a new one (once, or
// weekly in a time zone) and deletion.

import { call, get, post } from "./api.js";
import { announce, el, messageBox, setMessage, show, table, when } from "./dom.js";

const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

export async function maintenanceScreen() {
  const [{ maintenance_windows: windows }, { endpoints }] = await Promise.all([
    get("/v1/maintenance-windows"), get("/v1/endpoints")]);
  const names = new Map(endpoints.map((e) => [e.id, e.name]));
  const message = messageBox("window-message");

  // What the open windows hold: their endpoints' pending deliveries of errors and reminders.
  const open = windows.filter((w) => w.open_until);
  const covered = open.some((w) => !w.endpoint_id)
    ? endpoints.map((e) => e.id) : [...new Set(open.map((w) => w.endpoint_id))];
  const pages = await Promise.all(covered.map((id) =>
    get(`/v1/deliveries?status=pending&endpoint_id=${encodeURIComponent(id)}&limit=50`)));
  const held = pages.flatMap((p) => p.deliveries).filter((d) => d.message_type !== "ok");

  const schedule = (w) => (w.recurring
    ? `${w.recurring.days.join(", ")} ${w.recurring.from}–${w.recurring.to} (${w.recurring.time_zone})`
    : `${when(w.start)} – ${when(w.end)}`);
  async function remove(w) {
    try {
      await call("DELETE", `/v1/maintenance-windows/${encodeURIComponent(w.id)}`);
      announce(`Deleted ${w.name}`);
      await maintenanceScreen();
    } catch (e) {
      setMessage(message, "error", e.message);
    }
  }

  // A new window: once (start and end, local time of this browser) or weekly.
  const field = (id, label, input) => el("div", {}, el("label", { for: id }, label), input);
  const name = el("input", { id: "w-name", type: "text", required: true });
  const endpoint = el("select", { id: "w-endpoint" }, el("option", { value: "" }, "Every endpoint"),
    endpoints.map((e) => el("option", { value: e.id }, `${e.name} (${e.id})`)));
  const kind = el("select", { id: "w-kind" },
    el("option", { value: "once" }, "Once"), el("option", { value: "weekly" }, "Every week"));
  const start = el("input", { id: "w-start", type: "datetime-local" });
  const end = el("input", { id: "w-end", type: "datetime-local" });
  const zone = el("input", { id: "w-zone", type: "text",
    value: Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC" });
  const days = DAYS.map((d) => el("input", { type: "checkbox", id: `w-day-${d}`, value: d }));
  const from = el("input", { id: "w-from", type: "time", value: "22:00" });
  const to = el("input", { id: "w-to", type: "time", value: "02:00" });
  const onceFields = el("div", { class: "row", id: "w-once" },
    field("w-start", "Start", start), field("w-end", "End", end));
  const weeklyFields = el("div", { id: "w-weekly", hidden: true },
    el("div", { class: "row" }, field("w-zone", "Time zone", zone), field("w-from", "From", from),
      field("w-to", "To (past midnight ends the next day)", to)),
    el("fieldset", {}, el("legend", {}, "Days"),
      DAYS.map((d, i) => el("label", { class: "inline" }, days[i], d))));
  kind.addEventListener("change", () => {
    onceFields.hidden = kind.value !== "once";
    weeklyFields.hidden = kind.value === "once";
  });
  async function create(event) {
    event.preventDefault();
    const body = { name: name.value };
    if (endpoint.value) body.endpoint_id = endpoint.value;
    if (kind.value === "once") {
      body.start = start.value ? new Date(start.value).toISOString() : "";
      body.end = end.value ? new Date(end.value).toISOString() : "";
    } else {
      body.recurring = { time_zone: zone.value, days: days.filter((d) => d.checked).map((d) => d.value),
        from: from.value, to: to.value };
    }
    try {
      const made = await post("/v1/maintenance-windows", body);
      announce(`Created ${made.name}`);
      await maintenanceScreen();
    } catch (e) {
      setMessage(message, "error", e.field ? `${e.field}: ${e.message}` : e.message);
    }
  }

  show(
    el("h2", {}, "Maintenance windows"),
    el("p", {}, "While a window is open, errors and reminders to its endpoints wait and oks are sent. "
      + "When it ends, the incidents resolved meanwhile send nothing more; the others are delivered."),
    windows.length === 0 ? el("p", { id: "no-windows" }, "No maintenance windows.")
      : table(["Name", "Endpoint", "When", "Now", ""], windows.map((w) => [
        w.name,
        w.endpoint_id ? (names.get(w.endpoint_id) ?? w.endpoint_id) : "Every endpoint",
        schedule(w),
        w.open_until ? `Open until ${when(w.open_until)}` : "Closed",
        el("button", { type: "button", class: "delete-window", onclick: () => remove(w) }, "Delete"),
      ])),
    el("h3", {}, "Held now"),
    held.length === 0 ? el("p", { id: "nothing-held" }, "Nothing is held.")
      : table(["Accepted", "Endpoint", "Type", ""], held.map((d) => [
        when(d.created_at), names.get(d.endpoint_id) ?? d.endpoint_id, d.message_type,
        el("a", { href: `#/deliveries/${d.id}` }, "Delivery")])),
    el("h3", {}, "New window"),
    el("form", { id: "window-form", onsubmit: create },
      el("div", { class: "row" }, field("w-name", "Name", name), field("w-endpoint", "Endpoint", endpoint),
        field("w-kind", "Repeats", kind)),
      onceFields, weeklyFields,
      el("div", { class: "actions" }, el("button", { type: "submit", id: "create-window", class: "primary" },
        "Create the window"))),
    message);
}
