import { conformanceSuite } from './conformance.ts';
import { imageHarness, ramHarness } from './helpers.ts';

conformanceSuite(ramHarness());
conformanceSuite(imageHarness());
