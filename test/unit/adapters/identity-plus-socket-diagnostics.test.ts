/**
 * Socket reuse as learnt from undici's `undici:client:sendHeaders` diagnostics channel. The messages are
 * published here the way undici publishes them (synchronously after onRequestStart), with plain objects
 * standing in for sockets: no connection is made.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import {
  type SocketReuseNote,
  noteSocketOfNextRequest,
} from '../../../functions/adapters/identity-plus-socket-diagnostics';

const sendHeaders = diagnosticsChannel.channel('undici:client:sendHeaders');

/** An attempt whose request undici writes on `socket` right away. */
function written(socket: object | undefined): SocketReuseNote {
  const attempt: SocketReuseNote = { reusedSocket: false };
  noteSocketOfNextRequest(attempt);
  sendHeaders.publish(socket === undefined ? {} : { socket });
  return attempt;
}

it('calls the first request on a socket new and later ones on it reused', () => {
  const socket = {};
  const other = {};
  expect(written(socket).reusedSocket).toBe(false);
  expect(written(socket).reusedSocket).toBe(true);
  expect(written(other).reusedSocket).toBe(false);
  expect(written(socket).reusedSocket).toBe(true);
});

it('ignores requests written for nobody, so they do not count as earlier use', () => {
  const socket = {};
  sendHeaders.publish({ socket });
  sendHeaders.publish({ socket });
  expect(written(socket).reusedSocket).toBe(false);
});

it('links one published request to one attempt only', () => {
  const socket = {};
  const first = written(socket);
  sendHeaders.publish({ socket });
  expect(first.reusedSocket).toBe(false);
  expect(written(socket).reusedSocket).toBe(true);
});

it('forgets an attempt undici did not write in the same turn', async () => {
  const socket = {};
  written(socket);
  const abandoned: SocketReuseNote = { reusedSocket: false };
  noteSocketOfNextRequest(abandoned);
  await Promise.resolve();
  sendHeaders.publish({ socket });
  expect(abandoned.reusedSocket).toBe(false);
});

it('leaves the attempt as it is when the message carries no socket', () => {
  const attempt = written(undefined);
  expect(attempt.reusedSocket).toBe(false);
  const socket = {};
  written(socket);
  expect(written(socket).reusedSocket).toBe(true);
});
