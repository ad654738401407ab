/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } }],
  },
  testTimeout: 30000,
  // Builds dist/ once per run (when src/ changed) for the tests that start the broker as `npm start` does.
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  // Two cores here: two workers keep PostgreSQL/Redis/xmlsec1-heavy files from starving each other.
  maxWorkers: 2,
};
