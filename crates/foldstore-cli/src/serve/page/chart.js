// Commits over time, per minute, hour or day by the time the range spans, drawn as SVG here
// (no library), and the events counted per name.

import { el, api, hashFor, table, row, count } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 900;
const HEIGHT = 220;
const PAD = { left: 48, right: 12, top: 12, bottom: 28 };

function svg(tag, attributes = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

function bars(chart) {
  const buckets = chart.buckets;
  const plot = svg("svg", { class: "chart", id: "chart-svg", viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img" });
  if (!buckets.length) {
    plot.append(svg("text", { x: WIDTH / 2, y: HEIGHT / 2, "text-anchor": "middle" }, "no commits with a time in this range"));
    return plot;
  }
  const unit = chart.unit_seconds;
  const first = buckets[0].seconds;
  const slots = (buckets[buckets.length - 1].seconds - first) / unit + 1;
  const most = Math.max(...buckets.map((b) => b.commits));
  const inner = { w: WIDTH - PAD.left - PAD.right, h: HEIGHT - PAD.top - PAD.bottom };
  const slot = inner.w / slots;
  for (const b of buckets) {
    const x = PAD.left + ((b.seconds - first) / unit) * slot;
    const h = Math.max(1, (b.commits / most) * inner.h);
    const bar = svg("rect", { class: "commits", x: x.toFixed(2), y: (PAD.top + inner.h - h).toFixed(2),
      width: Math.max(1, slot * 0.85).toFixed(2), height: h.toFixed(2) },
      svg("title", {}, `${b.start}: ${count(b.commits)} commits, ${count(b.events)} events`));
    plot.append(bar);
  }
  plot.append(
    svg("line", { x1: PAD.left, y1: PAD.top + inner.h, x2: WIDTH - PAD.right, y2: PAD.top + inner.h, stroke: "#99a" }),
    svg("text", { x: PAD.left - 6, y: PAD.top + 10, "text-anchor": "end" }, count(most)),
    svg("text", { x: PAD.left - 6, y: PAD.top + inner.h, "text-anchor": "end" }, "0"),
    svg("text", { x: PAD.left, y: HEIGHT - 8 }, buckets[0].start),
    svg("text", { x: WIDTH - PAD.right, y: HEIGHT - 8, "text-anchor": "end" }, buckets[buckets.length - 1].start));
  return plot;
}

export async function chartView(target, params) {
  const q = new URLSearchParams();
  for (const key of ["from", "to"]) if (params.get(key)) q.set(key, params.get(key));
  const chart = await api(`/api/chart?${q}`);
  const form = el("form", { class: "bar" },
    el("label", {}, "commits ", el("input", { name: "from", type: "number", min: "1", value: chart.from, size: "10" })),
    el("label", {}, " to ", el("input", { name: "to", type: "number", min: "1", value: chart.to, size: "10" })),
    el("button", { type: "submit" }, "Count"),
    el("span", { class: "status" }, "at most 100,000 commits a chart, the newest of a longer range"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const data = new FormData(form);
    location.hash = hashFor("chart", { from: data.get("from"), to: data.get("to") });
  });
  const most = Math.max(1, ...chart.names.map((n) => n.events));
  const nameRows = chart.names.map((n) => {
    const meter = el("div", { class: "meter" });
    meter.style.width = `${((n.events / most) * 100).toFixed(1)}%`;
    return row([el("td", {}, el("a", { href: hashFor("log", { name: n.name }) }, el("span", { class: "name" }, n.name))),
      el("td", { class: "number" }, count(n.events)), el("td", { class: "meter-cell" }, meter)]);
  });
  target.append(form,
    el("h2", {}, `Commits ${count(chart.from)}–${count(chart.to)} per ${chart.unit}`),
    el("p", { class: "status" }, `${count(chart.commits)} commits` +
      (chart.untimed_commits ? `, ${count(chart.untimed_commits)} without a time` : "")),
    bars(chart),
    el("h2", {}, "Events per name"),
    table(["name", "events", ""], nameRows, { id: "names-table" }));
}
