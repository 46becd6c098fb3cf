#!/usr/bin/env node
// Draws the app and tray icons with no dependencies (no ImageMagick here): shapes are signed
// distance functions, anti-aliased by 4x4 supersampling, written by a small PNG encoder (zlib +
// CRC32). The output is deterministic; the generated PNGs are checked in.
//
//   build/icon.png                      512x512 app icon (electron-builder makes .ico/.icns from it)
//   resources/icon.png                  256x256 window and notification icon
//   resources/tray/<state>.png, @2x     16x16 and 32x32 tray icons: earning idle paused offline error
//
// Usage: node scripts/make-icons.js
import { deflateSync } from 'node:zlib';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

// ---------------------------------------------------------------- PNG encoding

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** RGBA 8-bit, non-interlaced; every row with filter 0 (none). */
function encodePng(width, height, rgba) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // colour type RGBA
  ihdr[10] = 0; // deflate
  ihdr[11] = 0; // adaptive filtering
  ihdr[12] = 0; // no interlace
  const raw = Buffer.alloc((width * 4 + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (width * 4 + 1)] = 0;
    Buffer.from(rgba.buffer, rgba.byteOffset + y * width * 4, width * 4).copy(
      raw,
      y * (width * 4 + 1) + 1,
    );
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

// ---------------------------------------------------------------- drawing

/** Shapes in a unit square (0..1); negative distance is inside. */
const sdf = {
  circle: (cx, cy, r) => (x, y) => Math.hypot(x - cx, y - cy) - r,
  ring: (cx, cy, r, w) => (x, y) => Math.abs(Math.hypot(x - cx, y - cy) - r) - w / 2,
  roundRect: (cx, cy, hw, hh, r) => (x, y) => {
    const qx = Math.abs(x - cx) - hw + r;
    const qy = Math.abs(y - cy) - hh + r;
    return Math.hypot(Math.max(qx, 0), Math.max(qy, 0)) + Math.min(Math.max(qx, qy), 0) - r;
  },
  /** A thick line segment with round caps. */
  segment: (ax, ay, bx, by, w) => (x, y) => {
    const px = x - ax;
    const py = y - ay;
    const dx = bx - ax;
    const dy = by - ay;
    const t = Math.max(0, Math.min(1, (px * dx + py * dy) / (dx * dx + dy * dy)));
    return Math.hypot(px - dx * t, py - dy * t) - w / 2;
  },
  /** A convex polygon, its points in either winding order. */
  polygon: (points) => (x, y) => {
    let positive = 0;
    let negative = 0;
    let best = Infinity;
    for (let i = 0; i < points.length; i++) {
      const [ax, ay] = points[i];
      const [bx, by] = points[(i + 1) % points.length];
      const cross = (bx - ax) * (y - ay) - (by - ay) * (x - ax);
      if (cross > 0) positive++;
      else if (cross < 0) negative++;
      best = Math.min(best, sdf.segment(ax, ay, bx, by, 0)(x, y));
    }
    return positive === 0 || negative === 0 ? -best : best;
  },
  union:
    (...shapes) =>
    (x, y) =>
      Math.min(...shapes.map((s) => s(x, y))),
};

/** A colour, or a function of (x, y) giving one: [r, g, b, a] with a in 0..1. */
function hex(value, alpha = 1) {
  const n = parseInt(value.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255, alpha];
}

function linear(from, to, angle) {
  const a = hex(from);
  const b = hex(to);
  const dx = Math.cos(angle);
  const dy = Math.sin(angle);
  return (x, y) => {
    const t = Math.max(0, Math.min(1, ((x - 0.5) * dx + (y - 0.5) * dy) / Math.SQRT2 + 0.5));
    return [0, 1, 2, 3].map((i) => a[i] + (b[i] - a[i]) * t);
  };
}

/**
 * Renders layers ({ shape, fill }) into RGBA with SS x SS samples per pixel, compositing
 * "source over" in premultiplied space.
 */
function render(size, layers, ss = 4) {
  const out = new Uint8ClampedArray(size * size * 4);
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      let r = 0;
      let g = 0;
      let b = 0;
      let a = 0;
      for (let sy = 0; sy < ss; sy++) {
        for (let sx = 0; sx < ss; sx++) {
          const x = (px + (sx + 0.5) / ss) / size;
          const y = (py + (sy + 0.5) / ss) / size;
          let cr = 0;
          let cg = 0;
          let cb = 0;
          let ca = 0;
          for (const layer of layers) {
            if (layer.shape(x, y) > 0) continue;
            const [lr, lg, lb, la] =
              typeof layer.fill === 'function' ? layer.fill(x, y) : layer.fill;
            cr = lr * la + cr * (1 - la);
            cg = lg * la + cg * (1 - la);
            cb = lb * la + cb * (1 - la);
            ca = la + ca * (1 - la);
          }
          r += cr;
          g += cg;
          b += cb;
          a += ca;
        }
      }
      const n = ss * ss;
      const i = (py * size + px) * 4;
      const alpha = a / n;
      out[i] = alpha > 0 ? Math.round(r / n / alpha) : 0;
      out[i + 1] = alpha > 0 ? Math.round(g / n / alpha) : 0;
      out[i + 2] = alpha > 0 ? Math.round(b / n / alpha) : 0;
      out[i + 3] = Math.round(alpha * 255);
    }
  }
  return out;
}

// ---------------------------------------------------------------- the icons

/** The app icon: a GPU chip on a blue-violet tile, a green "earning" spark on the die. */
function appIcon() {
  const pins = [];
  for (let i = 0; i < 4; i++) {
    const t = 0.365 + i * 0.09;
    pins.push(sdf.roundRect(t, 0.2, 0.018, 0.05, 0.012)); // top
    pins.push(sdf.roundRect(t, 0.8, 0.018, 0.05, 0.012)); // bottom
    pins.push(sdf.roundRect(0.2, t, 0.05, 0.018, 0.012)); // left
    pins.push(sdf.roundRect(0.8, t, 0.05, 0.018, 0.012)); // right
  }
  return [
    { shape: sdf.roundRect(0.5, 0.5, 0.47, 0.47, 0.11), fill: linear('#3157ff', '#7b35e8', 0.8) },
    { shape: sdf.union(...pins), fill: hex('#dfe6ff') },
    { shape: sdf.roundRect(0.5, 0.5, 0.25, 0.25, 0.05), fill: hex('#ffffff') },
    { shape: sdf.roundRect(0.5, 0.5, 0.18, 0.18, 0.035), fill: linear('#1f2a5a', '#2c1f5a', 0.8) },
    { shape: sdf.circle(0.5, 0.5, 0.13), fill: hex('#2fd07a', 0.18) },
    { shape: bolt(), fill: hex('#39e58c') },
  ];
}

/** A lightning bolt: two overlapping triangles. */
function bolt() {
  return sdf.union(
    sdf.polygon([
      [0.545, 0.335],
      [0.415, 0.535],
      [0.535, 0.535],
    ]),
    sdf.polygon([
      [0.465, 0.465],
      [0.585, 0.465],
      [0.455, 0.665],
    ]),
  );
}

/** Tray icons: one disc per state, each colour and glyph different, with a dark rim for light trays. */
function trayIcon(state) {
  const disc = sdf.circle(0.5, 0.5, 0.44);
  const rim = sdf.circle(0.5, 0.5, 0.47);
  const white = hex('#ffffff');
  const base = (color) => [
    { shape: rim, fill: hex('#1b1f24', 0.55) },
    { shape: disc, fill: hex(color) },
  ];
  switch (state) {
    case 'earning': // green, a "running" triangle
      return [
        ...base('#22a559'),
        {
          shape: sdf.polygon([
            [0.4, 0.29],
            [0.72, 0.5],
            [0.4, 0.71],
          ]),
          fill: white,
        },
      ];
    case 'idle': // blue, a hollow centre: ready, waiting for work
      return [...base('#3b82f6'), { shape: sdf.circle(0.5, 0.5, 0.17), fill: white }];
    case 'paused': // amber, two bars
      return [
        ...base('#f0a30a'),
        { shape: sdf.roundRect(0.39, 0.5, 0.065, 0.2, 0.02), fill: white },
        { shape: sdf.roundRect(0.61, 0.5, 0.065, 0.2, 0.02), fill: white },
      ];
    case 'offline': // grey ring with a slash
      return [
        { shape: rim, fill: hex('#1b1f24', 0.55) },
        { shape: disc, fill: hex('#8a9099') },
        { shape: sdf.circle(0.5, 0.5, 0.3), fill: hex('#c9ced6') },
        { shape: sdf.segment(0.3, 0.7, 0.7, 0.3, 0.13), fill: hex('#5b616a') },
      ];
    case 'error': // red, an exclamation mark
      return [
        ...base('#dc2f3c'),
        { shape: sdf.roundRect(0.5, 0.42, 0.06, 0.17, 0.05), fill: white },
        { shape: sdf.circle(0.5, 0.72, 0.07), fill: white },
      ];
    default:
      throw new Error(`unknown tray state ${state}`);
  }
}

function write(relPath, size, layers) {
  const file = join(root, relPath);
  mkdirSync(dirname(file), { recursive: true });
  // Small icons get more samples: their edges are most of the picture.
  const png = encodePng(size, size, render(size, layers, size <= 32 ? 8 : 4));
  writeFileSync(file, png);
  console.log(`${relPath}  ${size}x${size}  ${png.length} bytes`);
}

write('build/icon.png', 512, appIcon());
write('resources/icon.png', 256, appIcon());
for (const state of ['earning', 'idle', 'paused', 'offline', 'error']) {
  write(`resources/tray/${state}.png`, 16, trayIcon(state));
  write(`resources/tray/${state}@2x.png`, 32, trayIcon(state));
}
