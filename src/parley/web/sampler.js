// Stills of our OWN camera for automatic video moderation (docs/protocol.md, "Vision
// moderation"). While the server asks for them with `sample`, a small JPEG of the local camera is
// sent as `frame {pair, jpeg}`; the stranger's stream is never read.
//
// - The latest `sample` for the current pair rules (interval, size, bytes, quality);
//   `interval: null`, the pair ending, Stop and leaving video mode stop it (`stop()`).
// - Camera off: nothing is captured or sent; capture resumes when it is back on.
// - One capture at a time. `rate_limited` stretches the interval (back-off) instead of pushing
//   the session towards a rate-abuse close; a refusal that will not go away stops the pair's
//   sampling.

// The hard ceiling for a still's long side, whatever a `sample` says.
const MAX_PX = 320;
const MIN_INTERVAL_MS = 250; // never capture faster than this, even if told to
const DEFAULT_QUALITY = 0.7;
const RETRY_QUALITY_FACTOR = 0.6; // one retry at lower quality when a still is too big
const MAX_BACKOFF = 8;
const BACKOFF_RESET_MS = 30_000; // this long without `rate_limited`: back to the server's rate
// Refusals that mean "this pair wants no stills from you": stop until the next `sample`.
const STOP_CODES = new Set(["stale_pair", "not_video", "bad_state", "not_chatting"]);
// Refusals of the still itself (our encoding): give up for the pair after this many.
const IMAGE_CODES = new Set(["bad_frame_image", "frame_too_large"]);
const MAX_IMAGE_REFUSALS = 3;

/** A `sample` frame's settings, or null when they are not usable. */
function readSettings(frame) {
  const seconds = Number(frame.interval);
  const maxPx = Math.floor(Number(frame.max_px));
  const maxBytes = Math.floor(Number(frame.max_bytes));
  if (!(seconds > 0) || !(maxPx > 0) || !(maxBytes > 0)) return null;
  const quality = Number(frame.quality);
  return {
    intervalMs: Math.max(MIN_INTERVAL_MS, seconds * 1000),
    maxPx: Math.min(maxPx, MAX_PX),
    maxBytes,
    quality: quality > 0 && quality <= 1 ? quality : DEFAULT_QUALITY,
  };
}

function toJpeg(canvas, quality) {
  return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", quality));
}

/** Standard base64 of a blob's bytes, without the `data:` prefix. */
function base64Of(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => {
      const url = String(reader.result);
      resolve(url.slice(url.indexOf(",") + 1));
    };
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

export class StillSampler {
  /**
   * @param {object} o
   * @param {() => HTMLVideoElement | null} o.source  our camera's preview while the camera is on
   * @param {(frame: object) => number | null} o.send  sends a frame (null when offline)
   * @param {() => string | null} o.currentPair  the session's current pair
   */
  constructor({ source, send, currentPair }) {
    this.source = source;
    this.send = send;
    this.currentPair = currentPair;
    this.pair = null;
    this.settings = null;
    this.timer = null;
    this.busy = false; // a capture is in flight
    this.generation = 0; // bumped by stop(): an in-flight capture of an older one is discarded
    this.lastStart = -Infinity;
    this.backoff = 1;
    this.lastRateLimit = -Infinity;
    this.imageRefusals = 0;
    this.sent = 0;
    this.canvas = null;
  }

  get active() {
    return this.settings !== null;
  }

  /** A `sample` frame from the server (already checked to be for the current video pair). */
  update(frame) {
    if (frame.pair !== this.pair) {
      this.stop();
      this.pair = frame.pair;
    }
    if (frame.interval === null) {
      this.stop();
      return;
    }
    const settings = readSettings(frame);
    if (!settings) return;
    this.settings = settings;
    if (!this.busy) this.#schedule(); // else the capture in flight schedules on its return
  }

  stop() {
    this.generation += 1;
    this.settings = null;
    this.pair = null;
    this.backoff = 1;
    this.imageRefusals = 0;
    this.lastStart = -Infinity;
    window.clearTimeout(this.timer);
    this.timer = null;
  }

  /** The server refused one of our stills with `code`. */
  refused(code) {
    if (!this.active) return;
    if (code === "rate_limited" || code === "server_busy") {
      this.backoff = Math.min(MAX_BACKOFF, this.backoff * 2);
      this.lastRateLimit = performance.now();
      if (!this.busy) this.#schedule();
    } else if (STOP_CODES.has(code)) {
      this.stop();
    } else if (IMAGE_CODES.has(code)) {
      this.imageRefusals += 1;
      if (this.imageRefusals >= MAX_IMAGE_REFUSALS) this.stop();
    }
  }

  #schedule() {
    window.clearTimeout(this.timer);
    this.timer = null;
    if (!this.settings) return;
    if (this.backoff > 1 && performance.now() - this.lastRateLimit > BACKOFF_RESET_MS) {
      this.backoff = 1;
    }
    const due = this.lastStart + this.settings.intervalMs * this.backoff;
    this.timer = window.setTimeout(() => this.#tick(), Math.max(0, due - performance.now()));
  }

  #tick() {
    this.timer = null;
    if (!this.settings || this.busy) return;
    this.busy = true;
    this.lastStart = performance.now();
    this.#capture(this.generation, this.pair, this.settings)
      .catch((err) => console.warn("parley: still not sent:", err))
      .finally(() => {
        this.busy = false;
        if (this.settings) this.#schedule();
      });
  }

  async #capture(generation, pair, { maxPx, maxBytes, quality }) {
    const video = this.source();
    // Camera off, or no picture yet: a camera-off client sends nothing.
    if (!video || video.readyState < 2 || !video.videoWidth || !video.videoHeight) return;
    const scale = Math.min(1, maxPx / Math.max(video.videoWidth, video.videoHeight));
    const canvas = this.canvas ?? (this.canvas = document.createElement("canvas"));
    canvas.width = Math.max(1, Math.floor(video.videoWidth * scale));
    canvas.height = Math.max(1, Math.floor(video.videoHeight * scale));
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    let blob = await toJpeg(canvas, quality);
    if (blob && blob.size > maxBytes) blob = await toJpeg(canvas, quality * RETRY_QUALITY_FACTOR);
    canvas.width = canvas.height = 1; // let the pixels go
    if (!blob || blob.size > maxBytes) return; // still too big: skip this one
    const jpeg = await base64Of(blob);
    // Stopped, or the pair changed, while encoding: this still belongs to nobody now.
    if (generation !== this.generation || pair !== this.currentPair()) return;
    if (this.send({ type: "frame", pair, jpeg }) !== null) this.sent += 1;
  }
}
