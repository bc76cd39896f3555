// The page: four views behind the tabs, chosen by the address's #fragment.
import { api, notice } from "./common.js";
import { DrawView } from "./draw.js";
import { RunsView } from "./runs.js";
import { LiveView } from "./live.js";
import { AutogradView } from "./autograd.js";

const state = { runs: [], modelRun: null };
const views = {
  draw: new DrawView(state),
  runs: new RunsView(state),
  live: new LiveView(state),
  autograd: new AutogradView(state),
};
const select = document.getElementById("run-select");

async function refreshRuns() {
  try {
    state.runs = await api("/api/runs");
  } catch (error) {
    notice(`Cannot list the runs: ${error.message}`);
    return;
  }
  const usable = state.runs.filter(run => run.has_model);
  const chosen = state.modelRun && usable.some(run => run.id === state.modelRun)
    ? state.modelRun : (usable[0] || {}).id || null;
  const options = usable.map(run => {
    const option = document.createElement("option");
    option.value = run.id;
    const score = run.test_accuracy === null ? "" : `, ${(100 * run.test_accuracy).toFixed(2)}%`;
    option.textContent = `${run.id} (${run.model}${score})`;
    return option;
  });
  const same = select.options.length === options.length &&
    options.every((option, i) => select.options[i].textContent === option.textContent);
  if (!same) select.replaceChildren(...options);
  select.value = chosen || "";
  if (chosen !== state.modelRun) {
    state.modelRun = chosen;
    views.draw.modelChanged();
  }
  if (!state.runs.length) {
    notice("No run folders here yet: train one with 'tinygrad-mnist train' (it appears at once).");
  } else {
    notice("");
  }
  for (const view of Object.values(views)) view.runsChanged?.();
}

select.addEventListener("change", () => {
  state.modelRun = select.value;
  views.draw.modelChanged();
});

function route() {
  const [name, ...rest] = (location.hash.replace(/^#/, "") || "draw").split("/");
  const shown = views[name] ? name : "draw";
  for (const [key, view] of Object.entries(views)) {
    document.getElementById(`view-${key}`).hidden = key !== shown;
    if (key !== shown) view.hide?.();
  }
  for (const link of document.querySelectorAll("nav a")) {
    link.classList.toggle("active", link.dataset.view === shown);
  }
  views[shown].show?.(decodeURIComponent(rest.join("/")));
}

window.addEventListener("hashchange", route);
await refreshRuns();
route();
// New runs (a train started in another terminal) appear without a reload.
setInterval(refreshRuns, 2000);
