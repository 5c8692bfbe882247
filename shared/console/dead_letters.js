// The dead letters screen: deliveries that used every attempt; select some or all and replay them,
// with progress, through the public replay API.

import { get, post } from "./api.js";
import { announce, el, messageBox, setMessage, show, table, when } from "./dom.js";

/** Ids replayed per request, so progress shows on long lists. */
const BATCH = 50;

export async function deadLettersScreen() {
  const [{ dead_letters: dead }, { endpoints }] = await Promise.all([
    get("/v1/dead-letters?limit=500"), get("/v1/endpoints")]);
  const names = new Map(endpoints.map((e) => [e.id, e.name]));
  const message = messageBox("replay-message");
  const progress = el("progress", { id: "replay-progress", max: "1", value: "0", hidden: true,
    "aria-label": "Replay progress" });
  const boxes = dead.map((d) => el("input", { type: "checkbox", class: "pick", value: d.id,
    "aria-label": `Select delivery ${d.id}` }));
  const all = el("input", { type: "checkbox", id: "select-all" });
  all.addEventListener("change", () => { for (const box of boxes) box.checked = all.checked; });

  async function replay() {
    const ids = boxes.filter((b) => b.checked).map((b) => b.value);
    if (ids.length === 0) { setMessage(message, "error", "Select at least one dead letter to replay."); return; }
    progress.hidden = false;
    progress.max = ids.length;
    let replayed = 0;
    try {
      for (let i = 0; i < ids.length; i += BATCH) {
        const answer = await post("/v1/dead-letters/replay", { ids: ids.slice(i, i + BATCH) });
        replayed += answer.replayed;
        progress.value = Math.min(i + BATCH, ids.length);
        setMessage(message, "ok", `Replaying: ${Math.min(i + BATCH, ids.length)} of ${ids.length} sent.`);
      }
      setMessage(message, "ok", `Replayed ${replayed} of ${ids.length}. Follow them in Deliveries.`);
      announce(`Replayed ${replayed}`);
    } catch (e) {
      setMessage(message, "error", `Replay stopped after ${replayed}: ${e.message}`);
    }
  }

  show(
    el("h2", {}, "Dead letters"),
    dead.length === 0 ? el("p", { id: "no-dead-letters" }, "No dead letters.") : [
      el("label", { class: "inline" }, all, `Select all (${dead.length})`),
      table(["Select", "Failed", "Endpoint", "Type", "Reason", ""], dead.map((d, i) => [
        boxes[i],
        when(d.updated_at),
        names.get(d.endpoint_id) ?? d.endpoint_id,
        d.message_type,
        d.status_reason ?? "—",
        el("a", { href: `#/deliveries/${d.id}` }, "Attempts"),
      ])),
      el("div", { class: "actions" },
        el("button", { type: "button", id: "replay", class: "primary", onclick: replay }, "Replay selected"),
        el("button", { type: "button", onclick: deadLettersScreen }, "Refresh")),
      progress,
    ],
    message);
}
