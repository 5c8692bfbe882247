// Calls alertwire's public API (the same one the CLI uses) with the API key kept in this tab's
// sessionStorage only: never in a URL, a cookie or a log.

const KEY = "alertwire.apiKey";

/** The API's root: the console is served at `<root>/console/`, behind API Gateway stages too. */
const root = location.pathname.replace(/\/console\/.*$/, "");

export class ApiFailure extends Error {
  constructor(status, error) {
    super(error?.message || `the server answered ${status}`);
    this.status = status;
    this.code = error?.code;
    this.field = error?.field;
    this.line = error?.line;
    this.column = error?.column;
  }
}

export function signedIn() {
  return Boolean(sessionStorage.getItem(KEY));
}

export function signIn(key) {
  sessionStorage.setItem(KEY, key);
}

export function signOut() {
  sessionStorage.removeItem(KEY);
}

/** Answers the parsed body of a 2XX answer; throws `ApiFailure` otherwise (401 also signs out). */
export async function call(method, path, body) {
  const headers = { Authorization: `Bearer ${sessionStorage.getItem(KEY) || ""}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(`${root}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch {
    throw new ApiFailure(0, { message: "alertwire could not be reached; is it running?" });
  }
  const text = await response.text();
  const parsed = text ? JSON.parse(text) : null;
  if (!response.ok) {
    if (response.status === 401) signOut();
    throw new ApiFailure(response.status, parsed?.error);
  }
  return parsed;
}

export const get = (path) => call("GET", path);
export const post = (path, body) => call("POST", path, body ?? {});
export const put = (path, body) => call("PUT", path, body);
