/**
 * Hard negative captions for the CLIP stage (issue 15): captions that name the same words as a
 * Shapes caption but describe a different scene, in the manner of NegCLIP (Yuksekgonul et al. 2023,
 * "When and why vision-language models behave like bags-of-words"). A contrastive batch of random
 * scenes almost never holds "a red circle above a blue square" beside "…below…", so plain CLIP
 * learns which objects a caption names and not how they are arranged or which colour goes with
 * which shape; adding these captions as extra negatives of their image makes the text tower tell
 * them apart. No upstream counterpart in diffusers or transformers (NegCLIP's own code builds its
 * swaps with a parser over COCO captions; the Shapes grammar makes that exact here).
 *
 * Negatives per caption (each only where it differs from the caption and names no held-out
 * colour–shape pair, so the held-out pairs stay out of training):
 *   two objects "a C1 S1 R a C2 S2": the opposite relation "a C1 S1 R' a C2 S2", always; and one
 *     binding swap drawn from "a C2 S1 R a C1 S2" (colours exchanged) and "a C1 S2 R a C2 S1"
 *     (shapes exchanged);
 *   one object with a size word: the other size.
 */
import { isHeldOutPair, parsePrompt, promptText, type ParsedPrompt, type Relation } from '../../data/shapes.ts';
import type { Random } from '../../rng.ts';

export const OPPOSITE_RELATION: Readonly<Record<Relation, Relation>> = {
  'to the left of': 'to the right of',
  'to the right of': 'to the left of',
  above: 'below',
  below: 'above',
};

function namesHeldOutPair(p: ParsedPrompt): boolean {
  return p.objects.some((o) => isHeldOutPair(o.colour, o.shape));
}

/** The relation-flipped caption of a two-object caption (null for anything else). */
export function relationSwap(caption: string): string | null {
  const p = parsePrompt(caption);
  if (p === null || p.relation === null) return null;
  return promptText({ objects: p.objects, relation: OPPOSITE_RELATION[p.relation] });
}

/** The binding swaps (colours exchanged, shapes exchanged) of a two-object caption that are valid negatives. */
export function bindingSwaps(caption: string): string[] {
  const p = parsePrompt(caption);
  if (p === null || p.relation === null) return [];
  const [a, b] = p.objects;
  const swaps: ParsedPrompt[] = [];
  if (a.colour !== b.colour) swaps.push({ objects: [{ ...a, colour: b.colour }, { ...b, colour: a.colour }], relation: p.relation });
  if (a.shape !== b.shape) swaps.push({ objects: [{ ...a, shape: b.shape }, { ...b, shape: a.shape }], relation: p.relation });
  return swaps.filter((s) => !namesHeldOutPair(s)).map(promptText);
}

/**
 * The hard negatives of one caption (see the file comment); `random` picks the binding swap and is
 * drawn from once per two-object caption, so a resumed run draws the same negatives.
 */
export function hardNegatives(caption: string, random: Random): string[] {
  const p = parsePrompt(caption);
  if (p === null) return [];
  if (p.relation === null) {
    const o = p.objects[0];
    return o.size === null ? [] : [promptText({ objects: [{ ...o, size: o.size === 'small' ? 'large' : 'small' }], relation: null })];
  }
  const out = [relationSwap(caption) as string];
  const swaps = bindingSwaps(caption);
  const pick = random.int(2);
  if (swaps.length > 0) out.push(swaps[pick % swaps.length]);
  return out;
}
