// The console's entry: signs in, then shows the screen the address's fragment names
// (#/endpoints, #/endpoints/new, #/endpoints/<id>, #/routing, #/deliveries, #/dead-letters,
// #/maintenance).

import { ApiFailure, signOut, signedIn } from "./api.js";
import { deadLettersScreen } from "./dead_letters.js";
import { deliveriesScreen } from "./deliveries.js";
import { announce, el, show } from "./dom.js";
import { endpointEditor } from "./endpoint_editor.js";
import { endpointsScreen } from "./endpoints.js";
import { maintenanceScreen } from "./maintenance.js";
import { routingScreen } from "./routing.js";
import { signInScreen } from "./sign_in.js";

const nav = document.getElementById("nav");

async function route() {
  announce("");
  if (!signedIn()) {
    nav.hidden = true;
    signInScreen(() => { location.hash = "#/endpoints"; route(); });
    return;
  }
  nav.hidden = false;
  const [path, search] = (location.hash.replace(/^#/, "") || "/endpoints").split("?");
  const [, screen, id] = path.split("/");
  for (const link of nav.querySelectorAll("a")) {
    link.toggleAttribute("aria-current", link.getAttribute("href") === `#/${screen}`);
    if (link.hasAttribute("aria-current")) link.setAttribute("aria-current", "page");
  }
  try {
    if (screen === "endpoints" && id) await endpointEditor(id === "new" ? null : id);
    else if (screen === "routing") await routingScreen();
    else if (screen === "deliveries") await deliveriesScreen(id, new URLSearchParams(search));
    else if (screen === "dead-letters") await deadLettersScreen();
    else if (screen === "maintenance") await maintenanceScreen();
    else await endpointsScreen();
  } catch (e) {
    if (e instanceof ApiFailure && e.status === 401) {
      nav.hidden = true;
      signInScreen(() => route(), "Your API key is no longer accepted; sign in again.");
      return;
    }
    show(el("div", { class: "message error", role: "alert" }, e.message));
  }
}

document.getElementById("sign-out").addEventListener("click", () => {
  signOut();
  location.hash = "";
  route();
});
window.addEventListener("hashchange", route);
route();
