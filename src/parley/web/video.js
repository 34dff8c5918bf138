// Video mode: the page's side of a video chat (the mode hooks of modes.js, the stranger's and
// your own picture, the buttons, the phone's chat panel). The peer connection is webrtc.js's and
// the camera and microphone camera.js's, both without the page.
//
// - Media: getUserMedia once per visit to video mode (kept across Next); the camera button stops
//   the camera track (its light goes off) and turns the video transceiver to recvonly, which
//   renegotiates; turning it back on gets a new track and renegotiates again. Flip (front/back,
//   shown only with two cameras or more) replaces the track without renegotiating.
// - Signals: a call's `signal` events go out paced (webrtc.js SignalPacer) with the current pair;
//   an incoming signal for another pair is dropped, and a call's events stop touching the page
//   as soon as the pair ends.
// - Failure: webrtc.js restarts ICE once, then says "failed": "Connection failed" with Next.
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
import { LocalMedia } from "./camera.js";
import { StillSampler } from "./sampler.js";
import { Call, SignalPacer } from "./webrtc.js";

// The phone layout (style.css, "video mode on a phone"): the same width as there.
const PHONE_QUERY = "(max-width: 37.5rem)";
// "Not automatically moderated" is said once per visit to video mode, and goes by itself this
// long after the first stranger's picture showed (while waiting it covers nobody).
const VISION_NOTICE_MS = 15_000;
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

class VideoMode {
  constructor() {
    this.id = "video";
    this.startKey = "landing.start_video";
    this.hintKey = "landing.mode_hint_video";
    this.el = null;
    this.ctx = null;
    this.media = new LocalMedia();
    this.acquiring = null; // Promise<boolean> while getUserMedia runs
    this.cameraBusy = false; // a camera change (off, on, flip) is under way
    this.chatOpen = false; // phones: the chat panel over the video
    this.unread = 0; // lines that came while the chat panel was closed
    this.visionNoticeSaid = false; // this visit to video mode
    this.visionNoticeTimer = null;
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
    this.#setChatOpen(false);
    this.pacer = new SignalPacer((frame) => ctx.send(frame));
    this.#syncButtons();
    this.#setBox("off");
    this.#syncVision();
    exposeDebug(this);
  }

  prepare() {
    if (this.media.live()) return true;
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
    // Phones: the chat panel holds the waiting card and Stop/New, so it is open whenever there
    // is no stranger to watch, and closes when a chat starts (a tap opens it again).
    if (phase === "chatting") this.#setChatOpen(false);
    else if (phase === "waiting" || phase === "idle" || phase === "ended") this.#setChatOpen(true);
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
      stream: this.media.stream ?? new MediaStream(),
    });
    call.addEventListener("signal", ({ detail }) => {
      if (this.call === call && ctx.pair() === pair) {
        this.pacer.push({ type: "signal", pair, ...detail });
      }
    });
    call.addEventListener("state", ({ detail }) => {
      if (this.call === call) this.#callState(call, detail);
    });
    call.addEventListener("track", ({ detail }) => {
      if (this.call === call) this.#remoteTrack(detail);
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
    this.media.close();
    this.#hideVisionNotice();
    this.visionNoticeSaid = false;
    this.#setChatOpen(false);
    delete document.body.dataset.chatPanel;
    const el = this.#elements();
    el.local.srcObject = null;
    el.pane.hidden = true;
    document.body.dataset.mode = "text";
    this.#setBox("off");
    this.#syncButtons();
    this.#syncVision();
  }

  // ---- camera and microphone ------------------------------------------------------------------

  async #acquire() {
    const failure = await this.media.open();
    if (failure) {
      this.#setBox(failure);
      return false;
    }
    if (!this.ctx) {
      this.media.close(); // left video mode meanwhile
      return false;
    }
    const local = this.#elements().local;
    local.srcObject = this.media.stream;
    local.play().catch(() => {});
    this.#syncButtons();
    // The flip button is there only when the device has more than one camera.
    this.media.countCameras().then(() => this.#syncButtons());
    return true;
  }

  /** Our own camera's preview while the camera is on (what stills are taken of), else null. */
  #cameraPreview() {
    const track = this.media.stream?.getVideoTracks()[0];
    if (!this.media.cameraOn || !track || track.readyState !== "live" || !track.enabled) return null;
    const local = this.#elements().local;
    return local.srcObject === this.media.stream ? local : null;
  }

  #toggleMic() {
    if (this.media.toggleMic()) this.#syncButtons();
  }

  #toggleCamera() {
    if (!this.media.stream || this.cameraBusy) return;
    this.#changeCamera(async () => {
      if (!this.media.cameraOn) return this.media.startCamera();
      this.media.stopCamera();
      return { track: null };
    });
  }

  #flipCamera() {
    if (!this.media.stream || this.cameraBusy || !this.media.cameraOn) return;
    this.#changeCamera(() => this.media.flip());
  }

  /** One camera change at a time; the call then sends the new track, or none (recvonly). */
  async #changeCamera(change) {
    this.cameraBusy = true;
    this.#syncButtons();
    try {
      const result = await change();
      if (result === null) return; // left video mode meanwhile
      if (result.error) {
        this.ctx?.view.addSystemLine(`video.camera_${result.error}`);
        await this.call?.setVideo(null); // nothing to send (flip: the old camera has stopped)
        return;
      }
      await this.call?.setVideo(result.track);
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
      visionOffText: document.querySelector(".video-pane .vision-toast-text"),
      visionDismiss: $("vision-off-dismiss"),
      flip: $("video-flip"),
      chatToggle: $("chat-panel-toggle"),
      unread: $("chat-unread"),
      messages: $("messages"),
      announce: $("chat-announce"),
    };
    el.flip.addEventListener("click", () => this.#flipCamera());
    el.chatToggle.addEventListener("click", () => {
      this.#setChatOpen(!this.chatOpen);
      if (this.chatOpen && this.ctx && !this.ctx.view.input.disabled) {
        this.ctx.view.input.focus({ preventScroll: true });
      }
    });
    el.visionDismiss.addEventListener("click", () => {
      const focused = document.activeElement === el.visionDismiss;
      this.#hideVisionNotice();
      if (focused) this.#refocus(); // the button is gone
    });
    // What the stranger says while the chat panel is closed (phones) is counted on its button.
    new MutationObserver((changes) => {
      if (this.chatOpen || !this.ctx || !window.matchMedia(PHONE_QUERY).matches) return;
      const added = [];
      for (const change of changes) {
        for (const node of change.addedNodes) {
          // The stranger's lines and a moderator's warning; not our own lines, nor the notes.
          if (node instanceof Element &&
              (node.classList.contains("line-stranger") || node.classList.contains("warning-card"))) {
            added.push(node.textContent);
          }
        }
      }
      if (added.length) {
        this.unread += added.length;
        this.#syncChatToggle();
        el.announce.textContent = added.join("\n"); // text only, as the log shows it
      }
    }).observe(el.messages, { childList: true });
    el.mute.addEventListener("click", () => this.#toggleMic());
    el.camera.addEventListener("click", () => this.#toggleCamera());
    el.retry.addEventListener("click", () => this.ctx?.restart());
    el.next.addEventListener("click", () => this.ctx?.next());
    el.toText.addEventListener("click", () => this.ctx?.switchMode("text"));
    el.reveal.addEventListener("click", () => {
      if (!this.#mayReveal()) return; // never before the verdict in the minor pool
      const focused = document.activeElement === el.reveal;
      this.#reveal("viewer");
      if (focused) this.#refocus(); // the button is gone
    });
    this.el = el;
    return el;
  }

  #setBox(state) {
    this.boxState = state;
    const el = this.#elements();
    if (state === "live") this.#fadeVisionNotice();
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
    el.localBox.hidden = mediaFailed || state === "off" || !this.media.stream;
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
    if (shown && !this.vision && !this.visionNoticeSaid) this.#showVisionNotice();
    else if (!(shown && !this.vision)) this.#hideVisionNotice();
  }

  /** "Not automatically moderated", once: read out (role=status, text set once shown), and
   *  gone when dismissed or after a while, so it never stays over the stranger. */
  #showVisionNotice() {
    const el = this.#elements();
    this.visionNoticeSaid = true;
    el.visionOff.hidden = false;
    el.visionOffText.textContent = t("video.vision_off");
    window.clearTimeout(this.visionNoticeTimer);
    this.visionNoticeTimer = null;
    if (this.boxState === "live") this.#fadeVisionNotice();
  }

  /** Once a stranger's picture shows, the notice goes by itself after a while. */
  #fadeVisionNotice() {
    if (this.visionNoticeTimer !== null || this.#elements().visionOff.hidden) return;
    this.visionNoticeTimer = window.setTimeout(() => this.#hideVisionNotice(), VISION_NOTICE_MS);
  }

  #hideVisionNotice() {
    window.clearTimeout(this.visionNoticeTimer);
    this.visionNoticeTimer = null;
    const el = this.#elements();
    el.visionOff.hidden = true;
    el.visionOffText.textContent = "";
  }

  /** Where focus goes when the focused button went away: the message box, or on a phone with
   *  the chat panel closed (the box out of sight) the panel's button. */
  #refocus() {
    const el = this.#elements();
    const closedPanel = !this.chatOpen && window.matchMedia(PHONE_QUERY).matches;
    const target = closedPanel ? el.chatToggle : this.ctx?.view.input;
    target?.focus({ preventScroll: true });
  }

  /** Phones: the chat panel slides up over the video (style.css reads body[data-chat-panel]). */
  #setChatOpen(open) {
    this.chatOpen = open;
    if (open) this.unread = 0;
    this.#elements().announce.textContent = "";
    document.body.dataset.chatPanel = open ? "open" : "closed";
    this.#syncChatToggle();
  }

  #syncChatToggle() {
    const el = this.#elements();
    el.chatToggle.setAttribute("aria-expanded", String(this.chatOpen));
    const label = t(this.chatOpen ? "video.chat_close" : "video.chat_open");
    el.chatToggle.querySelector(".label").textContent = label;
    el.unread.hidden = this.unread === 0;
    el.unread.textContent = this.unread > 9 ? "9+" : String(this.unread);
    if (this.unread) {
      const count = this.unread === 1 ? t("video.chat_unread_one")
        : t("video.chat_unread_other", { n: this.unread });
      el.chatToggle.setAttribute("aria-label", `${label}, ${count}`);
    } else {
      el.chatToggle.removeAttribute("aria-label");
    }
  }

  #setConnectionState(state) {
    this.#elements().box.dataset.connectionState = state;
  }

  #syncButtons() {
    const el = this.#elements();
    const { stream, micOn, cameraOn } = this.media;
    el.mute.disabled = !stream?.getAudioTracks().length;
    el.mute.dataset.state = micOn ? "on" : "off";
    el.mute.setAttribute("aria-pressed", String(!micOn));
    el.mute.querySelector(".label").textContent = t(micOn ? "video.mute" : "video.unmute");
    el.camera.disabled = !stream || this.cameraBusy;
    el.camera.dataset.state = cameraOn ? "on" : "off";
    el.camera.setAttribute("aria-pressed", String(!cameraOn));
    el.camera.querySelector(".label").textContent =
      t(cameraOn ? "video.camera_off" : "video.camera_on");
    el.localBox.dataset.camera = cameraOn ? "on" : "off";
    el.localBox.dataset.facing = this.media.facing; // the back camera is not mirrored
    el.flip.hidden = this.media.cameras < 2;
    el.flip.disabled = !stream || !cameraOn || this.cameraBusy;
  }

  #retranslate() {
    if (!this.el) return;
    this.#syncButtons();
    this.#syncChatToggle();
    this.#setBox(this.boxState);
    this.#syncChecking();
    if (!this.#elements().visionOff.hidden) {
      this.#elements().visionOffText.textContent = t("video.vision_off");
    }
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
      localStream: () => mode.media.stream,
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
