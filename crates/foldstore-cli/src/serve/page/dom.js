// Building the page from the store's data without ever parsing that data as HTML: every text
// goes in through text nodes (textContent), control characters shown as \u{..} escapes.

const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
const CONTROL_BUT_NEWLINE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029]/g;

/** The text with control characters (terminal escapes, line breaks) written as \u{..}. */
export function printable(text, keepNewlines = false) {
  const pattern = keepNewlines ? CONTROL_BUT_NEWLINE : CONTROL;
  return String(text).replace(pattern, (c) => `\\u{${c.codePointAt(0).toString(16)}}`);
}

/** A new element: props are attributes (`class`, `on...` listeners, `data` for data-*), and
 * children are nodes or texts (texts become text nodes, never HTML). */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "data") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(printable(child)));
  }
  return node;
}

/** A `pre` holding the text as text (line breaks kept, other control characters escaped). */
export function pre(text, props = {}) {
  const node = el("pre", props);
  node.textContent = printable(text, true);
  return node;
}

/** GET `path` as JSON; an error answer throws its message. */
export async function api(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  let body;
  try {
    body = await response.json();
  } catch {
    body = { error: `${response.status} ${response.statusText}` };
  }
  if (!response.ok) throw new Error(body.error || `${response.status}`);
  return body;
}

/** The hash of a view with its parameters (empty ones left out). */
export function hashFor(view, params = {}) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    for (const one of Array.isArray(value) ? value : [value]) {
      if (one !== undefined && one !== null && one !== "") query.append(key, String(one));
    }
  }
  const text = query.toString();
  return `#/${view}${text ? `?${text}` : ""}`;
}

/** A link to commit `number`'s view. */
export function commitLink(number) {
  return el("a", { href: `#/commit/${Number(number)}`, class: "commit-link" }, `#${Number(number)}`);
}

/** A commit's `time` header when it is a string, else "". */
export function timeOf(commit) {
  const time = commit.headers && commit.headers.time;
  return typeof time === "string" ? time : "";
}

/** The chips of a commit's event names. */
export function names(commit) {
  return (commit.events || []).map((event) => el("span", { class: "name" }, String(event.name)));
}

/** A table with a header row and rows (arrays of cells: nodes or texts). */
export function table(heads, rows, props = {}) {
  const head = el("thead", {}, el("tr", {}, heads.map((h) => el("th", {}, h))));
  const body = el("tbody", {}, rows);
  return el("table", props, head, body);
}

/** A row of cells. */
export function row(cells, props = {}) {
  return el("tr", props, cells.map((c) => (c instanceof Node && c.tagName === "TD" ? c : el("td", {}, c))));
}

/** A whole number's text with thousands separated. */
export function count(n) {
  return Number(n).toLocaleString("en-US");
}
