// Shared helpers: the JSON API, small DOM builders and pixel drawing.

export async function api(path, options = {}) {
  const response = await fetch(path, options);
  let body = null;
  try { body = await response.json(); } catch (error) { body = null; }
  if (!response.ok) {
    const message = body && body.error ? body.error : `${response.status} ${response.statusText}`;
    const failure = new Error(message);
    failure.status = response.status;
    throw failure;
  }
  return body;
}

export function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "text") node.textContent = value;
    else if (name === "className") node.className = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child);
  return node;
}

export function notice(message) {
  const box = document.getElementById("notice");
  box.textContent = message || "";
  box.hidden = !message;
}

// "1 epoch", "6 epochs": a count and its noun, as a person writes them.
export function count(n, noun) {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

export function percent(value, digits = 2) {
  return value === null || value === undefined ? "–" : `${(100 * value).toFixed(digits)}%`;
}

// A grey image (rows of numbers 0..scale) into a canvas of its own size.
export function drawGrey(canvas, rows, scale = 1, invert = false) {
  const height = rows.length, width = rows[0].length;
  canvas.width = width; canvas.height = height;
  const context = canvas.getContext("2d");
  const image = context.createImageData(width, height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let v = Math.max(0, Math.min(1, rows[y][x] / scale));
      if (invert) v = 1 - v;
      const i = 4 * (y * width + x);
      image.data[i] = image.data[i + 1] = image.data[i + 2] = Math.round(255 * v);
      image.data[i + 3] = 255;
    }
  }
  context.putImageData(image, 0, 0);
}

// Signed values (saliency, activations): blue for negative, white for zero, red for positive.
export function diverging(v) {
  v = Math.max(-1, Math.min(1, v));
  return v >= 0 ? [255, Math.round(255 * (1 - v)), Math.round(255 * (1 - v))]
                : [Math.round(255 * (1 + v)), Math.round(255 * (1 + v)), 255];
}

export function drawColours(canvas, rows, colour) {
  const height = rows.length, width = rows[0].length;
  canvas.width = width; canvas.height = height;
  const context = canvas.getContext("2d");
  const image = context.createImageData(width, height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [r, g, b] = colour(rows[y][x]);
      const i = 4 * (y * width + x);
      image.data[i] = r; image.data[i + 1] = g; image.data[i + 2] = b; image.data[i + 3] = 255;
    }
  }
  context.putImageData(image, 0, 0);
}
