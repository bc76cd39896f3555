// Runs: the list of run folders, a run's page (curves, confusion matrix, mistakes) and
// several runs' curves on one chart.
import { api, count, element, drawGrey, percent } from "./common.js";
import { lineChart, COLOURS, percentTick } from "./charts.js";

const range = n => Array.from({length: n}, (_, i) => i + 1);
const curve = values => (values || []).map((v, i) => [i + 1, v === null ? NaN : v]);

export class RunsView {
  constructor(state) {
    this.state = state;
    this.compared = new Set();
    this.details = new Map();
    this.current = null;
  }

  show(runId) {
    this.visible = true;
    this.renderList();
    if (runId) this.open(runId);
    else { document.getElementById("run-page").hidden = true; this.current = null; }
  }

  hide() { this.visible = false; }

  runsChanged() { if (this.visible) this.renderList(); }

  renderList() {
    const body = document.getElementById("run-list");
    const rows = this.state.runs.map(run => {
      const box = element("input", {type: "checkbox", "aria-label": `compare ${run.id}`});
      box.checked = this.compared.has(run.id);
      box.addEventListener("click", event => {
        event.stopPropagation();
        if (box.checked) this.compared.add(run.id); else this.compared.delete(run.id);
        this.renderCompare();
      });
      const epochs = run.max_epochs ? `${run.epochs}/${run.max_epochs}` : String(run.epochs);
      const row = element("tr", {"data-run-id": run.id},
        element("td", {}, box), element("td", {text: run.id}), element("td", {text: run.model}),
        element("td", {text: run.dataset}),
        element("td", {className: "num", text: percent(run.test_accuracy)}),
        element("td", {className: "num", text: epochs}),
        element("td", {className: `status-${run.status}`, text: run.status}));
      if (run.id === this.current) row.classList.add("selected");
      row.addEventListener("click", () => { location.hash = `#runs/${encodeURIComponent(run.id)}`; });
      return row;
    });
    const signature = JSON.stringify(this.state.runs.map(r => [r.id, r.status, r.epochs, r.test_accuracy])) + this.current;
    if (signature !== this.signature) {
      body.replaceChildren(...rows);
      this.signature = signature;
    }
  }

  async detail(runId, fresh = false) {
    if (fresh || !this.details.has(runId)) this.details.set(runId, await api(`/api/runs/${encodeURIComponent(runId)}`));
    return this.details.get(runId);
  }

  async renderCompare() {
    const panel = document.getElementById("compare-panel");
    const ids = [...this.compared];
    panel.hidden = ids.length < 2;
    if (ids.length < 2) return;
    const runs = await Promise.all(ids.map(id => this.detail(id, true).catch(() => null)));
    const series = [];
    runs.forEach((run, i) => {
      if (!run || !run.history) return;
      const colour = COLOURS[i % COLOURS.length];
      series.push({name: `${run.id} validation accuracy`, points: curve(run.history.val_accuracy), colour});
      series.push({name: `${run.id} training loss`, points: curve(run.history.train_loss), colour, dashed: true, right: true, legend: false});
    });
    lineChart(document.getElementById("compare-chart"), series,
              {width: 900, height: 320, xLabel: "epoch", yLabel: "validation accuracy", rightLabel: "training loss", integerX: true, xMin: 1, yFormat: percentTick});
  }

  async open(runId) {
    this.current = runId;
    this.signature = null;
    this.renderList();
    const page = document.getElementById("run-page");
    let run;
    try {
      run = await this.detail(runId, true);
    } catch (error) {
      page.hidden = false;
      document.getElementById("run-title").textContent = `Run ${runId}`;
      document.getElementById("run-summary").textContent = error.message;
      return;
    }
    page.hidden = false;
    document.getElementById("run-title").textContent = `Run ${run.id}`;
    const config = run.config || {};
    document.getElementById("run-summary").textContent =
      `${run.model}, ${config.activation || ""}, ${config.optimizer || ""} lr ${config.learning_rate ?? ""}; ` +
      `data set ${run.dataset}; ${run.epochs} of ${run.max_epochs ?? "?"} epochs; status ${run.status}; ` +
      `test accuracy ${percent(run.test_accuracy)}`;
    this.renderCurves(run);
    this.renderConfusion(run);
    this.showMistakes(run.id);
  }

  renderCurves(run) {
    const box = document.getElementById("learning-curves");
    const history = run.history;
    if (!history || !(history.train_loss || []).length) {
      box.replaceChildren(element("p", {className: "hint", text: "No finished epoch yet."}));
      return;
    }
    const loss = element("div", {className: "chart", "data-chart": "loss"});
    const accuracy = element("div", {className: "chart", "data-chart": "accuracy"});
    box.replaceChildren(loss, accuracy);
    lineChart(loss, [{name: "training", points: curve(history.train_loss)},
                     {name: "validation", points: curve(history.val_loss)}],
              {title: "Loss", xLabel: "epoch", yLabel: "cross-entropy", integerX: true, xMin: 1});
    const series = [{name: "training", points: curve(history.train_accuracy)},
                    {name: "validation", points: curve(history.val_accuracy)}];
    if (run.test_accuracy !== null) {
      series.push({name: `test ${percent(run.test_accuracy)}`, colour: "#1a7f4b", dashed: true,
                   points: [[1, run.test_accuracy], [Math.max(2, history.train_loss.length), run.test_accuracy]]});
    }
    lineChart(accuracy, series, {title: "Accuracy", xLabel: "epoch", yLabel: "accuracy", integerX: true, xMin: 1, yFormat: percentTick});
  }

  renderConfusion(run) {
    const box = document.getElementById("confusion");
    const metrics = run.metrics;
    if (!metrics || !metrics.confusion_matrix) {
      box.replaceChildren(element("p", {className: "hint", text: "No test metrics yet."}));
      return;
    }
    const matrix = metrics.confusion_matrix, names = metrics.class_names;
    const rowTotals = matrix.map(row => row.reduce((a, b) => a + b, 0) || 1);
    const head = element("tr", {}, element("th", {text: "true \\ pred"}), ...names.map(n => element("th", {text: n})));
    const rows = matrix.map((row, t) => element("tr", {}, element("th", {text: names[t]}), ...row.map((count, p) => {
      const share = count / rowTotals[t];
      const cell = element("td", {text: count ? String(count) : "", title: `true ${names[t]}, predicted ${names[p]}: ${count}`,
                                  "data-true": String(t), "data-predicted": String(p)});
      const strength = t === p ? share : Math.min(1, share * 5);
      cell.style.background = t === p ? `rgba(26, 127, 75, ${0.15 + 0.7 * strength})` : (count ? `rgba(194, 58, 43, ${0.12 + 0.75 * strength})` : "#fafafa");
      cell.addEventListener("click", () => {
        box.querySelectorAll("td.chosen").forEach(c => c.classList.remove("chosen"));
        cell.classList.add("chosen");
        this.showCell(run.id, t, p, names);
      });
      return cell;
    })));
    box.replaceChildren(element("table", {}, element("thead", {}, head), element("tbody", {}, ...rows)));
  }

  async showCell(runId, t, p, names) {
    document.getElementById("cell-title").textContent = `Test images of class ${names[t]} predicted as ${names[p]}`;
    await this.gallery(`/api/runs/${encodeURIComponent(runId)}/confusion/${t}/${p}`, answer =>
      `${count(answer.count, "image")}${answer.count > answer.images.length ? `, the first ${answer.images.length} shown` : ""}`);
  }

  async showMistakes(runId) {
    document.getElementById("cell-title").textContent = "Most confident mistakes";
    await this.gallery(`/api/runs/${encodeURIComponent(runId)}/mistakes?n=24`, () => "");
  }

  async gallery(path, caption) {
    const box = document.getElementById("gallery");
    box.replaceChildren(element("p", {className: "hint", text: "loading the test images…"}));
    // Only the latest request fills the gallery: a slow one asked for earlier (the
    // mistakes, while the user already clicked a cell) is dropped when it arrives.
    const token = this.galleryToken = (this.galleryToken || 0) + 1;
    let answer;
    try {
      answer = await api(path);
    } catch (error) {
      if (token === this.galleryToken) box.replaceChildren(element("p", {className: "hint", text: error.message}));
      return;
    }
    if (token !== this.galleryToken) return;
    const names = answer.class_names;
    const figures = answer.images.map(image => {
      const canvas = element("canvas");
      drawGrey(canvas, image.pixels, 255, true);
      const wrong = image.label !== image.prediction;
      return element("figure", {className: wrong ? "wrong" : "", "data-index": String(image.index)}, canvas,
        element("figcaption", {text: `${names[image.label]} → ${names[image.prediction]} ${(100 * image.confidence).toFixed(0)}%`}));
    });
    const note = caption(answer);
    box.replaceChildren(...(note ? [element("p", {className: "hint", text: note})] : []),
                        ...(figures.length ? figures : [element("p", {className: "hint", text: "none"})]));
  }
}
