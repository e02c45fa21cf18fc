/**
 * functions/adapters/undici-parts.ts loads three undici modules by path to keep the rest of undici out of the
 * bundles. This fails when an undici upgrade moves them or stops re-exporting them as they are: then the
 * paths in undici-parts.ts must follow (or the module go back to importing 'undici').
 */
import * as undici from 'undici';
import * as parts from '../../../functions/adapters/undici-parts';

describe('undici-parts', () => {
  it('hands out the very objects undici exports', () => {
    expect(parts.Agent).toBe(undici.Agent);
    expect(parts.buildConnector).toBe(undici.buildConnector);
    expect(parts.errors).toBe(undici.errors);
  });

  it('gives a working Agent and connector (they are undici, not look-alikes)', async () => {
    const agent = new parts.Agent({ connect: parts.buildConnector({ rejectUnauthorized: true }) });
    expect(agent).toBeInstanceOf(undici.Dispatcher);
    expect(new parts.errors.ConnectTimeoutError('x')).toBeInstanceOf(undici.errors.UndiciError);
    await agent.close();
  });
});
