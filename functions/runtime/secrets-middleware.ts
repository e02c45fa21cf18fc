/**
 * Secrets from Secrets Manager through @middy/secrets-manager, refreshed *on request* after a TTL.
 *
 * middy's own `cacheExpiry` refreshes on a background timer whose failure is an unhandled rejection (it
 * kills the Lambda container, or local mode) and whose timer keeps the event loop alive. Here middy runs
 * with `cacheExpiry: -1` (fetch once); after `ttlMs` a fresh middy instance fetches again on the next
 * request, and if that fetch fails the last good values are served (a Secrets Manager blip must not sign
 * everyone out). Without any good value yet, the failure reaches the error mapper as usual.
 */
import type middy from '@middy/core';
import secretsManager from '@middy/secrets-manager';
import { clearCache } from '@middy/util';
import { SecretUnavailableError } from '../domain/errors';

export interface RefreshingSecretsOptions {
  /** Context key → secret name or ARN. */
  readonly fetchData: Readonly<Record<string, string>>;
  /** Namespace of middy's cache for this set of secrets. */
  readonly cacheKey: string;
  /** How long values are used before the next request fetches again. */
  readonly ttlMs: number;
  readonly now?: () => number;
  /** Told when a refresh failed and the previous values were kept. */
  readonly onStale?: (err: unknown) => void;
}

/** After a failed refresh, how long the previous values are served before asking again. */
const STALE_RETRY_MS = 30_000;

/** Any event and result: secrets do not depend on them. */
// biome-ignore lint/suspicious/noExplicitAny: middy's MiddlewareObj is invariant in its event and result types, and this middleware serves every handler
type AnyMiddleware = middy.MiddlewareObj<any, any, Error, any, any>;

/** Puts the secrets on the request context (`context[<key>]`), as @middy/secrets-manager's `setToContext` does. */
export function refreshingSecrets(options: RefreshingSecretsOptions): AnyMiddleware {
  const now = options.now ?? Date.now;
  const keys = Object.keys(options.fetchData);
  let generation = 0;
  let inner: AnyMiddleware | undefined;
  let innerKey = '';
  let fetchedAt = 0;
  let lastGood: Record<string, unknown> | undefined;
  /** After a failed refresh, serve `lastGood` until then instead of asking again on every request. */
  let staleUntil = 0;

  const fresh = (): AnyMiddleware => {
    if (innerKey) clearCache([innerKey]);
    innerKey = `${options.cacheKey}#${++generation}`;
    fetchedAt = now();
    inner = secretsManager({
      fetchData: { ...options.fetchData },
      setToContext: true,
      cacheKey: innerKey,
      cacheExpiry: -1,
      disablePrefetch: true,
    }) as AnyMiddleware;
    return inner;
  };

  return {
    before: async (request) => {
      if (lastGood && now() < staleUntil) {
        Object.assign(request.context as Record<string, unknown>, lastGood);
        return;
      }
      const current = !inner || now() - fetchedAt >= options.ttlMs ? fresh() : inner;
      try {
        await current.before?.(request);
        const context = request.context as Record<string, unknown>;
        lastGood = Object.fromEntries(keys.map((k) => [k, context[k]]));
      } catch (err) {
        if (!lastGood) {
          inner = undefined; // the next request tries again
          const name = err instanceof Error ? err.name : 'Error';
          throw new SecretUnavailableError(`secrets ${keys.join(', ')} could not be read (${name})`, { cause: err });
        }
        options.onStale?.(err);
        Object.assign(request.context as Record<string, unknown>, lastGood);
        staleUntil = now() + STALE_RETRY_MS;
        inner = undefined; // the retry starts a fresh fetch
      }
    },
  };
}
