/**
 * functions/adapters/undici-parts.ts loads three undici modules by path to keep the rest of undici out of the
 * bundles. This fails when an undici upgrade moves them or stops re-exporting them as they are: then the
 * paths in undici-parts.ts must follow (or the module go back to importing 'undici').
 */
import { readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import * as undici from 'undici';
import * as parts from '../../../functions/adapters/undici-parts';

const ADAPTERS = path.resolve(__dirname, '../../../functions/adapters');

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

  it("has dispatch and close without undici's index, but not request: the index adds that", () => {
    // A module registry of its own, where nothing has loaded undici's index (this file's import did, above).
    jest.isolateModules(() => {
      const isolated: typeof parts = require('../../../functions/adapters/undici-parts');
      expect(isolated.Agent).not.toBe(undici.Agent);
      const agent = new isolated.Agent();
      expect(typeof agent.dispatch).toBe('function');
      expect(typeof agent.close).toBe('function');
      expect((agent as unknown as { request?: unknown }).request).toBeUndefined();
      void agent.close();
    });
  });

  it('is used only by adapters that call dispatch, never request, stream or pipeline', () => {
    const users = readdirSync(ADAPTERS)
      .filter((file) => file.endsWith('.ts'))
      .map((file) => ({ file, text: readFileSync(path.join(ADAPTERS, file), 'utf8') }))
      .filter(({ text }) => text.includes("from './undici-parts'"));
    expect(users.map((u) => u.file)).toContain('identity-plus-client.ts');
    for (const { file, text } of users) {
      expect({ file, calls: text.match(/\.(request|stream|pipeline|upgrade|connect)\(/g) ?? [] }).toEqual({
        file,
        calls: [],
      });
    }
  });
});
