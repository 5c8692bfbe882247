// The sign-in screen: an API key, checked against the API before it is kept for this tab.

import { ApiFailure, get, signIn, signOut } from "./api.js";
import { el, messageBox, setMessage, show } from "./dom.js";

export function signInScreen(onSignedIn, notice) {
  const key = el("input", { id: "api-key", type: "password", autocomplete: "off", required: true });
  const message = messageBox("sign-in-message");
  const form = el("form", { id: "sign-in", "aria-labelledby": "sign-in-title" },
    el("h2", { id: "sign-in-title" }, "Sign in"),
    el("p", {}, "Use an API key made with ", el("code", {}, "alertwire keys create"),
      ". It is kept in this browser tab only, until you sign out or close the tab."),
    el("label", { for: "api-key" }, "API key"),
    key,
    el("div", { class: "actions" }, el("button", { type: "submit", class: "primary" }, "Sign in")),
    message);
  if (notice) setMessage(message, "error", notice);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    signIn(key.value.trim());
    try {
      await get("/v1/endpoints");
      key.value = "";
      onSignedIn();
    } catch (e) {
      signOut();
      const text = e instanceof ApiFailure && e.status === 401
        ? "That API key was not accepted. Check it and try again."
        : e.message;
      setMessage(message, "error", text);
      key.focus();
    }
  });
  show(form);
  key.focus();
}
