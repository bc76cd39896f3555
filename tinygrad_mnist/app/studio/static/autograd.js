// Autograd: type an expression, see the graph the engine builds (each node's value) and
// step through backward(), one op node at a time, watching the gradients arrive.
import { api, count } from "./common.js";

const SVG = "http://www.w3.org/2000/svg";
const NODE_WIDTH = 190, COLUMN = 250, ROW_GAP = 18;

function svg(tag, attributes = {}, text = null) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text !== null) node.textContent = text;
  return node;
}

function number(v) {
  if (typeof v === "string") return v;  // "nan", "inf"
  const text = Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(1) : String(+v.toFixed(3));
  return text;
}

// An array as text lines: a matrix one row a line, at most 4 lines of 4 numbers.
function lines(value) {
  if (value === null || value === undefined) return [];
  if (!Array.isArray(value)) return [number(value)];
  const rows = Array.isArray(value[0]) ? value : [value];
  const flat = row => Array.isArray(row) ? row.flat(Infinity) : [row];
  const shown = rows.slice(0, 4).map(row => {
    const items = flat(row);
    return "[" + items.slice(0, 4).map(number).join(", ") + (items.length > 4 ? ", …" : "") + "]";
  });
  if (rows.length > 4) shown.push("…");
  return shown;
}

// Parse "a = [[1, 2], [3, 4]]; w = 3x4" into values and shapes.
export function parseAssignments(text) {
  const values = {}, shapes = {};
  for (const part of text.split(/;|\n/)) {
    if (!part.trim()) continue;
    const match = part.match(/^\s*([A-Za-z_]\w*)\s*=\s*(.+?)\s*$/);
    if (!match) throw new Error(`values: expected name = [numbers] or name = 3x4, got "${part.trim()}"`);
    const [, name, right] = match;
    if (/^\d+(\s*x\s*\d+)*$/.test(right)) shapes[name] = right.split("x").map(n => parseInt(n, 10));
    else {
      try { values[name] = JSON.parse(right); }
      catch (error) { throw new Error(`values: ${name}: "${right}" is not a list of numbers`); }
    }
  }
  return {values, shapes};
}

export class AutogradView {
  constructor(state) {
    this.graph = null;
    this.done = -1;
    document.getElementById("autograd-form").addEventListener("submit", event => { event.preventDefault(); this.build(); });
    document.getElementById("autograd-step").addEventListener("click", () => this.step(this.done + 1));
    document.getElementById("autograd-all").addEventListener("click", () => this.step(this.graph.steps.length - 1));
    document.getElementById("autograd-reset").addEventListener("click", () => this.step(-1));
  }

  show() { if (!this.graph) this.build(); }

  async build() {
    const status = document.getElementById("autograd-status");
    let body;
    try {
      const {values, shapes} = parseAssignments(document.getElementById("autograd-values").value);
      body = {expression: document.getElementById("autograd-input").value, values, shapes};
    } catch (error) {
      status.textContent = error.message;
      return;
    }
    try {
      this.graph = await api("/api/autograd", {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
    } catch (error) {
      this.graph = null;
      status.textContent = error.message;
      document.getElementById("autograd-graph").replaceChildren();
      for (const id of ["autograd-step", "autograd-all", "autograd-reset"]) document.getElementById(id).disabled = true;
      return;
    }
    this.layout();
    this.step(-1);
  }

  layout() {
    const {nodes, edges} = this.graph;
    // Column = the longest way from the node to the output: the output on the right.
    const depth = new Array(nodes.length).fill(0);
    for (let changed = true, rounds = 0; changed && rounds < nodes.length + 1; rounds++) {
      changed = false;
      for (const [from, to] of edges) {
        if (depth[from] < depth[to] + 1) { depth[from] = depth[to] + 1; changed = true; }
      }
    }
    const deepest = Math.max(...depth);
    const heights = nodes.map(node => 38 + 14 * (lines(node.value).length + Math.max(1, lines(node.grad).length)));
    const columns = new Map();
    nodes.forEach((node, i) => {
      const column = deepest - depth[i];
      if (!columns.has(column)) columns.set(column, []);
      columns.get(column).push(i);
    });
    this.position = [];
    this.bottoms = [];  // the lowest node's bottom in each column
    let tallest = 0;
    for (const [column, members] of columns) {
      let y = 10;
      for (const i of members) {
        this.position[i] = {x: 10 + column * COLUMN, y, h: heights[i], column};
        y += heights[i] + ROW_GAP;
      }
      this.bottoms[column] = y - ROW_GAP;
      tallest = Math.max(tallest, y);
    }
    this.size = {width: 20 + deepest * COLUMN + NODE_WIDTH, height: tallest + 30};
  }

  step(index) {
    const graph = this.graph;
    if (!graph) return;
    this.done = Math.max(-1, Math.min(index, graph.steps.length - 1));
    const finished = new Set(graph.steps.slice(0, this.done + 1).map(s => s.node));
    // A leaf's gradient is whole once every node that feeds it has had its step.
    const feeders = new Map();
    graph.steps.forEach((s, k) => s.sends_to.forEach(t => { if (!feeders.has(t)) feeders.set(t, []); feeders.get(t).push(k); }));
    const known = i => {
      if (!graph.nodes[i].requires_grad) return false;
      if (finished.has(i)) return true;
      const from = feeders.get(i);
      return graph.nodes[i].leaf && !!from && from.every(k => k <= this.done);
    };
    const current = this.done >= 0 ? graph.steps[this.done] : null;
    this.draw(known, current, finished);
    const status = document.getElementById("autograd-status");
    const total = graph.steps.length;
    if (this.done < 0) {
      status.textContent = `${graph.nodes.length} nodes; backward() has ${count(total, "step")}` +
        (graph.seeded_with_ones ? " (the output is not a scalar: its gradient starts as ones)" : "");
    } else {
      const node = graph.nodes[current.node];
      status.textContent = `step ${this.done + 1}/${total}: ${node.label}.backward sends its gradient to ` +
        (current.sends_to.map(i => graph.nodes[i].label).join(", ") || "nothing that needs one");
    }
    status.dataset.step = String(this.done + 1);
    document.getElementById("autograd-step").disabled = this.done >= total - 1;
    document.getElementById("autograd-all").disabled = this.done >= total - 1;
    document.getElementById("autograd-reset").disabled = this.done < 0;
  }

  draw(known, current, finished) {
    const {nodes, edges} = this.graph;
    const root = svg("svg", {width: this.size.width, height: this.size.height, viewBox: `0 0 ${this.size.width} ${this.size.height}`});
    const defs = svg("defs");
    const marker = svg("marker", {id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse"});
    marker.append(svg("path", {d: "M0,0 L10,5 L0,10 z", fill: "#9aa3b2"}));
    defs.append(marker);
    root.append(defs);
    for (const [from, to] of edges) {
      const a = this.position[from], b = this.position[to];
      const x1 = a.x + NODE_WIDTH, y1 = a.y + a.h / 2, x2 = b.x, y2 = b.y + b.h / 2;
      const flowing = current && current.node === to && current.sends_to.includes(from);
      let d = `M${x1},${y1} C${x1 + 30},${y1} ${x2 - 30},${y2} ${x2},${y2}`;
      if (b.column - a.column > 1) {
        // Skipping columns: pass below their nodes rather than through them.
        const below = Math.max(...this.bottoms.slice(a.column + 1, b.column)) + 14;
        const xm = (x1 + x2) / 2;
        d = `M${x1},${y1} C${x1 + 40},${y1} ${x1 + 20},${below} ${xm},${below} ` +
            `S${x2 - 40},${y2} ${x2},${y2}`;
      }
      root.append(svg("path", {d,
                               class: `edge${flowing ? " flowing" : ""}`, "marker-end": "url(#arrow)"}));
    }
    nodes.forEach((node, i) => {
      const {x, y, h} = this.position[i];
      const classes = ["node", node.leaf ? "leaf" : "op"];
      if (current && current.node === i) classes.push("current");
      else if (finished.has(i)) classes.push("done");
      const group = svg("g", {class: classes.join(" "), "data-node": String(i), "data-label": node.label,
                              "data-grad-shown": known(i) ? "yes" : "no"});
      group.append(svg("rect", {x, y, width: NODE_WIDTH, height: h, rx: node.leaf ? 14 : 4}));
      const title = node.leaf ? `${node.label}  ${node.requires_grad ? "leaf" : "constant"}` : `${node.label}`;
      group.append(svg("text", {x: x + 8, y: y + 16, class: "name"}, title));
      group.append(svg("text", {x: x + NODE_WIDTH - 8, y: y + 16, "text-anchor": "end"}, node.shape.length ? node.shape.join("x") : "scalar"));
      let line = y + 32;
      for (const text of lines(node.value)) { group.append(svg("text", {x: x + 8, y: line}, text)); line += 14; }
      if (node.requires_grad) {
        const shown = known(i);
        const gradLines = shown ? lines(node.grad) : ["grad: not yet"];
        gradLines.forEach((text, k) => {
          group.append(svg("text", {x: x + 8, y: line, class: shown ? "grad" : "pending"}, shown && k === 0 ? `grad ${text}` : (shown ? `     ${text}` : text)));
          line += 14;
        });
      }
      root.append(group);
    });
    document.getElementById("autograd-graph").replaceChildren(root);
  }
}
