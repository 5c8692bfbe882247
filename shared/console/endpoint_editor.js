// The endpoint editor: every field of an endpoint, the template checked by the API as you type (errors
// with line and column), the variable catalogue to insert from, presets, delivery limits, signing secret,
// OAuth2 client credentials, mTLS and trusted CAs, and "Run the test" before saving (the exact request
// sent and the endpoint's answer); for a saved endpoint, its circuit breaker and last 24 hours above the
// form.

import { ApiFailure, get, post, put } from "./api.js";
import { announce, el, messageBox, setMessage, show } from "./dom.js";
import { circuitFacts, statsSection } from "./endpoint_stats.js";
import { healthText, stateText } from "./endpoints.js";

const MASK = "********";
const SECRET_MASK = "whsec_********";
const TYPES = [["error", "Error"], ["reminder", "Reminder"], ["ok", "Ok"]];
const SEVERITIES = ["info", "low", "medium", "high", "critical"];
const METHODS = ["POST", "PUT", "PATCH", "GET", "DELETE"];

export async function endpointEditor(id) {
  const [catalogue, saved, stats, others] = await Promise.all([
    get("/v1/catalogue"),
    id ? get(`/v1/endpoints/${encodeURIComponent(id)}`) : null,
    // The figures are a view: without them the editor still opens, saying why they are missing.
    id ? get(`/v1/endpoints/${encodeURIComponent(id)}/stats`).catch((e) => e) : null,
    get("/v1/endpoints"),
  ]);
  const endpoint = saved ?? { method: "POST", content_type: "application/json", body: catalogue.default_body,
    min_severity: "info", headers: {}, message_types: { error: {}, reminder: {}, ok: {} }, enabled: true };
  let preset = null;

  const field = (name, label, input) => [el("label", { for: `f-${name}` }, label), input];
  const name = el("input", { id: "f-name", type: "text", value: endpoint.name ?? "", required: true });
  const url = el("input", { id: "f-url", type: "text", value: endpoint.url ?? "", required: true,
    inputmode: "url", placeholder: "https://…" });
  const method = el("select", { id: "f-method" }, METHODS.map((m) => el("option", { value: m }, m)));
  method.value = endpoint.method;
  const contentType = el("input", { id: "f-content-type", type: "text", value: endpoint.content_type });
  const severity = el("select", { id: "f-min-severity" },
    SEVERITIES.map((s) => el("option", { value: s }, s)));
  severity.value = endpoint.min_severity;
  const enabled = el("input", { id: "f-enabled", type: "checkbox", checked: endpoint.enabled });
  // One Alertmanager matcher per line; all must hold for an alert to be routed here.
  const matchers = el("textarea", { id: "f-matchers", spellcheck: "false", rows: 3,
    placeholder: 'team="db"\nenv=~"prod|staging"' });
  matchers.value = (endpoint.matchers ?? []).join("\n");
  // Values taken from the answer to an incident's error, one per line as `name = source`.
  const captures = el("textarea", { id: "f-captures", spellcheck: "false", rows: 2,
    placeholder: "ticket_id = $.id" });
  const showCaptures = (specs) => {
    captures.value = Object.entries(specs ?? {}).map(([n, source]) => `${n} = ${source}`).join("\n");
  };
  showCaptures(endpoint.captures);
  const captureMissing = el("select", { id: "f-capture-missing" },
    el("option", { value: "send_without" }, "Send it, the value empty"),
    el("option", { value: "skip" }, "Skip it (filtered)"));
  captureMissing.value = endpoint.capture_missing ?? "send_without";
  // During a storm, the errors past the first `after` of a window go as one digest when it ends.
  const digestOn = el("input", { id: "f-digest-on", type: "checkbox", checked: Boolean(endpoint.digest) });
  const digestAfter = el("input", { id: "f-digest-after", type: "number", inputmode: "numeric",
    value: endpoint.digest?.after ?? 20 });
  const digestWindow = el("input", { id: "f-digest-window", type: "number", inputmode: "numeric",
    value: endpoint.digest?.window_seconds ?? 60 });
  const digestBody = el("textarea", { id: "f-digest-body", spellcheck: "false", rows: 6,
    placeholder: "Empty: a JSON summary, or the preset's digest" });
  digestBody.value = endpoint.digest?.body ?? "";
  // Fields the API checks on their own: a 422 naming one shows under it (see `showFieldError`).
  const fieldErrors = new Map();
  const checkedField = (apiName, id, label, input, hint) => {
    const error = el("p", { id: `${id}-error`, class: "field-error", "aria-live": "polite" });
    input.setAttribute("aria-describedby", `${id}-hint ${id}-error`);
    fieldErrors.set(apiName, { input, error });
    return el("div", {}, el("label", { for: id }, label), input,
      el("p", { id: `${id}-hint`, class: "hint" }, hint), error);
  };
  const maxInFlight = el("input", { id: "f-max-in-flight", type: "number", inputmode: "numeric",
    value: endpoint.max_in_flight ?? "" });
  const rateLimit = el("input", { id: "f-rate-limit", type: "number", inputmode: "decimal", step: "any",
    value: endpoint.rate_limit_per_second ?? "" });
  // The tenant's other endpoints, any of which may take this one's dead deliveries.
  const fallback = el("select", { id: "f-fallback" }, el("option", { value: "" }, "None"),
    others.endpoints.filter((e) => e.id !== id)
      .map((e) => el("option", { value: e.id }, `${e.name} (${e.id})`)));
  fallback.value = endpoint.fallback_endpoint_id ?? "";
  const body = el("textarea", { id: "f-body", spellcheck: "false", "aria-describedby": "template-error" });
  body.value = endpoint.body ?? "";
  const templateError = messageBox("template-error");

  // Presets fill the fields in the service's format; the preset name is sent too, so a credential
  // given as the verification token lands where the service wants it.
  const presetPicker = el("select", { id: "f-preset" }, el("option", { value: "" }, "None"),
    catalogue.presets.map((p) => el("option", { value: p.name }, p.title)));
  presetPicker.addEventListener("change", () => {
    const chosen = catalogue.presets.find((p) => p.name === presetPicker.value);
    preset = chosen ? chosen.name : null;
    if (!chosen) return;
    const f = chosen.fields;
    if (f.method) method.value = f.method;
    if (f.url) url.value = f.url;
    if (f.content_type) contentType.value = f.content_type;
    if (f.rate_limit_per_second !== undefined) rateLimit.value = f.rate_limit_per_second;
    if (f.body) body.value = f.body;
    if (f.captures) showCaptures(f.captures);
    for (const [type] of TYPES) {
      overrides[type].body.value = f.message_types?.[type]?.body ?? "";
    }
    announce(`${chosen.title} preset applied`);
    scheduleValidation();
  });

  // Headers: one row each; secret values come back masked and are kept unless retyped.
  const headerRows = el("div", { id: "headers" });
  const addHeader = (headerName = "", value = "", secret = false) => {
    const n = headerRows.children.length;
    const row = el("div", { class: "row header-row" },
      el("div", {}, el("label", { for: `h-name-${n}` }, "Header name"),
        el("input", { id: `h-name-${n}`, type: "text", value: headerName, class: "h-name" })),
      el("div", {}, el("label", { for: `h-value-${n}` }, "Value"),
        el("input", { id: `h-value-${n}`, type: secret ? "password" : "text", value, class: "h-value" })),
      el("label", { class: "inline" },
        el("input", { type: "checkbox", class: "h-secret", checked: secret }), "Secret"),
      el("button", { type: "button", onclick: () => { row.remove(); scheduleValidation(); } }, "Remove"));
    headerRows.append(row);
  };
  for (const [headerName, spec] of Object.entries(endpoint.headers ?? {})) {
    addHeader(headerName, spec.value, spec.secret);
  }

  // Per message type: on or off, and a body of its own (empty: the main body).
  const overrides = {};
  const tabs = el("div", { role: "tablist", "aria-label": "Message types" });
  const panels = [];
  for (const [type, title] of TYPES) {
    const route = endpoint.message_types?.[type];
    const on = el("input", { id: `t-${type}-on`, type: "checkbox", checked: route !== null });
    const typeBody = el("textarea", { id: `t-${type}-body`, spellcheck: "false" });
    typeBody.value = route?.body ?? "";
    overrides[type] = { on, body: typeBody, rest: route ?? {} };
    const tab = el("button", { type: "button", role: "tab", id: `tab-${type}`,
      "aria-controls": `panel-${type}`, "aria-selected": type === "error" ? "true" : "false",
      tabindex: type === "error" ? "0" : "-1" }, title);
    const panel = el("div", { role: "tabpanel", id: `panel-${type}`, "aria-labelledby": `tab-${type}`,
      hidden: type !== "error" },
      el("label", { class: "inline" }, on, `Send ${title} messages`),
      el("label", { for: `t-${type}-body` }, `Body for ${title} messages (empty: the body above)`),
      typeBody);
    tab.addEventListener("click", () => selectTab(type));
    tab.addEventListener("keydown", (event) => {
      const i = TYPES.findIndex(([t]) => t === type);
      const step = { ArrowRight: 1, ArrowLeft: TYPES.length - 1 }[event.key];
      if (step) { const next = TYPES[(i + step) % TYPES.length][0]; selectTab(next); document.getElementById(`tab-${next}`).focus(); }
    });
    tabs.append(tab);
    panels.push(panel);
  }
  function selectTab(type) {
    for (const [t] of TYPES) {
      const selected = t === type;
      document.getElementById(`tab-${t}`).setAttribute("aria-selected", String(selected));
      document.getElementById(`tab-${t}`).tabIndex = selected ? 0 : -1;
      document.getElementById(`panel-${t}`).hidden = !selected;
    }
  }

  // Signing secret and verification token: stored values are masked and kept unless changed.
  const secretChoice = el("select", { id: "f-secret" },
    saved?.secret ? el("option", { value: "keep" }, "Keep the current secret") : null,
    el("option", { value: "none" }, "Do not sign"),
    el("option", { value: "generate" }, "Generate a new secret"));
  secretChoice.value = saved?.secret ? "keep" : "generate";
  const token = el("input", { id: "f-token", type: "password", autocomplete: "off",
    value: saved?.verification_token ?? "" });
  const secretShown = el("div", { id: "secret-once", "aria-live": "polite" });

  // OAuth2 client credentials: alertwire fetches a bearer token and sends it as Authorization. The stored
  // client secret comes back masked and is kept unless retyped (or the token URL changes).
  const savedOAuth = (endpoint.auth ?? []).find((a) => a.type === "oauth2_client_credentials");
  const oauthOn = el("input", { id: "f-oauth", type: "checkbox", checked: Boolean(savedOAuth) });
  const oauthInput = (key, type = "text") => el("input", { id: `f-oauth-${key.replaceAll("_", "-")}`, type,
    autocomplete: "off", value: savedOAuth?.[key] ?? "" });
  const oauth = { token_url: oauthInput("token_url"), client_id: oauthInput("client_id"),
    client_secret: oauthInput("client_secret", "password"), scope: oauthInput("scope"),
    audience: oauthInput("audience") };
  oauth.token_url.setAttribute("inputmode", "url");
  const clientAuth = el("select", { id: "f-oauth-client-auth" },
    el("option", { value: "basic" }, "HTTP Basic"), el("option", { value: "body" }, "In the form body"));
  clientAuth.value = savedOAuth?.client_auth ?? "basic";
  const oauthFields = el("div", { id: "oauth-fields", hidden: !savedOAuth },
    el("div", { class: "row" },
      checkedField("auth.token_url", "f-oauth-token-url", "Token URL", oauth.token_url,
        "The identity provider's token endpoint; the same address rules as the URL."),
      checkedField("auth.client_id", "f-oauth-client-id", "Client ID", oauth.client_id,
        "As registered with the identity provider.")),
    el("div", { class: "row" },
      checkedField("auth.client_secret", "f-oauth-client-secret", "Client secret", oauth.client_secret,
        "Stored encrypted, never shown again."),
      checkedField("auth.client_auth", "f-oauth-client-auth", "Client authentication", clientAuth,
        "How the ID and secret reach the token URL.")),
    el("div", { class: "row" },
      checkedField("auth.scope", "f-oauth-scope", "Scope", oauth.scope, "Optional."),
      checkedField("auth.audience", "f-oauth-audience", "Audience", oauth.audience, "Optional (Auth0 and others).")));
  oauthOn.addEventListener("change", () => { oauthFields.hidden = !oauthOn.checked; scheduleValidation(); });
  // mTLS: a client certificate and its key (the stored key comes back masked and is kept unless
  // replaced), and the CAs the server is verified against, for servers behind a private CA.
  const savedMtls = (endpoint.auth ?? []).find((a) => a.type === "mtls");
  const mtlsOn = el("input", { id: "f-mtls", type: "checkbox", checked: Boolean(savedMtls) });
  const pemArea = (id, value) => {
    const area = el("textarea", { id, spellcheck: "false", rows: 4, class: "pem",
      placeholder: "-----BEGIN …-----" });
    area.value = value ?? "";
    return area;
  };
  const certificatePem = pemArea("f-mtls-certificate", savedMtls?.certificate_pem);
  // A textarea, as a password field would drop the PEM's line breaks; the stored key is only ever shown
  // as the mask.
  const privateKeyPem = pemArea("f-mtls-key", savedMtls?.private_key_pem);
  const caPem = pemArea("f-ca-pem", endpoint.ca_pem);
  const mtlsFields = el("div", { id: "mtls-fields", hidden: !savedMtls },
    checkedField("auth.certificate_pem", "f-mtls-certificate", "Client certificate (PEM)", certificatePem,
      savedMtls ? `Expires ${new Date(savedMtls.not_after).toISOString().slice(0, 10)}.` :
        "The client's certificate first, then any intermediates."),
    checkedField("auth.private_key_pem", "f-mtls-key", "Private key (PEM)", privateKeyPem,
      "Paste the whole key; stored encrypted, never shown again."));
  mtlsOn.addEventListener("change", () => { mtlsFields.hidden = !mtlsOn.checked; scheduleValidation(); });
  const authDefinition = () => {
    const methods = [];
    if (oauthOn.checked) {
      const auth = { type: "oauth2_client_credentials", client_auth: clientAuth.value };
      for (const [key, input] of Object.entries(oauth)) {
        if (input.value.trim() || key === "client_secret" || key === "token_url" || key === "client_id") {
          auth[key] = input.value.trim();
        }
      }
      methods.push(auth);
    }
    if (mtlsOn.checked) {
      methods.push({ type: "mtls", certificate_pem: certificatePem.value, private_key_pem: privateKeyPem.value });
    }
    // One method is sent as an object, so a 422 names `auth.<field>` as the fields above expect.
    return methods.length > 1 ? methods : methods[0] ?? null;
  };

  // The catalogue: click a variable to insert it where the cursor is in the body being edited.
  let lastTemplate = body;
  for (const area of [body, ...TYPES.map(([t]) => overrides[t].body)]) {
    area.addEventListener("focus", () => { lastTemplate = area; });
  }
  const insert = (text) => {
    const area = lastTemplate;
    const at = area.selectionStart ?? area.value.length;
    area.value = area.value.slice(0, at) + text + area.value.slice(area.selectionEnd ?? at);
    area.focus();
    area.selectionStart = area.selectionEnd = at + text.length;
    scheduleValidation();
  };
  const variableList = (variables) => el("ul", {}, variables.map((v) =>
    el("li", {}, el("button", { type: "button", onclick: () => insert(v.insert),
      "aria-label": `Insert ${v.name}` }, v.insert), el("p", {}, v.description))));
  const catalogueBox = el("aside", { class: "catalogue", "aria-labelledby": "catalogue-title" },
    el("h3", { id: "catalogue-title" }, "Variables"),
    el("p", {}, "Select one to insert it at the cursor."),
    variableList(catalogue.variables),
    el("h3", {}, "Uptrends names"),
    variableList(catalogue.uptrends_variables));

  function definition() {
    const headers = {};
    for (const row of headerRows.querySelectorAll(".header-row")) {
      const headerName = row.querySelector(".h-name").value.trim();
      if (headerName) headers[headerName] = { value: row.querySelector(".h-value").value,
        secret: row.querySelector(".h-secret").checked };
    }
    const messageTypes = {};
    for (const [type] of TYPES) {
      const { on, body: typeBody, rest } = overrides[type];
      if (!on.checked) { messageTypes[type] = null; continue; }
      const route = { ...rest };
      if (typeBody.value.trim()) route.body = typeBody.value; else delete route.body;
      messageTypes[type] = route;
    }
    const result = { name: name.value, url: url.value, method: method.value, headers,
      content_type: contentType.value, body: body.value, min_severity: severity.value,
      message_types: messageTypes, enabled: enabled.checked,
      matchers: matchers.value.split("\n").map((m) => m.trim()).filter((m) => m),
      rate_limit_per_second: numberOrText(rateLimit.value),
      captures: Object.fromEntries(captures.value.split("\n").map((l) => l.trim()).filter((l) => l)
        .map((l) => (l.includes("=") ? [l.slice(0, l.indexOf("=")).trim(), l.slice(l.indexOf("=") + 1).trim()]
          : [l, ""]))),
      capture_missing: captureMissing.value,
      digest: digestOn.checked ? { after: numberOrText(digestAfter.value),
        window_seconds: numberOrText(digestWindow.value),
        ...(digestBody.value.trim() ? { body: digestBody.value } : {}) } : null };
    // Empty: the default.
    if (maxInFlight.value.trim()) result.max_in_flight = numberOrText(maxInFlight.value);
    if (preset) result.preset = preset;
    if (secretChoice.value === "generate") result.secret = "generate";
    else if (secretChoice.value === "keep") result.secret = SECRET_MASK;
    if (token.value) result.verification_token = token.value;
    if (fallback.value) result.fallback_endpoint_id = fallback.value;
    result.auth = authDefinition();
    result.ca_pem = caPem.value.trim() ? caPem.value : null;
    return result;
  }

  const authMethods = (def) => [def.auth ?? []].flat();
  const maskedValues = (def) => Object.values(def.headers).some((h) => h.value === MASK)
    || def.verification_token === MASK
    || authMethods(def).some((a) => a.client_secret === MASK || a.private_key_pem === MASK);

  /** Shows a 422 under the field it names; false if the error names no such field. */
  function showFieldError(e) {
    for (const { input, error } of fieldErrors.values()) {
      input.removeAttribute("aria-invalid");
      error.textContent = "";
    }
    // `matchers[1]` shows under the matchers as a whole.
    // `captures.ticket_id` under the captures.
    const field = e instanceof ApiFailure
      ? String(e.field ?? "").replace(/\[\d+\]$/, "").replace(/^captures\..*$/, "captures") : "";
    const target = e instanceof ApiFailure && fieldErrors.get(field);
    if (!target) return false;
    target.input.setAttribute("aria-invalid", "true");
    target.error.textContent = e.message;
    return true;
  }

  function describeError(e) {
    if (!(e instanceof ApiFailure)) return e.message;
    const where = e.line ? ` (line ${e.line}, column ${e.column})` : "";
    return e.field ? `${e.field}${where}: ${e.message}` : e.message;
  }

  // As you type: the same validation the API runs on save, without saving.
  let timer;
  let generation = 0;
  function scheduleValidation() {
    clearTimeout(timer);
    timer = setTimeout(validate, 300);
  }
  async function validate() {
    const mine = ++generation;
    const def = definition();
    if (!def.name.trim() || !def.url.trim()) { setMessage(templateError, "error", ""); return; }
    if (def.secret === SECRET_MASK) def.secret = "generate";
    try {
      await post("/v1/endpoints/validate", withoutMaskedValues(def));
      if (mine === generation) {
        showFieldError(null);
        setMessage(templateError, "ok", "The template is valid.");
      }
    } catch (e) {
      if (mine !== generation) return;
      if (showFieldError(e)) setMessage(templateError, "", "");
      else setMessage(templateError, "error", describeError(e));
    }
  }
  const withoutMaskedValues = (def) => {
    const copy = structuredClone(def);
    for (const [headerName, spec] of Object.entries(copy.headers)) {
      if (spec.value === MASK) copy.headers[headerName] = { value: "masked", secret: true };
    }
    if (copy.verification_token === MASK) copy.verification_token = "masked";
    for (const auth of authMethods(copy)) {
      if (auth.client_secret === MASK) auth.client_secret = "masked";
    }
    // A masked key cannot be checked against its certificate without the stored endpoint: saving does.
    if (authMethods(copy).some((a) => a.private_key_pem === MASK)) {
      copy.auth = authMethods(copy).filter((a) => a.type !== "mtls");
    }
    return copy;
  };
  for (const input of [name, url, method, contentType, severity, body, maxInFlight, rateLimit,
    ...TYPES.flatMap(([t]) => [overrides[t].on, overrides[t].body])]) {
    input.addEventListener("input", scheduleValidation);
  }
  headerRows.addEventListener("input", scheduleValidation);
  oauthFields.addEventListener("input", scheduleValidation);
  mtlsFields.addEventListener("input", scheduleValidation);
  caPem.addEventListener("input", scheduleValidation);

  // "Run the test": the exact request sent and the answer, before saving.
  const testResult = el("section", { id: "test-result", "aria-live": "polite", "aria-labelledby": "test-title" });
  const testMessage = messageBox("test-message");
  /** Sends the sample alert, or with `asDigest` the endpoint's digest of a sample storm. */
  async function runTest(asDigest) {
    setMessage(testMessage, "ok", "Sending the test…");
    testResult.replaceChildren();
    const def = definition();
    let report;
    try {
      if (saved && maskedValues(def) && !dirty() && !asDigest) {
        report = await post(`/v1/endpoints/${encodeURIComponent(saved.id)}/test`, {});
      } else if (maskedValues(def)) {
        setMessage(testMessage, "error",
          "Secret values are masked: save first to test with them, or type them again.");
        return;
      } else {
        if (def.secret === SECRET_MASK) def.secret = "generate";
        report = await post("/v1/endpoints/test", { endpoint: def, digest: asDigest });
      }
    } catch (e) {
      setMessage(testMessage, "error", describeError(e));
      return;
    }
    showReport(report);
  }
  function showReport(report) {
    if (report.ok) {
      setMessage(testMessage, "ok", `Test delivered: the endpoint answered ${report.response.status}.`);
    } else if (report.response) {
      setMessage(testMessage, "error", `The endpoint answered ${report.response.status}, not a success (2XX).`);
    } else {
      setMessage(testMessage, "error",
        `The endpoint could not be reached (${report.error.class}): ${report.error.message}`);
    }
    const headerText = (headers) => headers.map(([n, v]) => `${n}: ${v}`).join("\n");
    testResult.replaceChildren(
      el("h3", { id: "test-title" }, "Request sent"),
      el("pre", { id: "test-request" }, `${report.request.method} ${report.request.url}\n${headerText(report.request.headers)}\n\n${report.request.body}`),
      el("h3", {}, "Answer"),
      report.response
        ? el("div", { id: "test-response" },
          el("dl", { class: "facts" },
            el("dt", {}, "Status"), el("dd", { id: "test-status" }, String(report.response.status)),
            el("dt", {}, "Time"), el("dd", {}, `${report.response.duration_ms} ms`)),
          el("pre", {}, headerText(report.response.headers)),
          el("pre", { id: "test-response-body" }, report.response.body + (report.response.body_truncated ? "\n[truncated]" : "")))
        : el("p", { id: "test-response" }, `No answer after ${report.error.duration_ms} ms: ${report.error.message}`));
  }

  const saveMessage = messageBox("save-message");
  const loaded = JSON.stringify(definition());
  const dirty = () => JSON.stringify(definition()) !== loaded;
  async function save(event) {
    event.preventDefault();
    const def = definition();
    try {
      const view = saved
        ? await put(`/v1/endpoints/${encodeURIComponent(saved.id)}`, def)
        : await post("/v1/endpoints", def);
      if (view.secret && view.secret !== SECRET_MASK) {
        revealSecret(view.secret);
      }
      showFieldError(null);
      maxInFlight.value = view.max_in_flight;
      rateLimit.value = view.rate_limit_per_second ?? "";
      fallback.value = view.fallback_endpoint_id ?? "";
      setMessage(saveMessage, "ok", `Saved “${view.name}”.`);
      announce(`Saved ${view.name}`);
      if (!saved) history.replaceState(null, "", `#/endpoints/${view.id}`);
    } catch (e) {
      showFieldError(e);
      setMessage(saveMessage, "error", describeError(e));
    }
  }
  function revealSecret(secret) {
    secretShown.replaceChildren(el("div", { class: "message ok" },
      el("p", {}, "The signing secret, shown this once: copy it to the receiver now."),
      el("p", { class: "secret-once", id: "secret-value" }, secret)));
  }
  async function rotate() {
    try {
      const view = await post(`/v1/endpoints/${encodeURIComponent(saved.id)}/rotate-secret`, {});
      revealSecret(view.secret);
      announce("Secret rotated; the old one keeps signing during its grace period");
    } catch (e) {
      setMessage(saveMessage, "error", describeError(e));
    }
  }

  // A saved endpoint's state, circuit and last 24 hours; refreshed on demand, leaving the fields alone.
  const statusParts = (current, figures) => [
    el("p", {}, el("span", { class: "state" }, stateText(current)), ". ", healthText(current)),
    circuitFacts(current),
    statsSection(figures),
    el("button", { type: "button", id: "refresh-status", onclick: refreshStatus }, "Refresh the figures")];
  const status = saved ? el("div", { id: "endpoint-status" }, statusParts(saved, stats)) : null;
  async function refreshStatus() {
    const path = `/v1/endpoints/${encodeURIComponent(saved.id)}`;
    try {
      const [current, figures] = await Promise.all([get(path), get(`${path}/stats`).catch((e) => e)]);
      status.replaceChildren(...statusParts(current, figures));
      announce("Figures refreshed");
    } catch (e) {
      announce(`The figures could not be refreshed: ${e.message}`);
    }
  }

  const form = el("form", { id: "endpoint-form", "aria-labelledby": "editor-title", onsubmit: save },
    el("h2", { id: "editor-title" }, saved ? `Endpoint “${saved.name}”` : "New endpoint"),
    status,
    el("div", { class: "row" },
      el("div", {}, ...field("preset", "Preset", presetPicker)),
      el("div", {}, ...field("name", "Name", name))),
    el("div", { class: "row" },
      el("div", {}, ...field("method", "Method", method)),
      el("div", {}, ...field("url", "URL", url))),
    el("div", { class: "row" },
      el("div", {}, ...field("content-type", "Content type", contentType)),
      el("div", {}, ...field("min-severity", "Send alerts from this severity up", severity))),
    el("label", { class: "inline" }, enabled, "Enabled"),
    el("h3", {}, "Routing"),
    checkedField("matchers", "f-matchers", "Label matchers, one per line", matchers,
      'Alertmanager\'s syntax, e.g. team="db" or env=~"prod|staging": all must hold. Empty: every alert.'),
    el("h3", {}, "Following an incident"),
    el("div", { class: "row", id: "incident" },
      checkedField("captures", "f-captures", "Captures, one per line: name = source", captures,
        "Taken from the 2XX answer to an incident's error ($.id, /result/0/sys_id or header:Location), for the "
        + "reminder's and ok's templates as {{captured.name}}; they then wait for the error."),
      checkedField("capture_missing", "f-capture-missing", "When a capture is missing", captureMissing,
        "The error went dead, or its answer had no such value.")),
    el("h3", {}, "Storms"),
    el("label", { class: "inline" }, digestOn, "Fold a storm's errors into a digest"),
    el("div", { class: "row", id: "digest" },
      checkedField("digest.after", "f-digest-after", "Errors sent one by one per window", digestAfter,
        "From 1 to 10000; the rest of the window go in the digest."),
      checkedField("digest.window_seconds", "f-digest-window", "Window, in seconds", digestWindow,
        "From 5 to 86400, from the window's first error; the digest goes when it ends.")),
    checkedField("digest.body", "f-digest-body", "Digest template", digestBody,
      "{{digest_count}}, {{#digest_alerts}}{{title}}{{/digest_alerts}}, {{digest_alerts_json}}, "
      + "{{digest_window_start}}, {{digest_window_end}}; sent like an error."),
    el("h3", {}, "Delivery limits"),
    el("div", { class: "row", id: "limits" },
      checkedField("max_in_flight", "f-max-in-flight", "Attempts in flight at most", maxInFlight,
        "From 1 to 256; empty: 16."),
      checkedField("rate_limit_per_second", "f-rate-limit", "Attempts started per second at most", rateLimit,
        "From 0.01 to 10000, e.g. 0.5; empty: no limit."),
      checkedField("fallback_endpoint_id", "f-fallback", "Fallback endpoint", fallback,
        "Gets the alert when a delivery here goes dead.")),
    el("h3", {}, "Headers"),
    headerRows,
    el("button", { type: "button", onclick: () => addHeader() }, "Add a header"),
    el("h3", {}, "Body template"),
    el("div", { class: "editor" },
      el("div", {},
        el("label", { for: "f-body" }, "Body"),
        body,
        templateError,
        tabs, panels),
      catalogueBox),
    el("h3", {}, "Signing"),
    el("div", { class: "row" },
      el("div", {}, ...field("secret", "Signing secret (Standard Webhooks)", secretChoice)),
      el("div", {}, ...field("token", "Verification token", token)),
      saved?.secret ? el("button", { type: "button", id: "rotate-secret", onclick: rotate }, "Rotate the secret") : null),
    secretShown,
    el("h3", {}, "Authentication"),
    el("label", { class: "inline" }, oauthOn, "Get a bearer token (OAuth2 client credentials)"),
    oauthFields,
    el("label", { class: "inline" }, mtlsOn, "Present a client certificate (mTLS)"),
    mtlsFields,
    checkedField("ca_pem", "f-ca-pem", "Trusted CAs for this endpoint (PEM)", caPem,
      "For a server behind a private CA: its certificate is verified against these instead of the usual roots. Empty: the usual roots."),
    el("div", { class: "actions" },
      el("button", { type: "button", id: "run-test", onclick: () => runTest(false) }, "Run the test"),
      el("button", { type: "button", id: "run-digest-test", onclick: () => runTest(true) },
        "Test the digest"),
      el("button", { type: "submit", class: "primary", id: "save" }, "Save")),
    testMessage,
    saveMessage,
    testResult);
  show(form);
  if (body.value) scheduleValidation();
}

/** A number input's value as the API takes it: empty is `null`, a number a number; anything else is sent
 * as typed, so the API's 422 names the field. */
function numberOrText(value) {
  const text = String(value).trim();
  if (text === "") return null;
  const number = Number(text);
  return Number.isFinite(number) ? number : text;
}
