import { readFileSync } from 'node:fs';

const directory = new URL('../fixtures/meta/', import.meta.url);

/** A Meta fixture's exact bytes as text (signatures are computed over exactly these). */
export const fixtureText = (name: string): string => readFileSync(new URL(name, directory), 'utf8');

export const fixtureJson = <T = unknown>(name: string): T => JSON.parse(fixtureText(name)) as T;
