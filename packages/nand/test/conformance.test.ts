import { conformanceSuite } from './conformance.ts';
import { imageHarness, kernelHarness, metadataHarness, ramHarness } from './helpers.ts';

conformanceSuite(ramHarness());
conformanceSuite(imageHarness());
conformanceSuite(metadataHarness());
conformanceSuite(kernelHarness());
