// Writes schema.graphql from the Pothos schema (sorted). `npm run schema:print` after changing the schema.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../src/lib/project-root.js';
import { printedSchema } from '../src/schema/print.js';

writeFileSync(path.join(projectRoot, 'schema.graphql'), printedSchema());
console.log('schema.graphql written');
