// The log, newest first, a page at a time, found by commit number (never the whole log);
// filtered at the server, which looks at a bounded stretch of commits per request and says
// where it stopped.

import { el, api, hashFor, commitLink, timeOf, names, table, row, count } from "./dom.js";

const DEFAULT_LIMIT = 50;
const FILTERS = ["name", "tag", "header", "since", "until", "text"];

function filtersOf(params) {
  const filters = {};
  for (const key of FILTERS) {
    const values = params.getAll(key).filter((v) => v !== "");
    if (values.length) filters[key] = values;
  }
  return filters;
}

function query(filters, extra) {
  const q = new URLSearchParams(extra);
  for (const [key, values] of Object.entries(filters)) for (const v of values) q.append(key, v);
  return q.toString();
}

function filterForm(filters) {
  const field = (key, label, placeholder) =>
    el("label", {}, label,
      el("input", { name: key, value: (filters[key] || []).join(key === "name" ? "," : ""), placeholder }));
  const form = el("form", { class: "filters", id: "filters" },
    field("name", "event name(s)", "memberHasMoved, …"),
    field("tag", "tag", "account:7"),
    field("header", "header", "user=ada"),
    field("since", "since", "2026-11-27 or 1h"),
    field("until", "until", "2026-11-28T12:00Z"),
    field("text", "text in data", "Oslo"),
    el("div", { class: "bar" },
      el("button", { type: "submit", id: "apply-filters" }, "Filter"),
      el("button", { type: "button", id: "clear-filters", onclick: () => { location.hash = "#/log"; } }, "Clear")));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const data = new FormData(form);
    const params = {};
    for (const key of FILTERS) {
      const value = String(data.get(key) || "").trim();
      if (!value) continue;
      params[key] = key === "name" ? value.split(",").map((n) => n.trim()).filter(Boolean) : value;
    }
    location.hash = hashFor("log", params);
  });
  return form;
}

export async function logView(target, params) {
  const filters = filtersOf(params);
  const asked = Number(params.get("limit"));
  const LIMIT = Number.isInteger(asked) && asked >= 1 && asked <= 1000 ? asked : DEFAULT_LIMIT;
  const filtered = Object.keys(filters).length > 0;
  const to = params.get("to");
  const extra = { order: "newest", limit: String(LIMIT) };
  if (to) extra.to = to;
  const page = await api(`/api/commits?${query(filters, extra)}`);
  const commits = page.commits;
  const top = commits.length ? commits[0].number : page.scanned ? page.scanned.to : page.tip;
  const here = (more) => hashFor("log", { ...filters, limit: LIMIT === DEFAULT_LIMIT ? "" : LIMIT, ...more });

  const newer = async () => {
    if (!filtered) {
      location.hash = here({ to: Math.min(page.tip, top + LIMIT) });
      return;
    }
    const up = await api(`/api/commits?${query(filters, { order: "oldest", limit: String(LIMIT), from: String(top + 1) })}`);
    if (up.commits.length) location.hash = here({ to: up.commits[up.commits.length - 1].number });
    else if (up.next !== null && up.scanned) location.hash = here({ to: up.scanned.to });
    else location.hash = here({});
  };
  const goTo = el("form", { class: "goto" },
    el("label", {}, "go to commit ", el("input", { name: "commit", id: "goto-commit", type: "number", min: "1", size: "10" })),
    el("button", { type: "submit" }, "Go"));
  goTo.addEventListener("submit", (e) => {
    e.preventDefault();
    const n = Number(new FormData(goTo).get("commit"));
    if (Number.isSafeInteger(n) && n >= 1) location.hash = here({ to: n });
  });

  let status;
  if (filtered) {
    const s = page.scanned;
    status = s
      ? `${count(commits.length)} matching in commits ${count(s.to)}–${count(s.from)} (looked at ${count(s.to - s.from + 1)}; at most ${count(10000)} a request)`
      : "no commits in this range";
  } else if (commits.length) {
    status = `commits ${count(top)}–${count(commits[commits.length - 1].number)} of ${count(page.tip)}`;
  } else {
    status = "the log is empty";
  }

  const nav = el("div", { class: "bar" },
    el("button", { id: "newest", disabled: !to, onclick: () => { location.hash = here({}); } }, "Newest"),
    el("button", { id: "newer", disabled: !to || top >= page.tip, onclick: () => newer().catch((e) => alert(e.message)) }, "← Newer"),
    el("button", { id: "older", disabled: page.next === null, onclick: () => { location.hash = here({ to: page.next }); } },
      filtered && page.next !== null ? "Older / search on →" : "Older →"),
    goTo,
    el("span", { class: "status", id: "log-status" }, status));

  const rows = commits.map((commit) =>
    row([
      el("td", { class: "number" }, commitLink(commit.number)),
      timeOf(commit),
      el("td", {}, names(commit)),
      el("td", { class: "number" }, count(commit.events.length)),
      el("td", { class: "number" }, count(commit.size)),
    ], { data: { commit: String(commit.number) } }));
  target.append(filterForm(filters), nav,
    table(["commit", "time", "events", "count", "bytes"], rows, { id: "log-table" }));
}
