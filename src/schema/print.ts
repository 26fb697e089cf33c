import { lexicographicSortSchema, printSchema } from 'graphql';
import { schema } from './index.js';

/** The SDL committed as schema.graphql: sorted, so that it changes only when the schema does. */
export const printedSchema = () => `${printSchema(lexicographicSortSchema(schema))}\n`;
