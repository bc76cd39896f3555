// Draw: a canvas to draw on; each stroke is sent (as a PNG) to the chosen run's model.
import { api, element, drawGrey, drawColours, diverging } from "./common.js";

const LINE_WIDTH = 20;
// The drawing is sent at 112x112, not 280x280: framing (the same as `predict` gives a
// file) takes about a quarter of the time, and the framed digit is 28x28 anyway.
const SENT_SIDE = 112;

export class DrawView {
  constructor(state) {
    this.state = state;
    this.canvas = document.getElementById("draw-canvas");
    this.context = this.canvas.getContext("2d");
    this.inFlight = false;
    this.again = false;
    this.image = null;  // the last drawing or upload, as a PNG blob
    this.clear();
    this.listen();
    drawColours(document.getElementById("saliency-scale"),
                [Array.from({length: 140}, (_, i) => 2 * i / 139 - 1)], diverging);
  }

  clear() {
    this.generation = (this.generation || 0) + 1;  // answers to earlier drawings are dropped
    this.context.fillStyle = "#000";
    this.context.fillRect(0, 0, this.canvas.width, this.canvas.height);
    this.image = null;
    this.drawn = false;
    document.getElementById("prediction").textContent = "–";
    document.getElementById("probabilities").replaceChildren();
    document.getElementById("activations").replaceChildren();
    document.getElementById("timing").textContent = "";
    for (const id of ["model-input", "saliency"]) {
      const canvas = document.getElementById(id);
      canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
    }
  }

  listen() {
    let last = null;
    const point = event => {
      const box = this.canvas.getBoundingClientRect();
      return [(event.clientX - box.left) * this.canvas.width / box.width,
              (event.clientY - box.top) * this.canvas.height / box.height];
    };
    const stroke = (from, to) => {
      const c = this.context;
      c.strokeStyle = "#fff"; c.lineWidth = LINE_WIDTH; c.lineCap = "round"; c.lineJoin = "round";
      c.beginPath(); c.moveTo(...from); c.lineTo(...to); c.stroke();
      c.fillStyle = "#fff";  // a round end even where the stroke has no length (a dot)
      c.beginPath(); c.arc(...to, LINE_WIDTH / 2, 0, 2 * Math.PI); c.fill();
    };
    // Pointer events cover the mouse, a pen and touch alike.
    this.canvas.addEventListener("pointerdown", event => {
      event.preventDefault();
      this.canvas.setPointerCapture(event.pointerId);
      last = point(event);
      stroke(last, last);
      this.drawn = true;
      this.changed();
    });
    this.canvas.addEventListener("pointermove", event => {
      if (!last) return;
      const now = point(event);
      stroke(last, now);
      last = now;
      this.changed();
    });
    const end = () => { if (last) { last = null; this.changed(); } };
    this.canvas.addEventListener("pointerup", end);
    this.canvas.addEventListener("pointercancel", end);
    document.getElementById("clear").addEventListener("click", () => this.clear());
    document.getElementById("upload").addEventListener("change", event => {
      const file = event.target.files[0];
      if (!file) return;
      this.image = file;
      this.drawn = false;
      this.showUpload(file);
      this.predict();
      event.target.value = "";
    });
  }

  showUpload(file) {
    const picture = new Image();
    picture.onload = () => {
      const c = this.context, scale = Math.min(280 / picture.width, 280 / picture.height);
      c.fillStyle = "#000"; c.fillRect(0, 0, 280, 280);
      const w = picture.width * scale, h = picture.height * scale;
      c.drawImage(picture, (280 - w) / 2, (280 - h) / 2, w, h);
      URL.revokeObjectURL(picture.src);
    };
    picture.src = URL.createObjectURL(file);
  }

  changed() {
    // One request at a time; strokes drawn meanwhile go in the next one.
    if (this.inFlight) { this.again = true; return; }
    const small = document.createElement("canvas");
    small.width = small.height = SENT_SIDE;
    const context = small.getContext("2d");
    context.imageSmoothingQuality = "high";
    context.drawImage(this.canvas, 0, 0, SENT_SIDE, SENT_SIDE);
    small.toBlob(blob => { this.image = blob; this.predict(); }, "image/png");
  }

  modelChanged() {
    if (this.image) this.predict();
  }

  async predict() {
    const run = this.state.modelRun;
    if (!run || !this.image) return;
    this.inFlight = true;
    this.again = false;
    const generation = this.generation;
    try {
      const type = this.image.type === "image/jpeg" ? "image/jpeg" : "image/png";
      const answer = await api(`/api/runs/${encodeURIComponent(run)}/predict`,
                               {method: "POST", headers: {"Content-Type": type}, body: this.image});
      if (generation === this.generation && run === this.state.modelRun) this.render(answer);
    } catch (error) {
      if (generation === this.generation) {
        document.getElementById("prediction").textContent = "–";
        document.getElementById("timing").textContent = error.message;
      }
    } finally {
      this.inFlight = false;
      if (this.again && this.drawn) this.changed();
      else if (run !== this.state.modelRun) this.predict();  // the run changed meanwhile
    }
  }

  render(answer) {
    document.getElementById("prediction").textContent = String(answer.class);
    const bars = document.getElementById("probabilities");
    bars.replaceChildren(...answer.probabilities.flatMap((p, k) => {
      const fill = element("i");
      fill.style.width = `${(100 * p).toFixed(1)}%`;
      const row = k === answer.class ? "top" : "";
      return [element("span", {text: String(k)}),
              element("div", {className: `bar ${row}`, "data-class": String(k)}, fill),
              element("span", {className: "num", text: `${(100 * p).toFixed(1)}%`})];
    }));
    document.getElementById("timing").textContent =
      `answered in ${answer.milliseconds.toFixed(1)} ms on the server`;
    drawGrey(document.getElementById("model-input"), answer.input);
    // Signed, on one symmetric scale: red where more ink would raise the score, blue lower.
    const top = answer.saliency_max || 1;
    drawColours(document.getElementById("saliency"), answer.saliency, v => diverging(v / top));
    document.getElementById("saliency-max").textContent = `+${top.toPrecision(2)}`;
    document.getElementById("saliency-min").textContent = `−${top.toPrecision(2)}`;
    this.showActivations(answer.activations);
  }

  showActivations(activations) {
    const blocks = Object.entries(activations).map(([name, layer]) => {
      const [position, kind] = name.split(" ");
      const heading = element("h3", {text: `${kind} `},
        element("span", {text: `layer ${position}, ${layer.shape.join("x")}`}));
      if (layer.kind === "maps") {  // integers -127..127 of the layer's largest magnitude
        const maps = layer.values.map(map => {
          const canvas = element("canvas");
          drawColours(canvas, map, v => diverging(v / 127));
          return canvas;
        });
        return element("div", {className: "layer"}, heading, element("div", {className: "maps"}, ...maps));
      }
      const values = layer.values;
      const biggest = Math.max(1e-6, ...values.map(Math.abs));
      const canvas = element("canvas", {className: "vector"});
      drawColours(canvas, [values], v => diverging(v / biggest));
      if (values.length > 16) return element("div", {className: "layer"}, heading, canvas);
      // A short vector (the logits): each cell labelled with its index and value.
      const labels = element("div", {className: "vector-labels"},
        ...values.map((v, k) => element("span", {text: `${k}: ${v.toFixed(1)}`})));
      labels.style.gridTemplateColumns = `repeat(${values.length}, 1fr)`;
      return element("div", {className: "layer"}, heading, canvas, labels);
    });
    document.getElementById("activations").replaceChildren(...blocks);
  }
}
