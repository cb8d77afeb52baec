/** @flashdiff/dashboard: the local web dashboard for the SSD simulator, YAFFS2 and diffusion. */
export { startDashboardServer } from './server/server.ts';
export type { DashboardServer, DashboardServerOptions, DashboardState } from './server/server.ts';
export { ensureClientBuilt, clientBuildIsStale } from './server/client-build.ts';
export { DashboardError, isDashboardError } from './server/errors.ts';
export type { DashboardErrorCode } from './server/errors.ts';
export { checkRequestOrigin, loopbackPolicy } from './server/security.ts';
export type * from './shared/protocol.ts';
