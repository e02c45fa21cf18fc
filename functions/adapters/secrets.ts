/**
 * The two secrets, as Secrets Manager serves them (through @middy/secrets-manager, which JSON-parses
 * SecretString). Errors name what is wrong with the secret's *shape*, never its content.
 */
import { createHash } from 'node:crypto';
import { ConfigurationError } from '../domain/errors';
import type { ApiCredentials } from './identity-plus-credentials';

/**
 * Reads the Identity Plus API certificate secret: JSON `{"certificate","privateKey"}` (PEM) or
 * `{"p12","password"}` (base64 PKCS#12, as Identity Plus issues it).
 */
export function apiCredentialsFromSecret(value: unknown): ApiCredentials {
  if (value && typeof value === 'object') {
    const v = value as Record<string, unknown>;
    if (typeof v.certificate === 'string' && typeof v.privateKey === 'string') {
      if (
        !v.certificate.includes('-----BEGIN CERTIFICATE-----') ||
        !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(v.privateKey)
      ) {
        throw new ConfigurationError('API certificate secret: "certificate" and "privateKey" must be PEM');
      }
      return { certificate: v.certificate, privateKey: v.privateKey };
    }
    if (typeof v.p12 === 'string' && typeof v.password === 'string') {
      if (!/^[A-Za-z0-9+/=\s]+$/.test(v.p12))
        throw new ConfigurationError('API certificate secret: "p12" must be base64');
      return { p12: Buffer.from(v.p12, 'base64'), password: v.password };
    }
  }
  throw new ConfigurationError(
    'API certificate secret must be JSON {"certificate": PEM, "privateKey": PEM} or {"p12": base64, "password": string}',
  );
}

/** Reads the state-signing key secret (a generated string of at least 32 characters) as HMAC key bytes. */
export function stateKeyFromSecret(value: unknown): Buffer {
  const text =
    typeof value === 'string'
      ? value
      : value && typeof value === 'object'
        ? (value as Record<string, unknown>).key
        : undefined;
  if (typeof text !== 'string' || text.length < 32) {
    throw new ConfigurationError('state-signing key secret must be a string of at least 32 characters');
  }
  return Buffer.from(text, 'utf8');
}

/** A fingerprint of a secret value, to notice rotation without keeping the value around for comparison. */
export function secretFingerprint(value: unknown): string {
  return createHash('sha256')
    .update(typeof value === 'string' ? value : JSON.stringify(value ?? null))
    .digest('hex');
}
