// Entry of the simulation thread of `ssdsim run` / `ssdsim replay` (thread.ts): the package runs
// TypeScript through tsx without a build, and a worker thread does not inherit the main thread's
// loader, so it registers tsx itself (as the sweep's worker-entry.js does). No upstream counterpart.
import { register } from 'tsx/esm/api';

register();
await import('./thread-worker.ts');
