/**
 * Four jest projects, one per kind of test (CONTRIBUTING.md says what goes where):
 *   unit         test/unit         no network, no servers: seconds
 *   integration  test/integration  real mutual TLS on loopback, the simulator, dynalite
 *   infra        test/infra        CDK synth and template assertions
 *   e2e          test/e2e          local mode, real curl, real nginx
 * `npm test` runs them all; `npm run test:unit` (etc.) runs one.
 *
 * Jest runs TypeScript through ts-jest in isolatedModules mode (type errors are caught by `tsc --noEmit`
 * in `npm test`), and transforms middy, which ships ESM only.
 */
const shared = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.[tj]sx?$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.jest.json' }],
  },
  transformIgnorePatterns: ['/node_modules/(?!@middy/)'],
  setupFiles: ['<rootDir>/test/support/setup-env.ts'],
};

const project = (name) => ({
  ...shared,
  displayName: name,
  rootDir: __dirname,
  roots: [`<rootDir>/test/${name}`],
  testMatch: ['**/*.test.ts'],
});

module.exports = {
  projects: ['unit', 'integration', 'infra', 'e2e'].map(project),
  // One dev PKI per run, shared by every project (test/support/global-setup.ts).
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  testTimeout: 30000,
};
