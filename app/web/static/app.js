// Shared by every page: marks that scripts run (the CSS shows what needs them), and the few
// helpers the pages' scripts use. No framework, no build step: plain ES modules.

document.documentElement.classList.add("js");

// JSON, as the service requires of a POST (it refuses others, which a page on another site
// could send).
const JSON_HEADERS = { "Content-Type": "application/json", "X-Requested-With": "llm-compare" };

// What a state-changing request of a page signed in with a key also sends: the session's
// CSRF token, which the server put in the page's <meta> (absent while auth is off).
export function csrfHeaders() {
  const csrf = document.querySelector('meta[name="csrf-token"]');
  return csrf ? { "X-CSRF-Token": csrf.content } : {};
}

// A state-changing request to the service's API; errors are RFC 9457 problems.
export async function post(url, body, headers = {}) {
  const response = await fetch(url, {
    method: "POST",
    headers: { ...JSON_HEADERS, ...csrfHeaders(), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { response, data: await readBody(response) };
}

// A state-changing request to one of the pages' own routes, which answer with a piece of page
// rendered (and escaped) by the server: its nodes, parsed inertly, ready to put in place.
export async function postForHtml(url, body) {
  const response = await fetch(url, {
    method: "POST",
    headers: { ...JSON_HEADERS, ...csrfHeaders(), Accept: "text/html" },
    body: JSON.stringify(body ?? {}),
  });
  const type = response.headers.get("content-type") || "";
  if (!type.includes("text/html")) {
    const data = await readBody(response);
    throw new Error(data.detail || `The service answered ${response.status}.`);
  }
  const parsed = new DOMParser().parseFromString(await response.text(), "text/html");
  return { response, nodes: [...parsed.body.childNodes].map((node) => document.adoptNode(node)) };
}

export async function readBody(response) {
  const type = response.headers.get("content-type") || "";
  return type.includes("json") ? response.json() : { detail: await response.text() };
}

// Refresh every element marked `data-live` (with an id) from the same page fetched again: the
// server renders the page, the script only swaps the parts in. The elements stay (their
// contents and attributes change), so a live region is still the one a screen reader follows;
// open <details>, the focused element and how far a table is scrolled are kept across the swap. Returns the fresh document.
export async function refreshLive(url = location.href) {
  const response = await fetch(url, { headers: { Accept: "text/html" } });
  if (!response.ok) return null;
  const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
  const open = [...document.querySelectorAll("details[open][id]")].map((d) => d.id);
  const focused = document.activeElement && document.activeElement.id;
  const scrolled = [...document.querySelectorAll(".table-scroll[id]")].map((e) => [e.id, e.scrollLeft]);
  for (const old of document.querySelectorAll("[data-live][id]")) {
    const replacement = fresh.getElementById(old.id);
    if (!replacement) continue;
    for (const { name } of [...old.attributes]) {
      if (!replacement.hasAttribute(name)) old.removeAttribute(name);
    }
    for (const { name, value } of replacement.attributes) old.setAttribute(name, value);
    old.replaceChildren(...[...replacement.childNodes].map((node) => document.adoptNode(node)));
  }
  for (const id of open) document.getElementById(id)?.setAttribute("open", "");
  if (focused) document.getElementById(focused)?.focus({ preventScroll: true });
  for (const [id, left] of scrolled) {
    const element = document.getElementById(id);
    if (element) element.scrollLeft = left;
  }
  return fresh;
}

export function show(element, text) {
  element.textContent = text;
  element.hidden = !text;
}
