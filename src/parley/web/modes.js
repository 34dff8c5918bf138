// Chat modes. The session controller (session.js) is mode-agnostic: it owns the protocol state
// machine (start / waiting / matched / next / stop / reconnect) and the text chat, and calls
// the hooks of the active mode at each step. A mode only adds what is specific to it.
//
// Hooks (all required; text mode shows the no-op shape):
//   mount(ctx)             once, when the chat view is shown in this mode
//   prepare(ctx)           before every `start`: true to go ahead now, or a Promise<boolean>
//                          (video: camera permission). `start` waits until it is true; false
//                          leaves the session idle and the mode explains why.
//   onWelcome(ctx, frame)  every welcome (also after a reconnect); frame.ice has the ICE config
//   onPhase(ctx, phase)    the session phase changed (preparing, connecting, waiting, chatting,
//                          idle, ended)
//   onMatched(ctx, frame)  a pair started; frame.role is "offerer" | "answerer"
//   onFrame(ctx, frame)    a server frame the controller does not know (`signal`, `ice`);
//                          return true when handled
//   onPairEnded(ctx, why)  the pair ended: why is "left" (Next/Stop), "partner_left" or "lost"
//   onStillRefused(ctx, code)  optional: the server refused a moderation still (`frame`) the
//                          mode sent (video: sampler.js backs off or stops)
//   unmount(ctx)           leaving this mode (release the camera)
// `ctx` gives { send(frame) -> id|null, pair() -> string|null, phase() -> string, next(),
// restart() (a new chat when idle), switchMode(id), settings() (the landing form's), view }.
// `startKey` is the translation key of the landing button that starts this mode.
//
// Optional hooks (question.js uses them):
//   startFields(ctx)       extra fields for `start` and `next` (the asker's `question`)
//   describe(key, frame)   a translation key to show instead of the generic status `key`
//                          (waiting, matched, partner_left), or null to keep it
//   onWaiting(ctx, frame)  every `waiting` frame
//   onNotice(ctx, frame)   every `notice` frame, after the session showed it

import { discussMode, questionMode } from "./question.js";
import { videoMode } from "./video.js";

const textMode = Object.freeze({
  id: "text",
  startKey: "landing.start_text",
  hintKey: "landing.mode_hint_text",
  mount() {},
  prepare() {
    return true;
  },
  onWelcome() {},
  onPhase() {},
  onMatched() {},
  onFrame() {
    return false;
  },
  onPairEnded() {},
  unmount() {},
});

export const MODES = Object.freeze({
  text: textMode,
  video: videoMode,
  question: questionMode,
  discuss: discussMode,
});

export function getMode(id) {
  return Object.hasOwn(MODES, id) ? MODES[id] : textMode;
}
