import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { projectRoot } from '../support/process.js';

// The README's reconnecting client is the file the tests run (tests/integration/events-resume.test.ts): the
// code a developer copies is the code that was proven.
describe('the README', () => {
  it('shows examples/resumable-events.ts exactly', async () => {
    const [readme, example] = await Promise.all([
      readFile(path.join(projectRoot, 'README.md'), 'utf8'),
      readFile(path.join(projectRoot, 'examples', 'resumable-events.ts'), 'utf8'),
    ]);
    expect(readme).toContain(`\`\`\`ts\n${example}\`\`\``);
  });
});
