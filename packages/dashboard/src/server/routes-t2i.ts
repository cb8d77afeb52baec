import type { DashboardState } from './server.ts';
import type { Router } from './router.ts';
import { readJson, sendJson } from './http-util.ts';
import { listT2iModels, planT2iGenerate } from './adapters/t2i.ts';

/** Text to image: the models on offer, and generation jobs (workers/t2i-generate.ts). */
export function registerT2iRoutes(router: Router<DashboardState>): void {
  router.add('GET', '/api/t2i/models', ({ res, state }) => {
    sendJson(res, 200, { directory: state.modelDirectory, models: listT2iModels(state.modelDirectory, state.shippedT2iModels) });
  });
  router.add('POST', '/api/t2i/generate', async ({ req, res, state }) => {
    const request = planT2iGenerate(await readJson(req), state.modelDirectory, state.shippedT2iModels);
    const job = state.jobs.start('t2i-generate', request);
    sendJson(res, 201, { id: job.id, kind: job.kind });
  });
}
