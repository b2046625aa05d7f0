// Three projects: unit tests need nothing; integration tests get real PostgreSQL 14 and 17 servers,
// the client bundle server and the artifact doubles, started once per run by the global setup; the
// version matrix (every source major into 17 and 18) starts its own servers and runs only through
// `npm run matrix`, not `npm test`.
const esm = {
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }] },
  testEnvironment: 'node',
  // Jest's transform cache stays with the project (its default is the system's temp folder).
  cacheDirectory: '<rootDir>/node_modules/.cache/jest'
}

export default {
  projects: [
    { ...esm, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    {
      ...esm,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.js',
      globalTeardown: '<rootDir>/test/support/global-teardown.js'
    },
    { ...esm, displayName: 'matrix', testMatch: ['<rootDir>/test/matrix/**/*.test.ts'] }
  ],
  // Integration tests run whole migrations against real servers; a project cannot set this.
  testTimeout: 180000
}
