import type { APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { IdentityPlusError } from '../../../functions/domain/errors';
import { createAuthorizer, denyAll } from '../../../functions/handlers/authorizer-app';
import { type DevPki, issueCertificate } from '../../../local/dev-pki';
import { Truststore } from '../../../functions/domain/certificate-chain';
import {
  FakeIdentityPlus,
  MemoryRecords,
  TestClock,
  authenticatorWith,
  cleared,
  problem,
  proxyEvent,
} from '../../support/handler-doubles';
import { testPki } from '../../support/test-pki';

const METHOD_ARN = 'arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/orders';
let pki: DevPki;
beforeAll(async () => {
  pki = await testPki();
});

/** A REQUEST authorizer event: the proxy event's request context (with clientCert) plus the method ARN. */
function authorizerEvent(person?: keyof DevPki['devices']): APIGatewayRequestAuthorizerEvent {
  const proxy = proxyEvent({ path: '/orders', clientCertPem: person ? pki.devices[person].cert : undefined });
  return { ...proxy, type: 'REQUEST', methodArn: METHOD_ARN } as unknown as APIGatewayRequestAuthorizerEvent;
}

function setup() {
  const identityPlus = new FakeIdentityPlus();
  const records = new MemoryRecords();
  const authorizer = createAuthorizer({
    authenticator: authenticatorWith(identityPlus, records, new TestClock()),
    truststore: Truststore.fromPem(pki.caChain),
    now: Date.now,
  });
  identityPlus.answers.set(pki.devices.alice.serial, cleared({ serviceRoles: ['member', 'ops'] }));
  identityPlus.answers.set(pki.devices.carol.serial, problem('PB 0004 Revoked'));
  identityPlus.answers.set(pki.devices.bob.serial, problem('PB 0003 needs validation'));
  return { authorizer, identityPlus, records };
}

describe('authorizer', () => {
  it('allows a cleared certificate on the method, with user, roles and serial in the context, and records it', async () => {
    const t = setup();
    const result = await t.authorizer(authorizerEvent('alice'));
    expect(result.principalId).toBe('org:ref-alice');
    expect(result.policyDocument.Statement).toEqual([
      { Action: 'execute-api:Invoke', Effect: 'Allow', Resource: METHOD_ARN },
    ]);
    expect(result.context).toMatchObject({
      userId: 'org:ref-alice',
      roles: 'member,ops',
      serial: pki.devices.alice.serial,
    });
    expect(t.records.records).toHaveLength(1);
  });

  it.each([
    ['carol', 'revoked'],
    ['bob', 'needs-validation'],
    ['dave', 'unknown-certificate'],
  ] as const)('denies %s (%s)', async (person, reason) => {
    const t = setup();
    const result = await t.authorizer(authorizerEvent(person));
    expect(result.policyDocument.Statement[0]).toMatchObject({ Effect: 'Deny' });
    expect(result.context).toMatchObject({ reason });
    expect(t.records.records).toHaveLength(0);
  });

  it("denies a certificate from another CA carrying alice's serial, without asking Identity Plus", async () => {
    const t = setup();
    const twin = await issueCertificate(pki.foreignCa, { subject: 'CN=twin', serial: pki.devices.alice.serial });
    const event = authorizerEvent('alice');
    event.requestContext.identity.clientCert = {
      ...event.requestContext.identity.clientCert!,
      clientCertPem: twin.cert,
    };
    const result = await t.authorizer(event);
    expect(result.policyDocument.Statement[0]).toMatchObject({ Effect: 'Deny' });
    expect(result.context).toMatchObject({ reason: 'invalid-certificate' });
    expect(t.identityPlus.calls).toBe(0);
  });

  it('escapes commas inside role names', async () => {
    const t = setup();
    t.identityPlus.answers.set(pki.devices.alice.serial, cleared({ serviceRoles: ['a,b', 'c'] }));
    expect((await t.authorizer(authorizerEvent('alice'))).context).toMatchObject({ roles: 'a%2Cb,c' });
  });

  it('denies a request without a client certificate', async () => {
    const t = setup();
    const result = await t.authorizer(authorizerEvent());
    expect(result.policyDocument.Statement[0]).toMatchObject({ Effect: 'Deny' });
    expect(t.identityPlus.calls).toBe(0);
  });

  it('fails closed when Identity Plus cannot answer', async () => {
    const t = setup();
    t.identityPlus.answers.set(pki.devices.alice.serial, new IdentityPlusError('timeout', 'slow'));
    expect((await t.authorizer(authorizerEvent('alice'))).policyDocument.Statement[0]).toMatchObject({
      Effect: 'Deny',
    });
  });

  it('fails closed when the allowed user cannot be recorded', async () => {
    const t = setup();
    t.records.fail = true;
    const result = await t.authorizer(authorizerEvent('alice'));
    expect(result.policyDocument.Statement[0]).toMatchObject({ Effect: 'Deny' });
    expect(result.context).toMatchObject({ decision: 'error' });
  });

  it('denies everything when nothing else can be said', () => {
    expect(denyAll(METHOD_ARN).policyDocument.Statement[0]).toMatchObject({ Effect: 'Deny', Resource: METHOD_ARN });
  });
});
