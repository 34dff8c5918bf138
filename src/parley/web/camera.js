// Your camera and microphone in video mode, without the page: one getUserMedia per visit to
// video mode (kept across Next), mute, camera off (the track stops, so its light goes off) and on
// again (a new track), front or back camera. What goes wrong comes back as a kind ("denied",
// "missing", "busy", "unsupported", "error"); video.js says it and renegotiates.

// What went wrong with the camera, by DOMException name.
const MEDIA_ERRORS = {
  NotAllowedError: "denied",
  SecurityError: "denied",
  NotFoundError: "missing",
  OverconstrainedError: "missing",
  NotReadableError: "busy",
  AbortError: "busy",
};

function mediaErrorKind(err) {
  return MEDIA_ERRORS[err?.name] ?? "error";
}

/** The camera we ask for: `facing` is "user" (front) or "environment" (back). */
function videoConstraints(facing) {
  return {
    width: { ideal: 640 },
    height: { ideal: 480 },
    frameRate: { ideal: 24, max: 30 },
    facingMode: facing,
  };
}

export class LocalMedia {
  constructor() {
    this.stream = null; // MediaStream once allowed
    this.micOn = true;
    this.cameraOn = true;
    this.facing = "user"; // which camera: front ("user") or back ("environment")
    this.cameras = 0; // how many the device has (enumerateDevices), once media was allowed
  }

  /** Is there a stream with a live track (nothing to ask for again)? */
  live() {
    return this.stream !== null &&
      this.stream.getTracks().some((track) => track.readyState === "live");
  }

  /** Ask for the camera and microphone (the camera alone when there is no microphone): null
   *  once granted, else the kind of failure. */
  async open() {
    const md = globalThis.navigator?.mediaDevices;
    if (!md || typeof md.getUserMedia !== "function") return "unsupported";
    let stream;
    try {
      stream = await md.getUserMedia({ audio: true, video: videoConstraints(this.facing) });
    } catch (err) {
      if (mediaErrorKind(err) !== "missing") return mediaErrorKind(err);
      try {
        stream = await md.getUserMedia({ video: videoConstraints(this.facing) }); // no mic
      } catch (err2) {
        return mediaErrorKind(err2);
      }
    }
    for (const track of this.stream?.getTracks() ?? []) track.stop();
    this.stream = stream;
    this.micOn = true;
    this.cameraOn = true;
    return null;
  }

  /** Let go of the camera and microphone (their lights go off). */
  close() {
    for (const track of this.stream?.getTracks() ?? []) track.stop();
    this.stream = null;
    this.micOn = true;
    this.cameraOn = true;
    this.facing = "user";
  }

  /** How many cameras the device has. Devices are only listed in full once media was allowed,
   *  so this runs after `open`. */
  async countCameras() {
    try {
      const devices = await navigator.mediaDevices.enumerateDevices();
      this.cameras = devices.filter((d) => d.kind === "videoinput").length;
    } catch {
      this.cameras = 0;
    }
    return this.cameras;
  }

  /** Microphone off or on (the track stays; it sends silence). False when there is none. */
  toggleMic() {
    const audio = this.stream?.getAudioTracks()[0];
    if (!audio) return false;
    this.micOn = !this.micOn;
    audio.enabled = this.micOn;
    return true;
  }

  /** Stop the camera: its track ends and leaves the stream. */
  stopCamera() {
    for (const track of this.stream?.getVideoTracks() ?? []) {
      track.stop();
      this.stream.removeTrack(track);
    }
    this.cameraOn = false;
  }

  /**
   * Start the camera (`facing`: this one unless given): `{ track }` added to the stream,
   * `{ error }` (the kind) when it could not start, or null when the stream was closed meanwhile.
   */
  async startCamera(facing = this.facing) {
    let track;
    try {
      const s = await navigator.mediaDevices.getUserMedia({ video: videoConstraints(facing) });
      track = s.getVideoTracks()[0];
    } catch (err) {
      return { error: mediaErrorKind(err) };
    }
    if (!this.stream) {
      track.stop();
      return null;
    }
    this.stream.addTrack(track);
    this.cameraOn = true;
    this.facing = facing;
    return { track };
  }

  /** Front camera to back or back to front. Phones often cannot open two cameras at once, so the
   *  old one stops first; what comes back is as `startCamera`'s. */
  async flip() {
    const facing = this.facing === "user" ? "environment" : "user";
    this.stopCamera();
    return this.startCamera(facing);
  }
}
