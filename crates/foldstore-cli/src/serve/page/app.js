// The page's views, chosen by the address's hash: #/log, #/commit/N, #/live, #/chart,
// #/health, #/shapes. Each view renders into its own element; the element gets
// data-state="ready" (or "error") when done, which the browser tests wait for.

import { el } from "./dom.js";
import { logView } from "./log.js";
import { commitView, liveView, healthView, shapesView } from "./views.js";
import { chartView } from "./chart.js";

const VIEWS = {
  log: logView,
  commit: commitView,
  live: liveView,
  chart: chartView,
  health: healthView,
  shapes: shapesView,
};

const main = document.getElementById("main");
let stop = null;

async function route() {
  if (stop) {
    stop();
    stop = null;
  }
  const hash = location.hash.startsWith("#/") ? location.hash.slice(2) : "log";
  const [path, query] = hash.split("?");
  const [name, argument] = path.split("/");
  const view = Object.hasOwn(VIEWS, name) ? name : "log";
  for (const link of document.querySelectorAll("nav a")) {
    link.classList.toggle("current", link.dataset.view === view);
  }
  const target = el("div", { class: "view", data: { view, state: "loading" } });
  main.replaceChildren(target);
  try {
    const ended = await VIEWS[view](target, new URLSearchParams(query || ""), argument);
    if (typeof ended === "function") stop = ended;
    target.dataset.state = "ready";
  } catch (error) {
    target.append(el("p", { class: "error" }, `Error: ${error.message}`));
    target.dataset.state = "error";
  }
}

window.addEventListener("hashchange", route);
route();
