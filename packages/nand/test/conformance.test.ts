import { conformanceSuite } from './conformance.ts';
import { imageHarness, metadataHarness, ramHarness } from './helpers.ts';

conformanceSuite(ramHarness());
conformanceSuite(imageHarness());
conformanceSuite(metadataHarness());
