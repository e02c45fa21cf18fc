/**
 * The simulator's trust chain download, `GET /download/trust-chain?format=pem`: the CA certificates device
 * certificates chain to, as the real service serves them at
 * `https://platform.identity.plus/download/trust-chain?format=pem` to an agent certificate (the Identity Plus
 * CLI's `get_trust_chain` and the mtls-gateway's `Get_trust_chain` fetch it over mutual TLS and save the
 * body as a PEM file). Here it shares the simulator's host and port.
 */
import { X509Certificate } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendText } from './simulator-http';

/** The path of the download. */
export const TRUST_CHAIN_PATH = '/download/trust-chain';

/**
 * The CA certificates of a PEM bundle, each before the one that issued it (intermediate, then root), as PEM.
 * Throws when the bundle holds no certificate.
 */
export function orderedTrustChain(bundle: string): string {
  const blocks = bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new Error('the CA bundle holds no certificate');
  const certificates = blocks.map((pem) => new X509Certificate(pem));
  const depth = (certificate: X509Certificate, seen: Set<X509Certificate>): number => {
    const issuer = certificates.find(
      (candidate) =>
        candidate !== certificate &&
        !seen.has(candidate) &&
        certificate.checkIssued(candidate) &&
        certificate.verify(candidate.publicKey),
    );
    return issuer ? 1 + depth(issuer, new Set([...seen, certificate])) : 0;
  };
  const depths = new Map(certificates.map((certificate) => [certificate, depth(certificate, new Set())]));
  return [...certificates]
    .sort((a, b) => (depths.get(b) ?? 0) - (depths.get(a) ?? 0))
    .map((certificate) => certificate.toString())
    .join('');
}

/**
 * Serves the trust chain: 403 to anything but an accepted API certificate, 405 to methods other than GET
 * and HEAD, 400 to a `format` other than `pem`; `transportFault` answers for an injected transport fault.
 */
export async function serveTrustChain(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: { readonly agent: boolean; readonly chain: string; readonly transportFault: () => Promise<boolean> },
): Promise<void> {
  if (!ctx.agent) {
    sendText(res, 403, 'The trust chain is served to service agent certificates only.');
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    sendText(res, 405, 'The trust chain takes GET.');
    return;
  }
  const format = new URL(req.url ?? '/', 'https://simulator.invalid').searchParams.getAll('format');
  if (format.length !== 1 || format[0] !== 'pem') {
    sendText(res, 400, 'format must be pem.');
    return;
  }
  if (await ctx.transportFault()) return;
  res.writeHead(200, {
    'Content-Type': 'application/x-pem-file',
    'Content-Length': Buffer.byteLength(ctx.chain),
    'Cache-Control': 'no-store',
  });
  res.end(ctx.chain);
}
