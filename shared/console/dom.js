// Builds the console's DOM: elements from a tag, attributes and children (text is always set as text,
// never parsed as HTML), the shared status line, and the way times are shown.

/** `el("button", {type: "button", onclick: f}, "Save")`: `on…` attributes become listeners. */
export function el(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "value") element.value = value;
    else if (name === "checked") element.checked = Boolean(value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** Replaces the screen's content and moves focus to it (for keyboard and screen-reader users). */
export function show(...children) {
  const view = document.getElementById("view");
  view.replaceChildren(...children.flat());
  view.focus();
}

/** The polite status line under the header. */
export function announce(text) {
  document.getElementById("status").textContent = text;
}

/** A message box: `kind` is "error" or "ok"; the text says what happened, the border only repeats it. */
export function messageBox(id) {
  return el("div", { id, class: "message", role: "alert" });
}

export function setMessage(box, kind, text) {
  box.className = `message ${text ? kind : ""}`;
  box.textContent = text || "";
}

export function when(time) {
  if (!time) return "—";
  const date = new Date(time);
  return Number.isNaN(date.getTime()) ? String(time) : date.toLocaleString();
}

/** A length of time in seconds as people say it: "30 days", "12 hours", "90 seconds". */
export function span(seconds) {
  for (const [unit, size] of [["day", 86400], ["hour", 3600], ["minute", 60]]) {
    if (seconds >= size && seconds % size === 0) {
      const n = seconds / size;
      return `${n} ${unit}${n === 1 ? "" : "s"}`;
    }
  }
  return `${seconds} second${seconds === 1 ? "" : "s"}`;
}

/** What the service's retention keeps, in one sentence. */
export function retentionNote({ history_seconds: history, dead_letter_seconds: dead }) {
  const deadLetters = dead == null ? "until they are replayed" : `for ${span(dead)} unless replayed`;
  return `Finished alerts and deliveries are kept for ${span(history)}, then deleted; ` +
    `pending deliveries until they finish; dead letters ${deadLetters}.`;
}

/** A table whose cells carry their column name, so a narrow screen can show each row as a card. */
export function table(columns, rows) {
  return el("table", {},
    el("thead", {}, el("tr", {}, columns.map((c) => el("th", { scope: "col" }, c)))),
    el("tbody", {}, rows.map((cells) =>
      el("tr", {}, cells.map((cell, i) => el("td", { "data-label": columns[i] }, cell))))));
}
