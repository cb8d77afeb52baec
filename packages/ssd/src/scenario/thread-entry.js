// Entry of the simulation thread of `ssdsim run` / `ssdsim replay` (thread.ts) when the CLI runs
// from the TypeScript sources (tests, SSDSIM_BUNDLE=off, or a bundle that cannot be built): a
// worker thread does not inherit the main thread's loader, so it registers tsx itself (as the
// sweep's worker-entry.js does). The compiled CLI starts dist/ssdsim-thread.mjs instead
// (bin/build.js). No upstream counterpart.
import { register } from 'tsx/esm/api';

register();
await import('./thread-worker.ts');
