// Entry of a sweep worker thread: the package runs TypeScript through tsx without a build, and a
// worker thread does not inherit the main thread's loader, so it registers tsx itself.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
