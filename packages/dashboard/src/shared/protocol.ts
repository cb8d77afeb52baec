/**
 * The wire protocol between the dashboard's server and its page: JSON bodies and the events a
 * job streams over Server-Sent Events. Types only — imported by both sides, so nothing here may
 * touch Node or the DOM.
 */

/** Kinds of long-running jobs; each runs in its own worker thread on the server. */
export type JobKind = 'ssd-run' | 'diffusion-train' | 'diffusion-sample' | 't2i-generate';

export type JobState = 'running' | 'done' | 'failed' | 'cancelled';

/** Progress of a job: `done` of `total` units (total 0 = unknown), with a short line of text. */
export interface ProgressEvent {
  readonly done: number;
  readonly total: number;
  readonly message: string;
}

/** What every job streams. `frame` carries a kind-specific payload (see the Ssd and Diffusion frames). */
export type JobEvent =
  | { readonly type: 'progress'; readonly progress: ProgressEvent }
  | { readonly type: 'frame'; readonly frame: unknown }
  | { readonly type: 'result'; readonly result: unknown }
  | { readonly type: 'log'; readonly message: string }
  | { readonly type: 'state'; readonly state: JobState; readonly error?: string };

/** One job in GET /api/jobs (the page's job list). */
export interface JobSummary {
  readonly id: string;
  readonly kind: JobKind;
  readonly state: JobState;
  readonly error?: string;
  readonly files: string[];
  /** Milliseconds since the epoch. */
  readonly startedAt: number;
  /** Started to outlive its page (not cancelled when the page goes away). */
  readonly background: boolean;
  /** The page session that started it. */
  readonly owner?: string;
  readonly progress?: ProgressEvent;
}

export interface JobCreated {
  readonly id: string;
  readonly kind: JobKind;
}

/** The body of every error response. */
export interface ApiErrorBody {
  readonly error: { readonly code: string; readonly message: string };
}

/** Which package APIs the server could load; a string is the reason one is not available. */
export interface Capabilities {
  readonly ssd: true | string;
  readonly yaffs2: true | string;
  readonly diffusion: true | string;
}

// ---------------------------------------------------------------------------------------------
// SSD

/** Page states in a block map (one byte per physical page). */
export const PAGE_FREE = 0;
export const PAGE_VALID = 1;
export const PAGE_INVALID = 2;
/** A page of a retired (bad) block. */
export const PAGE_BAD = 3;
/** A page holding FTL metadata (a P2L summary or a TRIM record), not host data. */
export const PAGE_META = 4;

export interface SsdPresetInfo {
  readonly name: string;
  readonly description: string;
  readonly geometry: {
    readonly channels: number;
    readonly diesPerChannel: number;
    readonly blocksPerDie: number;
    readonly pagesPerBlock: number;
    readonly pageSize: number;
  };
}

export interface SsdOptionsInfo {
  readonly presets: readonly SsdPresetInfo[];
  readonly gcPolicies: readonly string[];
  readonly gcUnits: readonly string[];
  readonly workloads: readonly string[];
}

/** The request that starts an SSD run. */
export interface SsdRunRequest {
  readonly preset: string;
  /** Geometry overrides; absent fields come from the preset. */
  readonly geometry?: Partial<SsdPresetInfo['geometry']>;
  readonly overProvisioning: number;
  readonly gcPolicy: string;
  readonly gcUnit: string;
  readonly dynamicWearLeveling: boolean;
  readonly staticWearLeveling: boolean;
  readonly workload: string;
  /** Host page writes to issue after preconditioning (generated workloads). */
  readonly writes: number;
  /** `writes` is a multiple of the user capacity ("2x") rather than a page count. */
  readonly writesAreMultiple: boolean;
  readonly precondition: boolean;
  readonly seed: number;
  /** An uploaded DiskSim ASCII trace (its upload id); replaces the generated workload. */
  readonly traceUpload?: string;
  /** Stepping mode: the worker waits for `step` controls instead of running freely. */
  readonly stepped: boolean;
  /** Free runs: at most this many host page writes per second, to watch small drives (0 = no limit). */
  readonly writesPerSecond: number;
}

/** A controls message to a running SSD job. */
export type SsdControl =
  | { readonly action: 'step'; readonly count: number }
  | { readonly action: 'pause' }
  | { readonly action: 'resume' };

/** One picture of the SSD, as streamed by an `ssd-run` job. */
export interface SsdFrame {
  readonly hostPageWrites: number;
  readonly nandPageWrites: number;
  readonly waf: number;
  readonly freeBlocks: number;
  readonly gcRuns: number;
  readonly gcMovedPages: number;
  readonly blocks: number;
  readonly pagesPerBlock: number;
  readonly blocksPerDie: number;
  readonly dies: number;
  /** Base64 of one byte per physical page (PAGE_* values), or absent when the map is too large. */
  readonly pageStates?: string;
  /** Base64 of a Uint16Array: valid pages per block. */
  readonly validPerBlock: string;
  /** Base64 of a Uint16Array: invalid pages per block. */
  readonly invalidPerBlock: string;
  /** Base64 of a Uint32Array: erase count per block. */
  readonly eraseCounts: string;
  /** Free (erased, unallocated) blocks, and the same count in GC units (superblocks or blocks). */
  readonly freeUnits: number;
  /** Blocks the last GC collected (its victim, or the superblock's members); empty when none. */
  readonly gcBlocks: readonly number[];
  /** The host LBA of each page when the map is small (seed-mini), for labelling; −1 = none. */
  readonly pageLbas?: readonly number[];
  /** Human-readable line about the last thing that happened (stepping mode). */
  readonly lastEvent?: string;
  readonly paused: boolean;
  /**
   * The whole time series so far (bounded: older samples thinned, shared/series.ts), measured
   * from the run's start: cumulative host and NAND page writes and free blocks at each sample.
   * Whole rather than incremental, so a frame dropped for a slow reader loses no point.
   */
  readonly series: SsdSeries;
  /** Erase-count histogram of the good blocks (@flashdiff/ssd eraseStats, 16 bins as in the report). */
  readonly eraseHistogram: { readonly binStart: number; readonly binWidth: number; readonly counts: readonly number[] };
  /** Latency histograms of the measured host reads and writes so far (sparse, 8 buckets per octave of ns). */
  readonly readLatency: SparseHistogram;
  readonly writeLatency: SparseHistogram;
}

export interface SsdSeries {
  readonly host: readonly number[];
  readonly nand: readonly number[];
  readonly free: readonly number[];
}

/** A latency histogram's non-empty buckets: bucket b holds [2^(b/k), 2^((b+1)/k)) ns, k = bucketsPerOctave. */
export interface SparseHistogram {
  readonly bucketsPerOctave: number;
  readonly buckets: readonly (readonly [number, number])[];
}

// ---------------------------------------------------------------------------------------------
// YAFFS2

export interface YaffsImageInfo {
  readonly id: string;
  readonly name: string;
  readonly layout: string;
  readonly blocks: number;
  readonly pagesPerBlock: number;
  readonly pageSize: number;
  readonly freeBytes: number;
  readonly totalBytes: number;
  readonly objects: number;
}

export interface YaffsEntry {
  readonly name: string;
  readonly path: string;
  readonly type: 'file' | 'directory' | 'symlink' | 'hardlink' | 'special' | string;
  readonly size: number;
  readonly objectId: number;
  readonly target?: string;
}

export interface YaffsBlockInfo {
  readonly block: number;
  readonly state: string;
  readonly sequence: number;
  readonly eraseCount: number;
  readonly pagesInUse: number;
}

// ---------------------------------------------------------------------------------------------
// Diffusion

export interface CheckpointInfo {
  readonly name: string;
  readonly path: string;
  readonly classes: number;
  readonly imageSize: number;
  readonly channels: number;
  readonly model: string;
  /** The trained model that ships with @flashdiff/diffusion (offered first, chosen by default). */
  readonly shipped: boolean;
  readonly description: string;
  /** The guidance scale to offer for this model (the shipped model's evaluated 1.4; else 1, none). */
  readonly guidance: number;
}

export interface DiffusionSampleRequest {
  readonly checkpoint: string;
  readonly sampler: 'ddpm' | 'ddim';
  readonly steps: number;
  readonly eta: number;
  /** A single class, or null for none (unconditional). Ignored when `mix` is given. */
  readonly classLabel: number | null;
  /** Class weights, e.g. {3: 1, 7: 0.6}. */
  readonly mix?: Readonly<Record<string, number>>;
  readonly guidance: number;
  readonly count: number;
  readonly seed: number;
  /** Send a frame every this many denoising steps. */
  readonly frameEvery: number;
}

export interface DiffusionTrainRequest {
  readonly name: string;
  readonly epochs: number;
  readonly batchSize: number;
  readonly learningRate: number;
  readonly timesteps: number;
  readonly trainImages: number;
  readonly nFeat: number;
  readonly seed: number;
}

/** One denoising frame: a grid of grey or RGB images, 8-bit, row-major, base64. */
export interface DiffusionFrame {
  readonly step: number;
  readonly totalSteps: number;
  readonly timestep: number;
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 3;
  readonly pixels: string;
}

/** What a training job streams after each step: the loss of every step so far (bounded, thinned when long). */
export interface DiffusionTrainFrame {
  readonly totalSteps: number;
  readonly steps: readonly number[];
  readonly losses: readonly number[];
}

// ---------------------------------------------------------------------------------------------
// Text to image

/** A Stable Diffusion checkpoint the text-to-image view offers: a diffusers folder or an SD-1.x .safetensors file. */
export interface T2iModelInfo {
  readonly name: string;
  readonly path: string;
  readonly layout: 'diffusers' | 'single-file';
  /** The model that ships with @flashdiff/diffusion (offered first, chosen by default). */
  readonly shipped: boolean;
  readonly description: string;
  /** Output side the UNet was trained for (sample_size × the VAE's factor); null when unknown (single files: 512). */
  readonly defaultSize: number | null;
  /** Settings the model's folder recommends (its flashdiff.json), else SD's usual ones. */
  readonly defaults: { readonly steps: number; readonly guidance: number; readonly scheduler: string };
  readonly examplePrompts: readonly string[];
}

export const T2I_SCHEDULERS = ['default', 'pndm', 'ddim', 'euler', 'euler-a', 'dpm++2m'] as const;

export interface T2iGenerateRequest {
  readonly model: string;
  readonly prompt: string;
  readonly negativePrompt: string;
  readonly steps: number;
  readonly guidance: number;
  /** 'default': the checkpoint's own scheduler. */
  readonly scheduler: (typeof T2I_SCHEDULERS)[number];
  readonly seed: number;
  readonly width: number;
  readonly height: number;
  readonly count: number;
  /** Decode the scheduler's x̂_0 for a preview frame every this many steps. */
  readonly previewEvery: number;
}
