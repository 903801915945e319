// A commit's full view, the live view, health and event shapes.

import { el, pre, api, commitLink, timeOf, names, table, row, count } from "./dom.js";

export async function commitView(target, _params, argument) {
  const number = Number(argument);
  if (!Number.isSafeInteger(number) || number < 1) throw new Error(`${argument} is not a commit number`);
  const commit = await api(`/api/commits/${number}`);
  const headers = Object.entries(commit.headers || {}).map(([key, value]) =>
    row([el("td", {}, el("span", { class: "name" }, key)), typeof value === "string" ? value : JSON.stringify(value)]));
  const events = (commit.events || []).map((event, index) => {
    const { name, data, ...rest } = event;
    const tags = Array.isArray(rest.tags) ? rest.tags : [];
    delete rest.tags;
    return el("section", { class: "event", data: { index: String(index) } },
      el("h3", {}, `${index + 1}. `, el("span", { class: "name event-name" }, String(name))),
      tags.length ? el("div", {}, "tags ", tags.map((t) => el("span", { class: "tag" }, String(t)))) : null,
      Object.keys(rest).length ? el("div", { class: "status" }, `other members: ${JSON.stringify(rest)}`) : null,
      data === undefined ? el("p", { class: "status" }, "no data") : pre(JSON.stringify(data, null, 2), { class: "data" }));
  });
  const raw = el("section", {}, el("h2", {}, "Raw bytes"),
    el("button", { id: "show-raw", onclick: async () => {
      const response = await fetch(`/api/commits/${number}/raw`);
      const bytes = new Uint8Array(await response.arrayBuffer());
      raw.replaceChildren(el("h2", {}, `Raw bytes (${count(bytes.length)}, as stored)`),
        pre(new TextDecoder("utf-8", { fatal: false }).decode(bytes), { id: "raw" }));
    } }, "Show the stored bytes"));
  target.append(
    el("div", { class: "bar" },
      number > 1 ? el("a", { href: `#/commit/${number - 1}`, id: "previous" }, "← previous") : null,
      el("a", { href: `#/log?to=${number}` }, "in the log"),
      el("a", { href: `#/commit/${number + 1}`, id: "next" }, "next →")),
    el("h2", {}, `Commit ${count(commit.number)}`, el("span", { class: "status" }, ` · ${count(commit.size)} bytes`)),
    el("section", {}, el("h3", {}, "Headers"), table(["header", "value"], headers)),
    el("section", { id: "events" }, el("h3", {}, `Events (${commit.events.length})`), events),
    raw);
}

export async function liveView(target) {
  const dot = el("span", { class: "live-dot" });
  const state = el("span", { class: "status", id: "live-status" }, "connecting…");
  const body = el("tbody");
  const list = el("table", { id: "live-table" },
    el("thead", {}, el("tr", {}, ["commit", "time", "events"].map((h) => el("th", {}, h)))), body);
  target.append(el("p", {}, dot, state, " · new commits appear here as they land, from any process"), list);
  const source = new EventSource("/api/stream");
  let seen = 0;
  source.addEventListener("open", () => {
    dot.classList.add("open");
    state.textContent = seen ? `following · ${count(seen)} new` : "following";
    target.dataset.live = "open";
  });
  source.addEventListener("commit", (message) => {
    const commit = JSON.parse(message.data);
    seen += 1;
    state.textContent = `following · ${count(seen)} new`;
    body.prepend(row([commitLink(commit.number), timeOf(commit), el("td", {}, names(commit))],
      { class: "new", data: { commit: String(commit.number) } }));
    while (body.children.length > 500) body.lastElementChild.remove();
  });
  source.addEventListener("error", (message) => {
    dot.classList.remove("open");
    target.dataset.live = "closed";
    // A stream ended by damage says why; else the browser reconnects by itself.
    let why = "reconnecting…";
    if (message.data) {
      try { why = JSON.parse(message.data).error; } catch { why = String(message.data); }
    }
    state.textContent = why;
  });
  return () => source.close();
}

export async function healthView(target) {
  const health = await api("/api/health");
  const v = health.verify;
  const problems = (list) => list.map((p) => el("li", {}, `${p.location}: ${p.problem}`));
  target.append(
    el("section", { id: "verify" }, el("h2", {}, "Verify"),
      el("p", {}, el("span", { class: v.sound ? "sound" : "unsound" }, v.sound ? "sound" : "damaged"),
        ` · ${count(v.sound_commits)} sound commits of ${count(v.tip)} · ${count(v.events)} events · ${count(v.sound_snapshots)} sound snapshots`),
      v.problems.length ? el("ul", { class: "error" }, problems(v.problems)) : el("p", { class: "status" }, "no problems"),
      v.warnings.length ? el("ul", {}, problems(v.warnings)) : null),
    el("section", { id: "snapshots" }, el("h2", {}, "Snapshots"), snapshotTable(health.snapshots)),
    el("section", { id: "quarantine" }, el("h2", {}, "Quarantine"), quarantineList(health.quarantine)));
}

function snapshotTable(report) {
  const models = Array.isArray(report) ? report : report.models || [];
  const rows = [];
  for (const model of models) {
    for (const s of model.snapshots || []) {
      rows.push(row([el("td", {}, el("span", { class: "name" }, String(model.model ?? model.name))), commitLink(s.commit),
        typeof s.time === "string" ? s.time : "", el("td", { class: "number" }, count(s.bytes)),
        s.problem ? el("td", { class: "error" }, s.problem) : "ok"]));
    }
  }
  return rows.length ? table(["model", "commit", "time", "bytes", "state"], rows) : el("p", { class: "status" }, "no snapshots");
}

function quarantineList(q) {
  if (q.folder === null) return el("p", { class: "status" }, "a store on a server keeps its quarantine there");
  if (!q.files.length) return el("p", { class: "status" }, `nothing moved aside (${q.folder})`);
  return el("div", {}, el("p", {}, q.folder),
    table(["file", "bytes"], q.files.map((f) => row([f.path, el("td", { class: "number" }, count(f.bytes))]))),
    q.more ? el("p", { class: "status" }, `and ${count(q.more)} more`) : null);
}

export async function shapesView(target) {
  const schema = await api("/api/schema");
  target.append(el("p", { class: "status" }, `${count(schema.events)} events in ${count(schema.commits)} commits`));
  for (const name of schema.names) {
    const rows = name.shapes.map((s) => row([pre(s.shape, { class: "shape" }), el("td", { class: "number" }, count(s.count)),
      commitLink(s.first.commit), commitLink(s.last.commit)]));
    target.append(el("section", { class: "shape-name" },
      el("h3", {}, el("span", { class: "name" }, String(name.name)), ` · ${count(name.events)} events`),
      table(["shape of data", "events", "first", "last"], rows),
      name.other_shapes ? el("p", { class: "status" }, `and ${count(name.other_shapes)} events of other shapes`) : null));
  }
  if (schema.other_names) target.append(el("p", { class: "status" }, `and ${count(schema.other_names)} other names`));
}
