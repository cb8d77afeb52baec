/**
 * The NAND device (see the files of this folder): {@link createNandDevice} picks the general
 * simulated device (simulated-device.ts) or the metadata fast device (metadata-device.ts);
 * options.ts holds its options and their checks, faults.ts the fault injection and power loss,
 * bad-blocks.ts the bad-block markers. Upstream counterparts are named at the top of each file.
 */
import { allocateTables, TableMemory } from '../tables.ts';
import { validateGeometry } from '../geometry.ts';
import { RamStore, checkMetadataHeadArea, keepsCompactHeads } from '../store.ts';
import { MetadataNandDevice, metadataDeviceTables } from './metadata-device.ts';
import type { NandDeviceOptions } from './options.ts';
import { SimulatedNandDevice } from './simulated-device.ts';
import type { DeviceTables, SimulatedNand } from './simulated-device.ts';

export type { FaultOptions, NandDeviceOptions } from './options.ts';
export type { FaultControl } from './faults.ts';
export type { SimulatedNand } from './simulated-device.ts';
export { BAD_BLOCK_MARKER_PAGES, BAD_BLOCK_MARKER_VALUE, defaultBadBlockMarker } from './bad-blocks.ts';

/** The fast device writes spare words as numbers; the layout's bytes are little-endian. */
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Creates a simulated NAND device (RAM store unless `options.store` is given). A metadata-only
 * RAM store with compact spare heads (a spare of at least 16 bytes, store.ts) gets the fast metadata
 * device (on a little-endian host, unless `forceGeneric`); everything else the general device.
 */
export function createNandDevice(options: NandDeviceOptions): SimulatedNand {
  if (options.forceGeneric !== true && LITTLE_ENDIAN_HOST && options.geometry !== null && typeof options.geometry === 'object' && keepsCompactHeads(options.geometry)) {
    if (options.store === undefined && options.metadataOnly === true) {
      // The store's and the device's tables together, in a TableMemory where one can be made.
      const geometry = validateGeometry(options.geometry);
      checkMetadataHeadArea(geometry);
      const memory = TableMemory.create();
      const block = allocateTables(metadataDeviceTables(geometry), memory);
      const t = block.views;
      const store = new RamStore(geometry, { metadataOnly: true }, { headPairs: t.headPairs, pageState: t.pageState, eraseCounts: t.eraseCounts, badBlocks: t.badBlocks });
      const tables: DeviceTables = {
        programmed: t.programmed,
        nextPage: t.nextPage,
        dieOfBlock: t.dieOfBlock,
        channelOfDie: t.channelOfDie,
        clock: {
          dieBusy: t.dieBusy, dieFree: t.dieFree, channelFree: t.channelFree, clockCells: t.clockCells,
          calendarStart: t.calendarStart, calendarEnd: t.calendarEnd, calendarSpan: t.calendarSpan,
        },
        counters: { readsPerBlock: t.readsPerBlock, programsPerBlock: t.programsPerBlock, erasesPerBlock: t.erasesPerBlock },
        // The store and these tables were made just now: all zero, nothing to rebuild.
        fresh: true,
      };
      return new MetadataNandDevice(options, store, tables, block.inMemory && memory !== null ? { memory, offsets: block.offsets } : undefined);
    }
    const store = options.store;
    if (store instanceof RamStore && store.metadataOnly && store.compactHeads !== null) {
      return new MetadataNandDevice(options, store);
    }
  }
  return new SimulatedNandDevice(options);
}
