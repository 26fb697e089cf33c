import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { printedSchema } from '../../src/schema/print.js';
import { projectRoot } from '../support/process.js';

describe('schema.graphql', () => {
  it('is the printed Pothos schema (run `npm run schema:print` after changing the schema)', async () => {
    const committed = await readFile(path.join(projectRoot, 'schema.graphql'), 'utf8');
    expect(committed).toBe(printedSchema());
  });
});
