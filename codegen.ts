import type { CodegenConfig } from '@graphql-codegen/cli';

// Typed documents for the tests and benchmarks, generated from the committed schema.graphql: a test that
// asks for a field the schema no longer has stops compiling.
const config: CodegenConfig = {
  schema: 'schema.graphql',
  documents: ['tests/**/*.ts', 'bench/**/*.ts', '!tests/gql/**'],
  ignoreNoDocuments: true,
  generates: {
    'tests/gql/': {
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: {
        useTypeImports: true,
        enumsAsTypes: true,
        emitLegacyCommonJSImports: false,
        scalars: { DateTime: 'string', JSON: 'unknown', ID: 'string' },
      },
    },
  },
};

export default config;
