import type { DashboardState } from './server.ts';
import type { Router } from './router.ts';
import { readJson, sendJson } from './http-util.ts';
import { planSsdRun, ssdOptions } from './adapters/ssd.ts';

export function registerSsdRoutes(router: Router<DashboardState>): void {
  router.add('GET', '/api/ssd/options', ({ res }) => sendJson(res, 200, ssdOptions()));
  router.add('POST', '/api/ssd/runs', async ({ req, res, state }) => {
    const plan = planSsdRun(await readJson(req), (id) => {
      const upload = state.uploads.get(id);
      return { path: upload.path, name: upload.name };
    });
    const job = state.jobs.start('ssd-run', plan);
    sendJson(res, 201, { id: job.id, kind: job.kind });
  });
}
