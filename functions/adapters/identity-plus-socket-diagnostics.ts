/**
 * Which socket an Identity Plus request went out on, learnt from undici's diagnostics channel: whether it
 * was a reused keep-alive socket decides if a dropped connection may be retried. Subscribes once, when
 * this module loads.
 */
import diagnosticsChannel from 'node:diagnostics_channel';

/** The attempt whose socket is looked up: `reusedSocket` is set when the request is written. */
export interface SocketReuseNote {
  reusedSocket: boolean;
}

// Which attempt is being written right now. undici calls the handler's onRequestStart and publishes
// `undici:client:sendHeaders` (with the socket) synchronously one after the other, so this slot links an
// attempt to its socket without touching undici internals.
let attemptBeingWritten: SocketReuseNote | undefined;
const requestsWrittenPerSocket = new WeakMap<object, number>();
diagnosticsChannel.subscribe('undici:client:sendHeaders', (message) => {
  const attempt = attemptBeingWritten;
  if (attempt === undefined) return;
  attemptBeingWritten = undefined;
  const socket = (message as { socket?: object }).socket;
  if (socket === undefined) return;
  const written = requestsWrittenPerSocket.get(socket) ?? 0;
  requestsWrittenPerSocket.set(socket, written + 1);
  attempt.reusedSocket = written > 0;
});

/**
 * Links the request undici writes next (call from the dispatch handler's onRequestStart) to its socket,
 * setting `attempt.reusedSocket` when that socket carried a request before.
 */
export function noteSocketOfNextRequest(attempt: SocketReuseNote): void {
  attemptBeingWritten = attempt;
  // If undici does not write after all, the slot must not link a later request to this attempt.
  queueMicrotask(() => {
    if (attemptBeingWritten === attempt) attemptBeingWritten = undefined;
  });
}
