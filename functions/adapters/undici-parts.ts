/**
 * The three parts of undici plusgate uses, loaded from their own modules instead of undici's index.
 *
 * undici's index loads everything it has (fetch, WebSocket, the cache, mocks, proxies), and a CommonJS
 * package cannot be tree-shaken, so `import { Agent } from 'undici'` puts all of it in every bundle and makes
 * Node evaluate it on every cold start. These modules are the ones undici's own index re-exports, so the
 * objects are the same; `test/unit/undici-parts.test.ts` fails if an upgrade moves or changes them (undici
 * publishes no `exports` map, so these paths resolve like any file of the package). `npm run bench --
 * cold-start` shows the cost.
 *
 * Types come from undici's published declarations; only the values take the short path.
 *
 * These dispatchers have no `request`, `stream` or `pipeline`: undici's index adds those helpers to every
 * dispatcher when it loads. Code built on these parts uses `dispatch` (as the Identity Plus client does);
 * code that wants `request` imports 'undici' (as the daily self-authority client does).
 */
import type * as Undici from 'undici';

// The deep modules are CommonJS files without declarations of their own: typed from undici's index.
const AgentModule: typeof Undici.Agent = require('undici/lib/dispatcher/agent.js');
const connectModule: typeof Undici.buildConnector = require('undici/lib/core/connect.js');
const errorsModule: typeof Undici.errors = require('undici/lib/core/errors.js');

export const Agent = AgentModule;
export type Agent = Undici.Agent;
export const buildConnector = connectModule;
export const errors = errorsModule;
export type { Dispatcher } from 'undici';
/** What `buildConnector` returns: the function undici calls to open a connection. */
export type Connector = Undici.buildConnector.connector;
