// Owns chunk splitting: the ways a byte stream can arrive from a socket, as data, and applying them.

import fc from 'fast-check';

/**
 * How to cut a stream into the chunks a receiver is handed, as data (so it prints and replays):
 * `whole` is one chunk; `bytes` one byte per chunk; `fixed` chunks of `size`; `sizes` the given sizes in
 * turn, cycling; `cuts` at the given offsets (each modulo the length), the sharpest tool for boundaries.
 */
export type ChunkSplitter =
  | { kind: 'whole' }
  | { kind: 'bytes' }
  | { kind: 'fixed'; size: number }
  | { kind: 'sizes'; sizes: number[] }
  | { kind: 'cuts'; offsets: number[] };

/** Options of {@link chunkSplitterArbitrary}. */
export interface ChunkSplitterOptions {
  /** Allow one-byte chunks (slow on megabytes: keep it off for large streams). Default true. */
  allowBytewise?: boolean;
}

/**
 * A chunk splitter, from one chunk to one byte per chunk, with the sizes that matter for WebSocket
 * parsers over-weighted: 1, 2, 3 (inside a header), 13 and 14 (around the largest header).
 *
 * @example
 * ```ts
 * fc.assert(fc.property(streamArb, chunkSplitterArbitrary(), (bytes, splitter) => {
 *   for (const chunk of splitChunks(bytes, splitter)) parser.push(chunk);
 * }));
 * ```
 */
export function chunkSplitterArbitrary(options: ChunkSplitterOptions = {}): fc.Arbitrary<ChunkSplitter> {
  const size = fc.oneof(
    fc.constantFrom(1, 2, 3, 4, 7, 13, 14, 15, 125, 126, 127, 4096),
    fc.integer({ min: 1, max: 70_000 }),
  );
  const choices: fc.Arbitrary<ChunkSplitter>[] = [
    fc.constant<ChunkSplitter>({ kind: 'whole' }),
    size.map((value): ChunkSplitter => ({ kind: 'fixed', size: value })),
    fc.array(size, { minLength: 1, maxLength: 8 }).map((sizes): ChunkSplitter => ({ kind: 'sizes', sizes })),
    fc
      .array(fc.nat(), { minLength: 1, maxLength: 12 })
      .map((offsets): ChunkSplitter => ({ kind: 'cuts', offsets })),
  ];
  if (options.allowBytewise !== false) choices.push(fc.constant<ChunkSplitter>({ kind: 'bytes' }));
  return fc.oneof(...choices);
}

/**
 * Cuts `bytes` as `splitter` says. Every chunk is a fresh copy, because receivers may take ownership
 * of a chunk and change it (hybi unmasks in place), and the same stream is often fed twice.
 */
export function splitChunks(bytes: Uint8Array, splitter: ChunkSplitter): Buffer[] {
  const length = bytes.length;
  const ends: number[] = [];
  switch (splitter.kind) {
    case 'whole':
      ends.push(length);
      break;
    case 'bytes':
      for (let end = 1; end <= length; end++) ends.push(end);
      break;
    case 'fixed':
      for (let end = splitter.size; end < length + splitter.size; end += splitter.size)
        ends.push(Math.min(end, length));
      break;
    case 'sizes': {
      let end = 0;
      for (let index = 0; end < length; index++) {
        end = Math.min(length, end + Math.max(1, splitter.sizes[index % splitter.sizes.length]!));
        ends.push(end);
      }
      break;
    }
    case 'cuts': {
      const cuts = new Set(splitter.offsets.map((offset) => offset % (length + 1)));
      ends.push(...[...cuts].sort((left, right) => left - right), length);
      break;
    }
  }
  const chunks: Buffer[] = [];
  let start = 0;
  for (const end of ends) {
    if (end > start) chunks.push(Buffer.from(bytes.subarray(start, end)));
    start = Math.max(start, end);
  }
  return chunks;
}
