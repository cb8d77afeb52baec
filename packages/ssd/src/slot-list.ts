/**
 * A doubly linked list over slot numbers 0 … capacity − 1, kept in two typed arrays so that no
 * operation allocates: the recency (LRU) and dirty lists of the DRAM data cache (cache/data-cache.ts)
 * and the recency list of the cached mapping table (ftl/cached-mapping.ts). The head is the
 * most recent end, the tail the least recent. A slot is on the list at most once; callers keep
 * track of which slots are on it. MQSim keeps its LRU lists as std::list (Data_Cache_Flash,
 * Cached_Mapping_Table); a fixed-capacity array list is the allocation-free equivalent.
 */
export const NO_SLOT = -1;

export class SlotList {
  private readonly prev: Int32Array;
  private readonly next: Int32Array;
  /** The most recently pushed slot (NO_SLOT: empty). */
  head = NO_SLOT;
  /** The least recently pushed slot (NO_SLOT: empty). */
  tail = NO_SLOT;

  constructor(capacity: number) {
    this.prev = new Int32Array(capacity).fill(NO_SLOT);
    this.next = new Int32Array(capacity).fill(NO_SLOT);
  }

  /** Puts slot s (not on the list) at the head. */
  pushHead(s: number): void {
    this.prev[s] = NO_SLOT;
    this.next[s] = this.head;
    if (this.head !== NO_SLOT) this.prev[this.head] = s;
    this.head = s;
    if (this.tail === NO_SLOT) this.tail = s;
  }

  /** Takes slot s (on the list) off it. */
  remove(s: number): void {
    const p = this.prev[s]!;
    const n = this.next[s]!;
    if (p !== NO_SLOT) this.next[p] = n;
    else this.head = n;
    if (n !== NO_SLOT) this.prev[n] = p;
    else this.tail = p;
    this.prev[s] = this.next[s] = NO_SLOT;
  }

  /** Makes slot s (on the list) the most recent. */
  moveToHead(s: number): void {
    if (this.head === s) return;
    this.remove(s);
    this.pushHead(s);
  }

  /** Slot `from` (on the list) takes the number `to` (not on it), keeping its place. */
  relocate(from: number, to: number): void {
    const p = this.prev[from]!;
    const n = this.next[from]!;
    this.prev[to] = p;
    this.next[to] = n;
    if (p !== NO_SLOT) this.next[p] = to;
    else this.head = to;
    if (n !== NO_SLOT) this.prev[n] = to;
    else this.tail = to;
    this.prev[from] = this.next[from] = NO_SLOT;
  }

  /** Empties the list. */
  clear(): void {
    this.prev.fill(NO_SLOT);
    this.next.fill(NO_SLOT);
    this.head = this.tail = NO_SLOT;
  }
}
