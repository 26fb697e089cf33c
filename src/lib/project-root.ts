import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The directory holding package.json and prisma/, from src/lib (tsx, jest) or dist/lib (compiled). */
export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
