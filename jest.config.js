/** @type {import('jest').Config} */
const config = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      { jsc: { parser: { syntax: 'typescript' }, target: 'es2023', experimental: { keepImportAttributes: true } } },
    ],
  },
  // Sources import './x.js' (NodeNext); under jest they are the .ts files. Both targets, so that a stray
  // compiled .js can never shadow its source.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': ['$1.ts', '$1.js'] },
  testMatch: ['<rootDir>/src/**/*.test.ts', '<rootDir>/tests/**/*.test.ts'],
  globalSetup: '<rootDir>/tests/setup/global-setup.mjs',
  globalTeardown: '<rootDir>/tests/setup/global-teardown.mjs',
  testTimeout: 30_000,
  // jest's ESM mode keeps ~10 MB per test file alive (jestjs/jest#14605); recycle workers before that matters.
  workerIdleMemoryLimit: '1GB',
};

export default config;
