// Entry of a sweep worker thread when the CLI runs from the TypeScript sources (tests,
// SSDSIM_BUNDLE=off, or a bundle that cannot be built): a worker thread does not inherit the main
// thread's loader, so it registers tsx itself. The compiled CLI starts
// dist/ssdsim-sweep-worker.mjs instead (bin/build.js).
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
