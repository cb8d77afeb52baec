import type { DashboardState } from './server.ts';
import type { Router } from './router.ts';
import { readJson, sendJson } from './http-util.ts';
import { listCheckpoints, loadDiffusionNodeApi, planSample, planTrain } from './adapters/diffusion.ts';

export function registerDiffusionRoutes(router: Router<DashboardState>): void {
  router.add('GET', '/api/diffusion/checkpoints', ({ res, state }) => {
    sendJson(res, 200, { directory: state.checkpointDirectory, checkpoints: listCheckpoints(state.checkpointDirectory, state.shippedCheckpoint) });
  });
  router.add('POST', '/api/diffusion/sample', async ({ req, res, state }) => {
    const plan = planSample(await readJson(req), state.checkpointDirectory, state.shippedCheckpoint);
    // Say "not available" now rather than from inside a worker a second later.
    await loadDiffusionNodeApi();
    const job = state.jobs.start('diffusion-sample', plan);
    sendJson(res, 201, { id: job.id, kind: job.kind });
  });
  router.add('POST', '/api/diffusion/train', async ({ req, res, state }) => {
    const plan = planTrain(await readJson(req), state.checkpointDirectory);
    await loadDiffusionNodeApi();
    const job = state.jobs.start('diffusion-train', plan);
    sendJson(res, 201, { id: job.id, kind: job.kind });
  });
}
