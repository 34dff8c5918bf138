// WebRTC for video mode, without the page: one RTCPeerConnection per pair, signalled over the chat
// socket (docs/protocol.md, "Video signalling"). Nothing here touches the document; a Call
// reports what happens as events (EventTarget), and video.js shows it.
//
// - Negotiation: WebRTC's "perfect negotiation". The `offerer` from `matched` is impolite and
//   makes the first offer; the `answerer` is polite and attaches its tracks when that offer
//   arrives (so there is no glare on the first round). Later rounds (camera, ICE restart) may
//   start on either side.
// - Every signal carries the current pair (video.js drops a signal for another pair); a call is
//   silent once closed.
// - Failure: one ICE restart (with the freshest ICE servers), then the state "failed".

// Not connected this long after the pair started (or after the restart): treat as failed.
const CONNECT_TIMEOUT_MS = 15_000;
// "disconnected" for this long: restart ICE without waiting for Chrome's own "failed".
const DISCONNECTED_GRACE_MS = 4_000;
// Outgoing signals are paced under the server's bucket (20/s, burst 60, shared with the
// any-frame bucket of 20/s, burst 40) so trickle bursts are delayed, never dropped.
const SIGNAL_RATE = 12;
const SIGNAL_BURST = 24;

/** Sends frames at most SIGNAL_RATE a second (burst SIGNAL_BURST); the rest wait in order. */
export class SignalPacer {
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
    globalThis.clearTimeout(this.timer);
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
      this.timer = globalThis.setTimeout(() => {
        this.timer = null;
        this.#pump();
      }, wait);
    }
  }
}

/**
 * One peer connection for one pair. Dead (and inert) once `close()` ran: no event after that.
 *
 * Events (CustomEvent, `detail` as said):
 * - `signal`: `{ description }` or `{ candidate }` to send to the other side of this pair;
 * - `state`: `call.state` changed or a negotiation finished (detail: the state);
 * - `track`: a remote track arrived (detail: the MediaStreamTrack).
 */
export class Call extends EventTarget {
  constructor({ pair, polite, ice, stream }) {
    super();
    this.pair = pair;
    this.polite = polite;
    this.stream = stream;
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
      this.#emit("signal", { candidate: candidate.toJSON() });
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
      if (!this.closed && pc.signalingState === "stable") this.#emit("state", this.state);
    };
    pc.ontrack = ({ track }) => {
      if (!this.closed) this.#emit("track", track);
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
    globalThis.clearTimeout(this.watchdog);
    globalThis.clearTimeout(this.graceTimer);
    const pc = this.pc;
    pc.onnegotiationneeded = pc.onicecandidate = pc.onicegatheringstatechange = null;
    pc.onconnectionstatechange = pc.onsignalingstatechange = pc.ontrack = null;
    pc.close();
  }

  #emit(type, detail) {
    if (!this.closed) this.dispatchEvent(new CustomEvent(type, { detail }));
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
      this.#emit("signal", { description: { type: d.type, sdp: d.sdp } });
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
    globalThis.clearTimeout(this.graceTimer);
    if (state === "connected") {
      globalThis.clearTimeout(this.watchdog);
      if (this.connectedAt === null) this.connectedAt = performance.now();
      this.restarting = false;
    } else if (state === "failed") {
      this.#trouble(); // reports the new state itself
      return;
    } else if (state === "disconnected") {
      this.graceTimer = globalThis.setTimeout(() => {
        if (!this.closed && this.pc.connectionState === "disconnected") this.#trouble();
      }, DISCONNECTED_GRACE_MS);
    }
    this.#emit("state", this.state);
  }

  #armWatchdog() {
    globalThis.clearTimeout(this.watchdog);
    this.watchdog = globalThis.setTimeout(() => {
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
      globalThis.clearTimeout(this.watchdog);
    }
    this.#emit("state", this.state);
  }
}

export function rtcConfig(ice) {
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
