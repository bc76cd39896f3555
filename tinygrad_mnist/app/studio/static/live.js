// Live: follow a training run's event log and a search's result store as they grow,
// through Server-Sent Events (/api/runs/{id}/events, /api/searches/{id}/events).
import { count, element, percent } from "./common.js";
import { lineChart, heatGrid, percentTick } from "./charts.js";

// Redraw at most this often: a fast run writes hundreds of batch lines a second.
const REDRAW_MS = 250;

export class LiveView {
  constructor(state) {
    this.state = state;
    this.runPicker = document.getElementById("live-run");
    this.searchPicker = document.getElementById("search-select");
    this.runPicker.addEventListener("change", () => { this.pinned = this.runPicker.value || null; this.choose(); });
    this.searchPicker.addEventListener("change", () => this.followSearch(this.searchPicker.value));
    this.pinned = null;
  }

  show(runId) {
    this.visible = true;
    if (runId) this.pinned = runId;
    this.runsChanged();
    this.loadSearches();
  }

  hide() {
    this.visible = false;
    this.closeRun();
    this.closeSearch();
  }

  runsChanged() {
    if (!this.visible) return;
    const runs = this.state.runs;
    const options = [element("option", {value: "", text: "(the newest running run)"}),
                     ...runs.map(run => element("option", {value: run.id, text: `${run.id} (${run.status})`}))];
    this.runPicker.replaceChildren(...options);
    this.runPicker.value = this.pinned || "";
    this.choose();
    if (!this.searchTimer) this.searchTimer = setTimeout(() => { this.searchTimer = null; this.loadSearches(); }, 3000);
  }

  choose() {
    const runs = this.state.runs;
    const running = runs.filter(run => run.status === "running");
    const chosen = this.pinned || (running[0] || runs.find(run => run.live) || {}).id;
    if (chosen && chosen !== this.followed) this.followRun(chosen);
    if (!chosen && !this.followed) {
      document.getElementById("live-status").textContent = "waiting for a run: start 'tinygrad-mnist train' in a terminal";
    }
  }

  closeRun() {
    if (this.source) this.source.close();
    this.source = null;
    this.followed = null;
  }

  followRun(runId) {
    this.closeRun();
    this.followed = runId;
    this.log = {start: null, batches: [], epochs: [], end: null};
    document.getElementById("live-status").textContent = `run ${runId}: connecting…`;
    this.source = new EventSource(`/api/runs/${encodeURIComponent(runId)}/events`);
    this.source.onmessage = message => {
      let event;
      try { event = JSON.parse(message.data); } catch (error) { return; }
      this.take(event);
    };
    this.source.addEventListener("reset", () => { this.log = {start: null, batches: [], epochs: [], end: null}; });
    this.render();
  }

  take(event) {
    const log = this.log;
    if (event.event === "start") {
      log.start = event; log.end = null;
      if (event.resumed_after !== undefined) log.epochs = log.epochs.filter(e => e.epoch <= event.resumed_after);
    } else if (event.event === "batch") {
      const perEpoch = (log.start && log.start.batches_per_epoch) || 1;
      log.batches.push([event.epoch - 1 + (event.batch + 1) / perEpoch, event.loss, event]);
    } else if (event.event === "epoch") {
      log.epochs.push(event);
    } else if (event.event === "end") {
      log.end = event;
    }
    if (!this.redrawPending) {
      this.redrawPending = true;
      setTimeout(() => { this.redrawPending = false; this.render(); }, REDRAW_MS);
    }
  }

  render() {
    const log = this.log, runId = this.followed;
    if (!log) return;
    const status = document.getElementById("live-status");
    const last = log.batches[log.batches.length - 1];
    const epochs = log.start ? log.start.epochs : "?";
    if (log.end) {
      const finalEpoch = log.epochs[log.epochs.length - 1];
      status.textContent = `run ${runId}: ${log.end.stopped_reason} after ${count(log.end.epochs_run, "epoch")}` +
        (finalEpoch && finalEpoch.val_accuracy !== undefined && finalEpoch.val_accuracy !== null
          ? `, validation accuracy ${percent(finalEpoch.val_accuracy)}` : "");
    } else if (last) {
      const event = last[2];
      status.textContent = `run ${runId}: running, epoch ${event.epoch}/${epochs}, batch ${event.batch + 1}/` +
        `${log.start ? log.start.batches_per_epoch : "?"}, loss ${event.loss === null ? "nan" : event.loss.toFixed(4)}`;
    } else {
      status.textContent = log.start ? `run ${runId}: started, ${count(epochs, "epoch")}` : `run ${runId}: no events yet`;
    }
    status.dataset.state = log.end ? "ended" : last ? "running" : "waiting";
    status.dataset.batches = String(log.batches.length);
    status.dataset.epochs = String(log.epochs.length);
    // Every batch's loss, thinned to at most ~800 points for drawing.
    const step = Math.max(1, Math.ceil(log.batches.length / 800));
    const points = log.batches.filter((_, i) => i % step === 0 || i === log.batches.length - 1).map(b => [b[0], b[1]]);
    lineChart(document.getElementById("live-batches"), [{name: "batch loss", points}],
              {title: "Training loss, every batch", xLabel: "epoch", yLabel: "loss", xMin: 0});
    const curve = key => log.epochs.map(e => [e.epoch, e[key] === null || e[key] === undefined ? NaN : e[key]]);
    lineChart(document.getElementById("live-epochs"),
              [{name: "training accuracy", points: curve("train_accuracy")},
               {name: "validation accuracy", points: curve("val_accuracy")}],
              {title: "Accuracy, every epoch", xLabel: "epoch", yLabel: "accuracy", integerX: true, xMin: 1, yFormat: percentTick});
  }

  // ------------------------------------------------------------------ searches
  async loadSearches() {
    let searches;
    try {
      const response = await fetch("/api/searches");
      searches = response.ok ? await response.json() : [];
    } catch (error) { return; }
    const current = this.searchPicker.value;
    this.searchPicker.replaceChildren(...(searches.length ? searches.map(s =>
      element("option", {value: s.id, text: `${s.id} (${s.trials} trials)`})) : [element("option", {value: "", text: "(none)"})]));
    if (searches.some(s => s.id === current)) this.searchPicker.value = current;
    const chosen = this.searchPicker.value;
    if (chosen && chosen !== this.searchFollowed) this.followSearch(chosen);
    if (!searches.length) document.getElementById("search-status").textContent = "No result store under the runs folder yet: 'tinygrad-mnist search' writes one.";
  }

  closeSearch() {
    if (this.searchSource) this.searchSource.close();
    this.searchSource = null;
    this.searchFollowed = null;
  }

  followSearch(searchId) {
    this.closeSearch();
    if (!searchId) return;
    this.searchFollowed = searchId;
    this.trials = [];
    this.searchSource = new EventSource(`/api/searches/${encodeURIComponent(searchId)}/events`);
    this.searchSource.onmessage = message => {
      this.trials.push(...JSON.parse(message.data).trials);
      this.renderSearch();
    };
  }

  renderSearch() {
    const trials = this.trials;
    const screened = trials.filter(t => t.phase === "holdout" || t.phase === undefined || t.phase === null);
    document.getElementById("search-status").textContent =
      `${this.searchFollowed}: ${count(trials.length, "trial")} finished (${screened.length} screened on the holdout)`;
    const key = t => `${JSON.stringify(t.hidden_sizes)} ${t.activation} ${t.learning_rate}`;
    const ranked = [...screened].sort((a, b) => (b.val_accuracy ?? -1) - (a.val_accuracy ?? -1));
    const head = document.querySelector("table.ranking thead");
    head.replaceChildren(element("tr", {}, ...["rank", "hidden", "activation", "lr", "validation", "test", "epochs", "status"]
      .map(name => element("th", {text: name}))));
    document.getElementById("search-ranking").replaceChildren(...ranked.slice(0, 12).map((t, i) => element("tr", {"data-trial": key(t)},
      element("td", {text: String(i + 1)}), element("td", {text: (t.hidden_sizes || []).join(",") || "none"}),
      element("td", {text: t.activation ?? ""}), element("td", {text: String(t.learning_rate ?? "")}),
      element("td", {className: "num", text: percent(t.val_accuracy)}), element("td", {className: "num", text: percent(t.test_accuracy)}),
      element("td", {className: "num", text: String(t.epochs_run ?? t.epochs ?? "")}), element("td", {text: t.status ?? ""}))));
    // The heat map: one row per architecture and activation, one column per learning rate.
    const rows = [...new Set(screened.map(t => `[${(t.hidden_sizes || []).join(",")}] ${t.activation}`))].sort();
    const rates = [...new Set(screened.map(t => t.learning_rate))].sort((a, b) => a - b);
    const cell = new Map(screened.map(t => [`[${(t.hidden_sizes || []).join(",")}] ${t.activation}|${t.learning_rate}`, t.val_accuracy]));
    if (!rows.length) { document.getElementById("search-heatmap").replaceChildren(); return; }
    heatGrid(document.getElementById("search-heatmap"), rows, rates.map(String),
             (i, j) => cell.get(`${rows[i]}|${rates[j]}`) ?? NaN,
             {title: "Validation accuracy", xLabel: "learning rate", left: 150, format: v => `${(100 * v).toFixed(1)}`});
  }
}
