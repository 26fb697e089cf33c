// jest loads global setup outside its module mapper, so the TypeScript sources (which import './x.js') are
// loaded through tsx here, exactly as `npm start` loads them.
import { tsImport } from 'tsx/esm/api';

export default async function globalSetup() {
  const { prepareRun } = await tsImport('./prepare-run.ts', import.meta.url);
  await prepareRun();
}
