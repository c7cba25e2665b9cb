// vitest globalSetup: `npx vitest run <file>` prepares what the tests load, as `npm run test:unit` does.
import { prepare } from './prepare.mjs';

export default async function setup() {
  await prepare({ log: () => undefined });
}
