// Video mode: camera and microphone, one RTCPeerConnection per pair, signalled over the chat
// socket (docs/protocol.md, "Video signalling").
//
// - Media: getUserMedia once per visit to video mode (kept across Next); the camera button stops
//   the camera track (its light goes off) and turns the video transceiver to recvonly, which
//   renegotiates; turning it back on gets a new track and renegotiates again.
// - Negotiation: WebRTC's "perfect negotiation". The `offerer` from `matched` is impolite and
//   makes the first offer; the `answerer` is polite and attaches its tracks when that offer
//   arrives (so there is no glare on the first round). Later rounds (camera, ICE restart) may
//   start on either side.
// - Every signal carries the current pair; a signal for another pair is dropped, and a call's
//   callbacks stop touching the page as soon as the pair ends.
// - Failure: one ICE restart (with the freshest ICE servers), then "Connection failed" with Next.
// - Moderation (docs/protocol.md, "Vision moderation"): when the server moderates video
//   (`welcome.vision`), the page says so, and sends stills of its OWN camera when asked
//   (`sample`, sampler.js). A `moderation` event blurs and covers the stranger's video at once;
//   it stays so until the next pair. Without moderation the page says that too.
// - A guarded first look (docs/protocol.md, "A guarded first look"): with moderation on, each new
//   stranger's video starts blurred (`welcome.first_look`) until the server says a first still
//   of their camera was judged clean (`moderation` `clear`). An adult may press "Show now"
//   sooner; in the minor pool ("hold") there is no such button and the blur holds.
// - "Always start blurred" (the viewer's own choice, remembered on this device): every new
//   stranger's video starts blurred, moderated or not, and shows only when the viewer taps
//   "Show video". It only adds a blur: in the minor pool the tap is offered only once the
//   server's verdict is clean.
//
// Everything the stranger controls reaches the page only as media, never as markup.

import { onLanguageChange, t } from "./i18n.js";
import { StillSampler } from "./sampler.js";

// Not connected this long after the pair started (or after the restart): treat as failed.
const CONNECT_TIMEOUT_MS = 15_000;
// "disconnected" for this long: restart ICE without waiting for Chrome's own "failed".
const DISCONNECTED_GRACE_MS = 4_000;
// Outgoing signals are paced under the server's bucket (20/s, burst 60, shared with the
// any-frame bucket of 20/s, burst 40) so trickle bursts are delayed, never dropped.
const SIGNAL_RATE = 12;
const SIGNAL_BURST = 24;
// The viewer's "always start blurred" choice, on this device.
const ALWAYS_BLUR_KEY = "parley.video.always_blur";

function storedAlwaysBlur() {
  try {
    return window.localStorage.getItem(ALWAYS_BLUR_KEY) === "1";
  } catch {
    return false; // storage disabled: the default
  }
}

function storeAlwaysBlur(on) {
  try {
    if (on) window.localStorage.setItem(ALWAYS_BLUR_KEY, "1");
    else window.localStorage.removeItem(ALWAYS_BLUR_KEY);
  } catch {
    /* storage disabled: the choice lasts for this page only */
  }
}

const VIDEO_CONSTRAINTS = {
  width: { ideal: 640 },
  height: { ideal: 480 },
  frameRate: { ideal: 24, max: 30 },
  facingMode: "user",
};

// What went wrong with the camera, by DOMException name.
const MEDIA_ERRORS = {
  NotAllowedError: "denied",
  SecurityError: "denied",
  NotFoundError: "missing",
  OverconstrainedError: "missing",
  NotReadableError: "busy",
  AbortError: "busy",
};

// Overlay text per state of the stranger's box: [title key, detail key].
const OVERLAY = {
  off: [null, null],
  preparing: ["video.preparing", "video.preparing_detail"],
  waiting: ["video.waiting", null],
  connecting: ["video.connecting", null],
  live: [null, null],
  paused: ["video.paused", null],
  restarting: ["video.restarting", null],
  failed: ["video.failed", "video.failed_detail"],
  left: ["video.left", null],
  idle: ["video.idle", null],
  denied: ["video.denied", "video.denied_detail"],
  missing: ["video.missing", "video.missing_detail"],
  busy: ["video.busy", "video.busy_detail"],
  unsupported: ["video.unsupported", "video.unsupported_detail"],
  error: ["video.media_error", "video.media_error_detail"],
};
const MEDIA_FAILURES = new Set(["denied", "missing", "busy", "unsupported", "error"]);

class SignalPacer {
  constructor(send) {
    this.send = send;
    this.queue = [];
    this.tokens = SIGNAL_BURST;
    this.stamp = performance.now();
    this.timer = null;
  }

  push(frame) {
    this.queue.push(frame);
    this.#pump();
  }

  clear() {
    this.queue = [];
    window.clearTimeout(this.timer);
    this.timer = null;
  }

  #pump() {
    const now = performance.now();
    this.tokens = Math.min(SIGNAL_BURST, this.tokens + ((now - this.stamp) / 1000) * SIGNAL_RATE);
    this.stamp = now;
    while (this.queue.length && this.tokens >= 1) {
      this.tokens -= 1;
      this.send(this.queue.shift());
    }
    if (this.queue.length && this.timer === null) {
      const wait = Math.ceil(((1 - this.tokens) / SIGNAL_RATE) * 1000);
      this.timer = window.setTimeout(() => {
        this.timer = null;
        this.#pump();
      }, wait);
    }
  }
}

/** One peer connection for one pair. Dead (and inert) once `close()` ran. */
class Call {
  constructor({ pair, polite, ice, stream, sendSignal, onState, onRemoteTrack }) {
    this.pair = pair;
    this.polite = polite;
    this.stream = stream;
    this.sendSignal = sendSignal;
    this.onState = onState; // (state) => void: pc.connectionState, "restarting" or "failed"
    this.onRemoteTrack = onRemoteTrack; // (track) => void
    this.closed = false;
    this.restarting = false;
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.settingRemoteAnswer = false;
    this.attached = false;
    this.restarted = false;
    this.failed = false;
    this.negotiations = 0; // completed offer/answer rounds, whichever side offered
    this.localCandidates = 0; // in the current gathering round
    this.inbox = Promise.resolve();
    this.watchdog = null;
    this.graceTimer = null;
    this.startedAt = performance.now(); // the `matched` frame is being handled right now
    this.connectedAt = null;
    this.firstFrameAt = null;
    this.revealedAt = null; // a blurred first look was lifted (see VideoMode.#reveal)
    this.revealedBy = null;
    this.heldByViewer = false; // blurred by the viewer's "always start blurred": only a tap lifts it
    this.cleared = false; // the server judged a first still of the stranger's camera clean

    const pc = new RTCPeerConnection(rtcConfig(ice));
    this.pc = pc;
    pc.onnegotiationneeded = () => this.#negotiate();
    pc.onicecandidate = ({ candidate }) => {
      if (this.closed || !candidate || !candidate.candidate) return;
      this.localCandidates += 1;
      this.sendSignal({ candidate: candidate.toJSON() });
    };
    pc.onicegatheringstatechange = () => {
      if (this.closed) return;
      if (pc.iceGatheringState === "gathering") this.localCandidates = 0;
      // Nothing to offer the other side (e.g. relay-only and the TURN server refused us):
      // this round cannot connect, so do not wait for a timeout.
      if (pc.iceGatheringState === "complete" && this.localCandidates === 0 &&
          pc.connectionState !== "connected") {
        this.#trouble();
      }
    };
    pc.onconnectionstatechange = () => this.#connectionChanged();
    pc.onsignalingstatechange = () => {
      // A negotiation finished: what each side sends may have changed (camera off/on).
      if (!this.closed && pc.signalingState === "stable") this.onState(this.state);
    };
    pc.ontrack = ({ track }) => {
      if (!this.closed) this.onRemoteTrack(track);
    };

    if (!polite) {
      // The offerer sends what it has and always asks to receive both kinds.
      this.#attachLocal();
      for (const kind of ["audio", "video"]) {
        if (!this.#transceiver(kind)) pc.addTransceiver(kind, { direction: "recvonly" });
      }
    }
    this.#armWatchdog();
  }

  /** What the page should show: the connection state, or "restarting" / "failed". */
  get state() {
    if (this.failed) return "failed";
    const raw = this.pc.connectionState;
    if (this.restarting && raw !== "connected") return "restarting";
    return raw;
  }

  /** An incoming signal for this pair; handled strictly in order. */
  receive(signal) {
    this.inbox = this.inbox.then(() => this.#handle(signal)).catch((err) => {
      if (!this.closed) console.warn("parley: signal not applied:", err);
    });
  }

  /** Does the stranger send us video (as last negotiated)? */
  receivingVideo() {
    const dir = this.#transceiver("video")?.currentDirection;
    return dir === "sendrecv" || dir === "recvonly";
  }

  /** Camera on (a track) or off (null): renegotiates through the direction change. */
  async setVideo(track) {
    if (this.closed) return;
    const tx = this.#transceiver("video");
    if (!this.attached || !tx) return; // first negotiation not done: tracks attach then
    if (track) {
      await tx.sender.replaceTrack(track);
      tx.sender.setStreams(this.stream);
      if (tx.direction !== "sendrecv") tx.direction = "sendrecv";
    } else {
      await tx.sender.replaceTrack(null);
      if (tx.direction !== "recvonly") tx.direction = "recvonly";
    }
  }

  /** Fresh TURN credentials: used by the next ICE restart. */
  updateIce(ice) {
    if (this.closed) return;
    try {
      this.pc.setConfiguration({ ...this.pc.getConfiguration(), ...rtcConfig(ice) });
    } catch (err) {
      console.warn("parley: new ICE servers not applied:", err);
    }
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    window.clearTimeout(this.watchdog);
    window.clearTimeout(this.graceTimer);
    const pc = this.pc;
    pc.onnegotiationneeded = pc.onicecandidate = pc.onicegatheringstatechange = null;
    pc.onconnectionstatechange = pc.onsignalingstatechange = pc.ontrack = null;
    pc.close();
  }

  // ---- negotiation ----------------------------------------------------------------------------

  #transceiver(kind) {
    return this.pc.getTransceivers().find(
      (tx) => tx.direction !== "stopped" && tx.receiver.track?.kind === kind,
    );
  }

  /** Send our tracks: new transceivers (offerer) or the ones the offer made (answerer). */
  #attachLocal() {
    this.attached = true;
    for (const track of this.stream.getTracks()) {
      if (track.readyState === "live") this.pc.addTrack(track, this.stream);
    }
  }

  async #negotiate() {
    if (this.closed) return;
    try {
      this.makingOffer = true;
      await this.pc.setLocalDescription();
      if (this.closed) return;
      this.#sendDescription();
    } catch (err) {
      if (!this.closed) console.warn("parley: offer failed:", err);
    } finally {
      this.makingOffer = false;
    }
  }

  #sendDescription() {
    const d = this.pc.localDescription;
    if (d && (d.type === "offer" || d.type === "answer")) {
      if (d.type === "answer") this.negotiations += 1;
      this.sendSignal({ description: { type: d.type, sdp: d.sdp } });
    }
  }

  async #handle({ description, candidate }) {
    if (this.closed) return;
    const pc = this.pc;
    if (description) {
      if (description.type !== "offer" && description.type !== "answer") return;
      const readyForOffer = !this.makingOffer &&
        (pc.signalingState === "stable" || this.settingRemoteAnswer);
      const collision = description.type === "offer" && !readyForOffer;
      this.ignoreOffer = !this.polite && collision;
      if (this.ignoreOffer) return; // ours wins; theirs is rolled back on their side
      this.settingRemoteAnswer = description.type === "answer";
      try {
        await pc.setRemoteDescription({ type: description.type, sdp: String(description.sdp) });
      } finally {
        this.settingRemoteAnswer = false;
      }
      if (this.closed) return;
      if (description.type === "answer") this.negotiations += 1;
      if (description.type === "offer") {
        if (!this.attached) this.#attachLocal();
        await pc.setLocalDescription();
        if (this.closed) return;
        this.#sendDescription();
      }
    } else if (candidate && typeof candidate.candidate === "string") {
      if (!candidate.candidate) return; // end-of-candidates: nothing to do in a browser
      try {
        await pc.addIceCandidate({
          candidate: candidate.candidate,
          sdpMid: candidate.sdpMid ?? null,
          sdpMLineIndex: candidate.sdpMLineIndex ?? null,
          usernameFragment: candidate.usernameFragment ?? null,
        });
      } catch (err) {
        if (!this.ignoreOffer) throw err;
      }
    }
  }

  // ---- connection state, restart and failure --------------------------------------------------

  #connectionChanged() {
    if (this.closed) return;
    const state = this.pc.connectionState;
    window.clearTimeout(this.graceTimer);
    if (state === "connected") {
      window.clearTimeout(this.watchdog);
      if (this.connectedAt === null) this.connectedAt = performance.now();
      this.restarting = false;
    } else if (state === "failed") {
      this.#trouble(); // reports the new state itself
      return;
    } else if (state === "disconnected") {
      this.graceTimer = window.setTimeout(() => {
        if (!this.closed && this.pc.connectionState === "disconnected") this.#trouble();
      }, DISCONNECTED_GRACE_MS);
    }
    this.onState(this.state);
  }

  #armWatchdog() {
    window.clearTimeout(this.watchdog);
    this.watchdog = window.setTimeout(() => {
      if (!this.closed && this.pc.connectionState !== "connected") this.#trouble();
    }, CONNECT_TIMEOUT_MS);
  }

  /** The connection cannot work as it is: restart ICE once, then give up. */
  #trouble() {
    if (this.closed || this.failed) return;
    if (!this.restarted) {
      this.restarted = true;
      this.restarting = true;
      this.localCandidates = 0;
      this.pc.restartIce(); // negotiationneeded → an offer with new ICE credentials
      this.#armWatchdog();
    } else {
      this.failed = true;
      window.clearTimeout(this.watchdog);
    }
    this.onState(this.state);
  }
}

function rtcConfig(ice) {
  const servers = Array.isArray(ice?.ice_servers) ? ice.ice_servers : [];
  const iceServers = servers
    .filter((s) => s && (typeof s.urls === "string" || Array.isArray(s.urls)))
    .map((s) => {
      const out = { urls: s.urls };
      if (typeof s.username === "string") out.username = s.username;
      if (typeof s.credential === "string") out.credential = s.credential;
      return out;
    });
  const policy = ice?.ice_transport_policy === "relay" ? "relay" : "all";
  return { iceServers, iceTransportPolicy: policy };
}

function mediaErrorKind(err) {
  return MEDIA_ERRORS[err?.name] ?? "error";
}

class VideoMode {
  constructor() {
    this.id = "video";
    this.startKey = "landing.start_video";
    this.hintKey = "landing.mode_hint_video";
    this.el = null;
    this.ctx = null;
    this.stream = null;
    this.acquiring = null; // Promise<boolean> while getUserMedia runs
    this.cameraBusy = false; // a camera toggle is under way
    this.micOn = true;
    this.cameraOn = true;
    this.ice = null;
    this.call = null;
    this.remoteStream = null;
    this.pacer = null;
    this.boxState = "off";
    this.stats = { negotiations: 0, calls: [] }; // calls: times of the ended ones
    this.vision = null; // welcome.vision: is video moderated automatically? (null: not told yet)
    this.endedPair = null; // the pair that just ended: its late `moderation` still blurs
    // welcome.first_look: "none" (shown at once), "blur" (until checked, or the viewer's
    // choice), "hold" (until checked: the minor pool).
    this.firstLook = "none";
    this.clearedPair = null; // a `clear` that came before its `matched` (never expected)
    this.alwaysBlur = storedAlwaysBlur(); // the viewer's choice, on this device
    // Its checkbox is on the landing form (under the video mode), so it is set before a chat.
    const alwaysBlurBox = document.querySelector('[data-testid="always-blur"]');
    if (alwaysBlurBox) {
      alwaysBlurBox.checked = this.alwaysBlur;
      alwaysBlurBox.addEventListener("change", () => {
        // For the next stranger on: a picture already on screen stays as it is.
        this.alwaysBlur = alwaysBlurBox.checked;
        storeAlwaysBlur(this.alwaysBlur);
      });
    }
    this.sampler = new StillSampler({
      source: () => this.#cameraPreview(),
      send: (frame) => this.ctx?.send(frame) ?? null,
      currentPair: () => this.ctx?.pair() ?? null,
    });
    onLanguageChange(() => this.#retranslate());
  }

  // ---- mode hooks -------------------------------------------------------------------------------

  mount(ctx) {
    this.ctx = ctx;
    const el = this.#elements();
    el.pane.hidden = false;
    document.body.dataset.mode = "video";
    this.pacer = new SignalPacer((frame) => ctx.send(frame));
    this.#syncButtons();
    this.#setBox("off");
    this.#syncVision();
    exposeDebug(this);
  }

  prepare() {
    if (this.#hasLiveMedia()) return true;
    if (!this.acquiring) {
      this.acquiring = this.#acquire().finally(() => {
        this.acquiring = null;
      });
    }
    return this.acquiring;
  }

  onWelcome(ctx, frame) {
    if (frame.ice && typeof frame.ice === "object") this.ice = frame.ice;
    // A server that does not say it moderates does not: the page never claims more.
    this.vision = frame.vision === true;
    // Anything unknown from a moderating server holds: the stricter reading.
    const look = frame.first_look;
    this.firstLook = !this.vision || look === "none" || look === undefined ? "none"
      : look === "blur" ? "blur" : "hold";
    if (!this.vision) this.sampler.stop();
    this.#syncVision();
  }

  onPhase(ctx, phase) {
    if (phase === "preparing") this.#setBox("preparing");
    else if (phase === "connecting" || phase === "waiting") this.#setBox("waiting");
    else if (phase === "idle" && !["left", "failed", ...MEDIA_FAILURES].includes(this.boxState)) {
      this.#setBox("idle");
    }
  }

  onMatched(ctx, frame) {
    this.#endCall();
    this.sampler.stop();
    this.endedPair = null;
    this.#setBlurred(false); // a flag on the last stranger is not this one's
    const pair = frame.pair;
    const call = new Call({
      pair,
      polite: frame.role !== "offerer",
      ice: this.ice,
      stream: this.stream ?? new MediaStream(),
      sendSignal: (body) => {
        if (this.call === call && ctx.pair() === pair) {
          this.pacer.push({ type: "signal", pair, ...body });
        }
      },
      onState: (state) => {
        if (this.call === call) this.#callState(call, state);
      },
      onRemoteTrack: (track) => {
        if (this.call === call) this.#remoteTrack(track);
      },
    });
    this.call = call;
    this.remoteStream = new MediaStream();
    // A new stranger's picture is blurred until checked, when the server moderates video; and
    // until the viewer taps, when they chose "always start blurred".
    call.heldByViewer = this.alwaysBlur;
    this.#setFirstLook(this.firstLook === "none" && !this.alwaysBlur ? "open" : "pending");
    if (this.clearedPair === pair) this.#reveal("verdict");
    this.clearedPair = null;
    this.#setBox("connecting");
    this.#setConnectionState(call.pc.connectionState);
  }

  onFrame(ctx, frame) {
    if (frame.type === "signal") {
      // Only the current pair's signals reach the peer connection.
      if (this.call && frame.pair === this.call.pair && frame.pair === ctx.pair()) {
        this.call.receive(frame);
      }
      return true;
    }
    if (frame.type === "ice") {
      if (frame.ice && typeof frame.ice === "object") {
        this.ice = frame.ice;
        this.call?.updateIce(frame.ice);
      }
      return true;
    }
    if (frame.type === "sample") {
      // Stills only for the current video pair, and only when the server moderates video.
      if (this.vision && this.call && frame.pair === this.call.pair && frame.pair === ctx.pair()) {
        this.sampler.update(frame);
      }
      return true;
    }
    if (frame.type === "moderation" && frame.action === "clear") {
      // A first still of the stranger's camera was judged clean: their picture may show.
      if (typeof frame.pair !== "string") return true;
      if (this.call && frame.pair === this.call.pair) this.#reveal("verdict");
      else if (frame.pair !== this.endedPair) this.clearedPair = frame.pair;
      return true;
    }
    if (frame.type === "moderation") {
      // The stranger's camera showed something: hide it now (the server ends the pair next).
      const ours = frame.pair === this.call?.pair || frame.pair === this.endedPair;
      if (ours && frame.action === "blur" && typeof frame.pair === "string" &&
          !this.#elements().box.dataset.moderated) {
        this.#setBlurred(true);
        ctx.view.addSystemLine("video.blurred_line"); // in the log too: read out, and kept
      }
      return true;
    }
    return false;
  }

  /** The server refused one of our stills (`frame`): sampling adjusts; the user is not told. */
  onStillRefused(ctx, code) {
    this.sampler.refused(code);
  }

  onPairEnded(ctx, why) {
    this.endedPair = this.call?.pair ?? null;
    this.sampler.stop();
    this.#endCall();
    this.#setBox(why === "partner_left" ? "left" : "idle");
  }

  unmount() {
    this.ctx = null;
    this.sampler.stop();
    this.endedPair = null;
    this.clearedPair = null;
    this.#setBlurred(false);
    this.#setFirstLook("open");
    this.#endCall();
    this.pacer?.clear();
    for (const track of this.stream?.getTracks() ?? []) track.stop();
    this.stream = null;
    this.micOn = true;
    this.cameraOn = true;
    const el = this.#elements();
    el.local.srcObject = null;
    el.pane.hidden = true;
    document.body.dataset.mode = "text";
    this.#setBox("off");
    this.#syncButtons();
    this.#syncVision();
  }

  // ---- camera and microphone ------------------------------------------------------------------

  #hasLiveMedia() {
    return this.stream !== null &&
      this.stream.getTracks().some((track) => track.readyState === "live");
  }

  async #acquire() {
    const md = navigator.mediaDevices;
    if (!md || typeof md.getUserMedia !== "function") {
      this.#setBox("unsupported");
      return false;
    }
    let stream;
    try {
      stream = await md.getUserMedia({ audio: true, video: VIDEO_CONSTRAINTS });
    } catch (err) {
      if (mediaErrorKind(err) !== "missing") {
        this.#setBox(mediaErrorKind(err));
        return false;
      }
      try {
        stream = await md.getUserMedia({ video: VIDEO_CONSTRAINTS }); // a camera without a mic
      } catch (err2) {
        this.#setBox(mediaErrorKind(err2));
        return false;
      }
    }
    if (!this.ctx) {
      for (const track of stream.getTracks()) track.stop(); // left video mode meanwhile
      return false;
    }
    this.stream = stream;
    this.micOn = true;
    this.cameraOn = true;
    const local = this.#elements().local;
    local.srcObject = stream;
    local.play().catch(() => {});
    this.#syncButtons();
    return true;
  }

  /** Our own camera's preview while the camera is on (what stills are taken of), else null. */
  #cameraPreview() {
    const track = this.stream?.getVideoTracks()[0];
    if (!this.cameraOn || !track || track.readyState !== "live" || !track.enabled) return null;
    const local = this.#elements().local;
    return local.srcObject === this.stream ? local : null;
  }

  #toggleMic() {
    const audio = this.stream?.getAudioTracks()[0];
    if (!audio) return;
    this.micOn = !this.micOn;
    audio.enabled = this.micOn;
    this.#syncButtons();
  }

  async #toggleCamera() {
    if (!this.stream || this.cameraBusy) return;
    this.cameraBusy = true;
    this.#syncButtons();
    try {
      if (this.cameraOn) {
        for (const track of this.stream.getVideoTracks()) {
          track.stop(); // the camera light goes off
          this.stream.removeTrack(track);
        }
        this.cameraOn = false;
        await this.call?.setVideo(null);
      } else {
        let track;
        try {
          const s = await navigator.mediaDevices.getUserMedia({ video: VIDEO_CONSTRAINTS });
          track = s.getVideoTracks()[0];
        } catch (err) {
          this.ctx?.view.addSystemLine(`video.camera_${mediaErrorKind(err)}`);
          return;
        }
        if (!this.stream) {
          track.stop();
          return;
        }
        this.stream.addTrack(track);
        this.cameraOn = true;
        await this.call?.setVideo(track);
      }
    } finally {
      this.cameraBusy = false;
      this.#syncButtons();
    }
  }

  // ---- the call ---------------------------------------------------------------------------------

  #endCall() {
    const call = this.call;
    this.call = null;
    this.pacer?.clear();
    if (call) {
      this.stats.negotiations += call.negotiations;
      this.stats.calls.push(timesOf(call));
      if (this.stats.calls.length > 50) this.stats.calls.shift();
      call.close();
    }
    this.#clearRemote();
    this.#setConnectionState("none");
  }

  #clearRemote() {
    const remote = this.#elements().remote;
    remote.srcObject = null; // no frozen last frame
    remote.hidden = true;
    if (this.remoteStream) {
      for (const track of this.remoteStream.getTracks()) this.remoteStream.removeTrack(track);
    }
    this.remoteStream = null;
  }

  #remoteTrack(track) {
    const remote = this.#elements().remote;
    if (!this.remoteStream.getTracks().includes(track)) this.remoteStream.addTrack(track);
    if (remote.srcObject !== this.remoteStream) remote.srcObject = this.remoteStream;
    if (track.kind === "video") {
      const call = this.call;
      track.onended = () => {
        if (this.call === call) this.#refreshRemote();
      };
    }
    remote.play().catch(() => {});
    this.#refreshRemote();
  }

  /**
   * Show the stranger's video only while connected and while they send it, as negotiated (their
   * camera button turns their side to recvonly). `track.muted` is not used: after a rolled-back
   * offer (glare) Chrome can leave it true while frames arrive.
   */
  #refreshRemote() {
    const call = this.call;
    if (!call) return;
    const remote = this.#elements().remote;
    const video = this.remoteStream?.getVideoTracks()[0];
    const flowing = Boolean(video) && video.readyState === "live" && call.receivingVideo();
    if (call.state !== "connected") return;
    remote.hidden = !flowing;
    if (flowing && call.firstFrameAt === null) {
      remote.requestVideoFrameCallback?.(() => {
        if (call.firstFrameAt === null) call.firstFrameAt = performance.now();
      });
    }
    this.#setBox(flowing ? "live" : "paused");
  }

  #callState(call, state) {
    this.#setConnectionState(call.pc.connectionState);
    if (state === "connected") {
      this.#refreshRemote();
    } else if (state === "restarting") {
      this.#elements().remote.hidden = true;
      this.#setBox("restarting");
    } else if (state === "failed") {
      this.#elements().remote.hidden = true;
      this.#setBox("failed");
      if (!call.reportedFailure) {
        call.reportedFailure = true;
        this.ctx?.view.addSystemLine("video.failed_line");
      }
    }
  }

  // ---- the page -----------------------------------------------------------------------------------

  #elements() {
    if (this.el) return this.el;
    const $ = (id) => document.querySelector(`[data-testid="${id}"]`);
    const el = {
      pane: $("video-pane"),
      box: $("remote-box"),
      remote: $("remote-video"),
      local: $("local-video"),
      localBox: document.querySelector(".video-pane .local"),
      title: $("video-message"),
      detail: document.querySelector(".video-pane .overlay-detail"),
      retry: $("video-retry"),
      next: $("video-next"),
      toText: $("switch-to-text"),
      mute: $("mute"),
      camera: $("camera"),
      blurred: $("remote-blurred"),
      checking: $("remote-checking"),
      reveal: $("reveal-video"),
      checkingText: document.getElementById("remote-checking-text"),
      visionOn: $("vision-on"),
      visionOff: $("vision-off"),
    };
    el.mute.addEventListener("click", () => this.#toggleMic());
    el.camera.addEventListener("click", () => this.#toggleCamera());
    el.retry.addEventListener("click", () => this.ctx?.restart());
    el.next.addEventListener("click", () => this.ctx?.next());
    el.toText.addEventListener("click", () => this.ctx?.switchMode("text"));
    el.reveal.addEventListener("click", () => {
      if (!this.#mayReveal()) return; // never before the verdict in the minor pool
      const focused = document.activeElement === el.reveal;
      this.#reveal("viewer");
      if (focused) this.ctx?.view.input.focus({ preventScroll: true }); // the button is gone
    });
    this.el = el;
    return el;
  }

  #setBox(state) {
    this.boxState = state;
    const el = this.#elements();
    el.box.dataset.state = state;
    const [title, detail] = OVERLAY[state] ?? [null, null];
    el.title.textContent = title ? t(title) : "";
    el.detail.textContent = detail ? t(detail) : "";
    el.detail.hidden = !detail;
    const mediaFailed = MEDIA_FAILURES.has(state);
    el.retry.hidden = !mediaFailed;
    el.toText.hidden = !mediaFailed;
    el.next.hidden = state !== "failed";
    if (state !== "live" && state !== "paused") el.remote.hidden = true;
    el.localBox.hidden = mediaFailed || state === "off" || !this.stream;
  }

  /** Blur and cover the stranger's video (automatic moderation), or lift that for a new pair. */
  #setBlurred(on) {
    const el = this.#elements();
    if (on) el.box.dataset.moderated = "blur";
    else delete el.box.dataset.moderated;
    el.blurred.hidden = !on;
    el.remote.muted = on; // the sound goes with the picture, before the pair has even ended
    this.#syncChecking();
  }

  /** The first look at this stranger: "pending" (blurred until checked) or "open". */
  #setFirstLook(state) {
    const el = this.#elements();
    el.box.dataset.firstLook = state;
    this.#syncChecking();
  }

  /** Unblur the pending first look: by the server's `clear` ("verdict") or the viewer's choice.
   *  A verdict does not lift a blur the viewer chose to keep until they tap. */
  #reveal(by) {
    const call = this.call;
    if (!call || this.#elements().box.dataset.firstLook !== "pending") return;
    if (by === "verdict") call.cleared = true;
    if (by === "verdict" && call.heldByViewer) {
      this.#syncChecking();
      return;
    }
    call.revealedAt = performance.now();
    call.revealedBy = by;
    this.#setFirstLook("open");
  }

  /** May the viewer show the pending picture now? An adult always (a "blur" first look); in
   *  the minor pool ("hold") only a picture held by their own choice, once judged clean. */
  #mayReveal() {
    const call = this.call;
    if (!call) return false;
    if (this.firstLook === "blur") return true;
    return call.heldByViewer && (this.firstLook === "none" || call.cleared);
  }

  /** Only the viewer's own choice holds the picture now (no verdict is awaited). */
  #heldOnlyByViewer() {
    const call = this.call;
    return Boolean(call?.heldByViewer) && (this.firstLook === "none" || call.cleared);
  }

  /** The caption (checking, or blurred as the viewer chose) and the button that shows it. */
  #syncChecking() {
    const el = this.#elements();
    const pending = el.box.dataset.firstLook === "pending" && !el.box.dataset.moderated;
    el.checking.hidden = !pending;
    const key = this.#heldOnlyByViewer() ? "video.held_by_choice" : "video.checking";
    el.checkingText.dataset.i18n = key;
    el.checkingText.textContent = t(key);
    el.reveal.hidden = !(pending && this.#mayReveal());
  }

  /** Say whether video is moderated automatically, once the server told us (video mode only). */
  #syncVision() {
    const el = this.#elements();
    const shown = this.ctx !== null && this.vision !== null;
    el.visionOn.hidden = !(shown && this.vision);
    el.visionOff.hidden = !(shown && !this.vision);
  }

  #setConnectionState(state) {
    this.#elements().box.dataset.connectionState = state;
  }

  #syncButtons() {
    const el = this.#elements();
    const hasAudio = Boolean(this.stream?.getAudioTracks().length);
    el.mute.disabled = !hasAudio;
    el.mute.dataset.state = this.micOn ? "on" : "off";
    el.mute.setAttribute("aria-pressed", String(!this.micOn));
    el.mute.querySelector(".label").textContent = t(this.micOn ? "video.mute" : "video.unmute");
    el.camera.disabled = !this.stream || Boolean(this.cameraBusy);
    el.camera.dataset.state = this.cameraOn ? "on" : "off";
    el.camera.setAttribute("aria-pressed", String(!this.cameraOn));
    el.camera.querySelector(".label").textContent =
      t(this.cameraOn ? "video.camera_off" : "video.camera_on");
    el.localBox.dataset.camera = this.cameraOn ? "on" : "off";
  }

  #retranslate() {
    if (!this.el) return;
    this.#syncButtons();
    this.#setBox(this.boxState);
    this.#syncChecking();
  }
}

function timesOf(call) {
  const { startedAt, connectedAt, firstFrameAt, revealedAt, revealedBy } = call;
  return { startedAt, connectedAt, firstFrameAt, revealedAt, revealedBy };
}

function allCalls(mode) {
  return mode.call ? [...mode.stats.calls, timesOf(mode.call)] : mode.stats.calls.slice();
}

/** For tests and the curious: read-only views of the call (nothing the console can't reach). */
function exposeDebug(mode) {
  if (window.parleyDebug) return;
  Object.defineProperty(window, "parleyDebug", {
    value: Object.freeze({
      pc: () => mode.call?.pc ?? null,
      pair: () => mode.call?.pair ?? null,
      role: () => (mode.call ? (mode.call.polite ? "answerer" : "offerer") : null),
      localStream: () => mode.stream,
      negotiations: () => mode.stats.negotiations + (mode.call?.negotiations ?? 0),
      stillsSent: () => mode.sampler.sent,
      // Per call of this page (oldest first): ms from `matched` to connected / first frame.
      connectTimes: () => allCalls(mode).filter((c) => c.connectedAt !== null)
        .map((c) => c.connectedAt - c.startedAt),
      firstFrameTimes: () => allCalls(mode).filter((c) => c.firstFrameAt !== null)
        .map((c) => c.firstFrameAt - c.startedAt),
      // ms from `matched` to the unblurring of a first look, what unblurred it ("verdict": the
      // server's `clear`; "viewer": Show now), and ms to the call's first frame (null: none yet).
      revealTimes: () => allCalls(mode).filter((c) => c.revealedAt !== null)
        .map((c) => ({
          ms: c.revealedAt - c.startedAt,
          by: c.revealedBy,
          frameMs: c.firstFrameAt === null ? null : c.firstFrameAt - c.startedAt,
        })),
      firstLook: () => mode.firstLook,
    }),
  });
}

export const videoMode = new VideoMode();
