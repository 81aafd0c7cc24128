// Owns the bytes of a message in assembly: slices kept as they are while few or large, one growing buffer
// once many small ones arrive.

const EMPTY = Buffer.alloc(0);
/** Up to this many slices are always kept without copying. */
const MAX_SLICES = 8;
/**
 * Beyond MAX_SLICES, slices are still kept while they average at least this many bytes: a large frame
 * arrives as socket reads of up to 64 KiB, and joining those once at the end copies each byte once, where
 * the growing buffer copies it about twice and over-allocates up to 2x. Small slices are merged instead,
 * so that a slice never pins a much larger socket chunk for long, and tiny fragments cost no Buffer each.
 */
const LARGE_SLICE_AVERAGE = 16 * 1024;
const INITIAL_CAPACITY = 16 * 1024;

/**
 * Collects a message's payload slices. A message of one frame in one chunk is never copied; one that
 * arrives in large slices is joined once, at the end. A message of many small fragments is copied into
 * one buffer that doubles as it fills, so 100,000 one-byte fragments cost about their bytes, not 100,000
 * Buffer objects, and every byte is copied at most about twice.
 */
export class PayloadBuffer {
  private readonly slices: Buffer[] = [];
  private merged: Buffer | undefined;
  private mergedLength = 0;
  private totalLength = 0;

  get length(): number {
    return this.totalLength;
  }

  append(slice: Buffer): void {
    this.totalLength += slice.length;
    if (this.merged === undefined) {
      this.slices.push(slice);
      const count = this.slices.length;
      if (count > MAX_SLICES && this.totalLength < count * LARGE_SLICE_AVERAGE) this.mergeSlices();
      return;
    }
    this.ensureCapacity(this.mergedLength + slice.length);
    slice.copy(this.merged, this.mergedLength);
    this.mergedLength += slice.length;
  }

  /** The whole payload, and the buffer emptied for the next message. */
  take(): Buffer {
    let result: Buffer;
    const slices = this.slices;
    // pop() for the one-slice message, the common case: cheaper than resetting the length.
    if (this.merged !== undefined) {
      result = this.merged.subarray(0, this.mergedLength);
    } else if (slices.length === 0) {
      result = EMPTY;
    } else if (slices.length === 1) {
      result = slices.pop()!;
    } else {
      result = Buffer.concat(slices, this.totalLength);
      slices.length = 0;
    }
    this.merged = undefined;
    this.mergedLength = 0;
    this.totalLength = 0;
    return result;
  }

  private mergeSlices(): void {
    const merged = Buffer.allocUnsafe(Math.max(INITIAL_CAPACITY, this.totalLength * 2));
    let offset = 0;
    for (const slice of this.slices) offset += slice.copy(merged, offset);
    this.slices.length = 0;
    this.merged = merged;
    this.mergedLength = offset;
  }

  private ensureCapacity(needed: number): void {
    const merged = this.merged!;
    if (needed <= merged.length) return;
    const grown = Buffer.allocUnsafe(Math.max(needed, merged.length * 2));
    merged.copy(grown, 0, 0, this.mergedLength);
    this.merged = grown;
  }
}
