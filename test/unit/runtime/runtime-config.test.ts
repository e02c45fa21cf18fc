import { ENV } from '../../../functions/config/names';
import { SETTINGS } from '../../../functions/config/settings';
import { ConfigurationError } from '../../../functions/domain/errors';
import { readRuntimeConfig } from '../../../functions/runtime/runtime-config';

const base = { [ENV.TABLE_NAME]: 'records', [ENV.API_CERT_SECRET]: 'plusgate/api-cert' };

describe('readRuntimeConfig', () => {
  it('applies the documented defaults', () => {
    expect(readRuntimeConfig(base)).toMatchObject({
      tableName: 'records',
      identityPlusApiUrl: 'https://api.identity.plus/v1',
      identityPlusSignonUrl: 'https://signon.identity.plus',
      intentType: 'discover',
      identityPlusService: undefined,
      allowedRoles: [],
      allowedReturnOrigins: [],
      billingAnchorDay: 1,
      pricePerUserYear: 0.9,
      decisionCacheSeconds: 60,
      staleIfErrorSeconds: 0,
      shards: 16,
      retentionMonths: 25,
    });
  });

  it('reads JSON lists and normalises origins', () => {
    const config = readRuntimeConfig({
      ...base,
      [ENV.ALLOWED_ROLES]: '[" member ", ""]',
      [ENV.ALLOWED_RETURN_ORIGINS]: '["https://App.example.com:443/"]',
    });
    expect(config.allowedRoles).toEqual(['member']);
    expect(config.allowedReturnOrigins).toEqual(['https://app.example.com']);
  });

  it('reads every documented intent type', () => {
    for (const type of ['discover', 'validate', 'request', 'bind', 'assume-ownership', 'befriend'])
      expect(readRuntimeConfig({ ...base, [ENV.INTENT_TYPE]: type }).intentType).toBe(type);
  });

  it('reads the service to ask on behalf of, lower-cased; unset or empty is none', () => {
    const env = SETTINGS.identityPlusService.env;
    expect(env).toBe('PLUSGATE_IDENTITY_PLUS_SERVICE');
    expect(readRuntimeConfig({ ...base, [env]: ' Billing.Example.com ' }).identityPlusService).toBe(
      'billing.example.com',
    );
    expect(readRuntimeConfig({ ...base, [env]: '' }).identityPlusService).toBeUndefined();
    expect(readRuntimeConfig(base).identityPlusService).toBeUndefined();
    for (const bad of ['billing_example', 'https://billing.example.com', '-', 'a..b']) {
      expect(() => readRuntimeConfig({ ...base, [env]: bad })).toThrow(
        `${env}: got ${JSON.stringify(bad)}; expected an Identity Plus service id: a DNS name`,
      );
    }
  });

  it('names every problem at once', () => {
    try {
      readRuntimeConfig({
        [ENV.API_CERT_SECRET]: 'x',
        [ENV.BILLING_ANCHOR_DAY]: '31',
        [ENV.ALLOWED_ROLES]: 'member',
        [ENV.IDENTITY_PLUS_API_URL]: 'http://api.identity.plus/v1',
        [ENV.ALLOWED_RETURN_ORIGINS]: '["http://app.example.com"]',
        [ENV.INTENT_TYPE]: 'browse',
      });
      throw new Error('expected a ConfigurationError');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigurationError);
      const message = (err as Error).message;
      expect(message).toContain(`${ENV.TABLE_NAME} is not set`);
      expect(message).toContain(`${ENV.BILLING_ANCHOR_DAY}: got "31"; expected a whole number from 1 to 28`);
      expect(message).toMatch(
        new RegExp(`${ENV.ALLOWED_ROLES}: got "member"; expected [^;]*as a JSON array of strings`),
      );
      expect(message).toContain(
        `${ENV.IDENTITY_PLUS_API_URL}: got "http://api.identity.plus/v1"; expected an https URL`,
      );
      expect(message).toContain(
        `${ENV.ALLOWED_RETURN_ORIGINS}[0]: got "http://app.example.com"; expected an https origin`,
      );
      expect(message).toContain(
        `${ENV.INTENT_TYPE}: got "browse"; expected "discover", "validate", "request", "bind", "assume-ownership" or "befriend"`,
      );
    }
  });
});
