import { tsImport } from 'tsx/esm/api';

export default async function globalTeardown() {
  const { finishRun } = await tsImport('./finish-run.ts', import.meta.url);
  await finishRun();
}
