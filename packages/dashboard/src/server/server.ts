import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DashboardError } from './errors.ts';
import { readJson, sendBytes, sendError, sendJson } from './http-util.ts';
import { JobManager } from './jobs.ts';
import { Router } from './router.ts';
import { checkRequestOrigin, loopbackPolicy, type OriginPolicy } from './security.ts';
import { serveStatic } from './static-files.ts';
import { UploadStore } from './uploads.ts';
import { PageSessions, contextOf, requestContext, sessionIdOf } from './page-sessions.ts';
import { probeCapabilities } from './capabilities.ts';
import { registerSsdRoutes } from './routes-ssd.ts';
import { registerYaffsRoutes, YaffsSessions } from './routes-yaffs2.ts';
import { registerDiffusionRoutes } from './routes-diffusion.ts';
import { registerT2iRoutes } from './routes-t2i.ts';
import { DEFAULT_BUILD_DIR } from './client-build.ts';
import { shippedModelDirectory, shippedTextToImageDirectories } from '@flashdiff/diffusion/shipped-model';
import { defaultCheckpointDirectory, defaultModelDirectory } from './checkpoints.ts';

/** Everything one server instance owns. */
export interface DashboardState {
  readonly jobs: JobManager;
  readonly uploads: UploadStore;
  readonly sessions: PageSessions;
  readonly yaffs: YaffsSessions;
  /** The folder whose sub-folders are offered as diffusion checkpoints. */
  readonly checkpointDirectory: string;
  /** The trained model shipped with @flashdiff/diffusion, offered before the folder's checkpoints (null: none). */
  readonly shippedCheckpoint: string | null;
  /** The folder whose diffusers folders and .safetensors files are offered as text-to-image models. */
  readonly modelDirectory: string;
  /** The text-to-image models shipped with @flashdiff/diffusion, the default first (offered first). */
  readonly shippedT2iModels: readonly string[];
}

export interface DashboardServerOptions {
  /** TCP port on 127.0.0.1; 0 picks a free one (tests). */
  readonly port?: number;
  /** Directory of the built client (default packages/dashboard/build). */
  readonly buildDir?: string;
  readonly checkpointDirectory?: string;
  /** Default: the package's shipped model when present; null leaves it out. */
  readonly shippedCheckpoint?: string | null;
  readonly modelDirectory?: string;
  /** Default: the package's shipped text-to-image models that are present; [] leaves them out. */
  readonly shippedT2iModels?: readonly string[];
  /** How long a page may be gone before its jobs are cancelled (default ORPHAN_GRACE_MS). */
  readonly orphanGraceMs?: number;
}

export interface DashboardServer {
  /** e.g. "http://127.0.0.1:5178/" */
  readonly url: string;
  readonly port: number;
  readonly state: DashboardState;
  close(): Promise<void>;
}

function buildRouter(): Router<DashboardState> {
  const router = new Router<DashboardState>();
  router.add('GET', '/api/health', ({ res }) => sendJson(res, 200, { ok: true }));
  router.add('GET', '/api/capabilities', async ({ res }) => sendJson(res, 200, await probeCapabilities()));

  // Uploads: the raw body is the file, streamed to disk; ?name= is its original name (a label
  // only); ?session= the page session it belongs to (deleted when that session ends).
  router.add('POST', '/api/uploads', async ({ req, res, url, state }) => {
    const session = sessionIdOf(url.searchParams.get('session')) ?? requestContext.getStore()?.session;
    const upload = await state.uploads.receive(req, res, url.searchParams.get('name') ?? 'upload', session);
    sendJson(res, 201, { id: upload.id, name: upload.name, size: upload.size });
  });
  router.add('DELETE', '/api/uploads/:id', ({ res, params, state }) => {
    if (!state.uploads.delete(params.id!)) throw new DashboardError('NOT_FOUND', `no upload '${params.id}'`);
    sendJson(res, 200, { deleted: params.id });
  });

  // Page sessions: the page holds this stream open; when it goes away its jobs are cancelled.
  router.add('GET', '/api/sessions/:id/presence', ({ res, params, state }) => state.sessions.attach(sessionIdOf(params.id!)!, res));

  // Jobs: started by the feature routes; observed and cancelled here.
  router.add('GET', '/api/jobs', ({ res, state }) => sendJson(res, 200, state.jobs.list().map((j) => j.describe())));
  router.add('GET', '/api/jobs/:id', ({ res, params, state }) => sendJson(res, 200, state.jobs.get(params.id!).describe()));
  router.add('GET', '/api/jobs/:id/events', ({ res, params, state }) => state.jobs.get(params.id!).subscribe(res));
  router.add('POST', '/api/jobs/:id/cancel', ({ res, params, state }) => {
    const job = state.jobs.get(params.id!);
    job.cancel();
    sendJson(res, 202, job.describe());
  });
  router.add('POST', '/api/jobs/:id/control', async ({ req, res, params, state }) => {
    const job = state.jobs.get(params.id!);
    job.control(await readJson(req));
    sendJson(res, 202, job.describe());
  });
  router.add('GET', '/api/jobs/:id/files/:name', ({ res, params, state }) => {
    const file = state.jobs.get(params.id!).files.get(params.name!);
    if (!file) throw new DashboardError('NOT_FOUND', `job ${params.id} has no file '${params.name}'`);
    sendBytes(res, file.bytes, file.contentType, params.name);
  });

  registerSsdRoutes(router);
  registerYaffsRoutes(router);
  registerDiffusionRoutes(router);
  registerT2iRoutes(router);
  return router;
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  router: Router<DashboardState>,
  state: DashboardState,
  policy: OriginPolicy,
  buildDir: string,
): Promise<void> {
  const refusal = checkRequestOrigin(req, policy);
  if (refusal !== null) throw new DashboardError('FORBIDDEN', refusal);
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  if (url.pathname.startsWith('/api/')) {
    const found = router.match(req.method ?? 'GET', url.pathname);
    if ('handler' in found) {
      await requestContext.run(contextOf(req), () => found.handler({ req, res, url, params: found.params, state }));
      return;
    }
    if (found.methodMismatch) {
      res.setHeader('Allow', found.allowed.join(', '));
      throw new DashboardError('METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${url.pathname} (${found.allowed.join(', ')})`);
    }
    throw new DashboardError('NOT_FOUND', `no API route ${url.pathname}`);
  }
  if (!(await serveStatic(req, res, buildDir))) throw new DashboardError('NOT_FOUND', `no file ${url.pathname}`);
}

/** Starts the dashboard's HTTP server on 127.0.0.1 (never on another interface). */
export async function startDashboardServer(options: DashboardServerOptions = {}): Promise<DashboardServer> {
  const buildDir = options.buildDir ?? DEFAULT_BUILD_DIR;
  const state: DashboardState = {
    jobs: new JobManager(),
    uploads: new UploadStore(),
    sessions: new PageSessions((session) => {
      state.jobs.cancelOrphans(session);
      state.uploads.deleteSession(session);
    }, options.orphanGraceMs),
    yaffs: new YaffsSessions(),
    checkpointDirectory: options.checkpointDirectory ?? defaultCheckpointDirectory(),
    shippedCheckpoint: options.shippedCheckpoint !== undefined ? options.shippedCheckpoint : shippedModelDirectory(),
    modelDirectory: options.modelDirectory ?? defaultModelDirectory(),
    shippedT2iModels: options.shippedT2iModels ?? shippedTextToImageDirectories(),
  };
  const router = buildRouter();
  let policy = loopbackPolicy(options.port ?? 0);
  const server: Server = createServer((req, res) => {
    handle(req, res, router, state, policy, buildDir).catch((e: unknown) => sendError(res, e));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  policy = loopbackPolicy(port);
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    state,
    async close() {
      await state.jobs.closeAll();
      state.yaffs.closeAll();
      state.sessions.close();
      state.uploads.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
