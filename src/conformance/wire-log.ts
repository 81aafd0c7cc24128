// Owns the wire log of one case: what the tester sent and received, frame by frame, with timestamps.

/** Who wrote the bytes: `tx` the tester, `rx` the peer under test. */
export type WireDirection = 'tx' | 'rx';

/** One line of a wire log. `at` is milliseconds since the case started. */
export type WireLogEntry =
  | {
      at: number;
      kind: 'frame';
      direction: WireDirection;
      opcode: number;
      isFinal: boolean;
      /** RSV bits as a 3-bit number, the way Autobahn writes them: 4 = RSV1, 2 = RSV2, 1 = RSV3. */
      rsv: number;
      isMasked: boolean;
      payloadLength: number;
      /** The start of the (unmasked) payload: text when it is printable UTF-8, hex otherwise. */
      preview: string;
      /** For frames the tester wrote in pieces: the piece size in octets. */
      chopSize?: number;
    }
  | { at: number; kind: 'octets'; direction: WireDirection; length: number; preview: string }
  | { at: number; kind: 'http'; direction: WireDirection; text: string }
  | { at: number; kind: 'marker'; tag: string }
  | { at: number; kind: 'note'; text: string };

/** Describes a frame to log; `at` is filled in by the log. */
export type WireFrameRecord = Omit<Extract<WireLogEntry, { kind: 'frame' }>, 'at' | 'kind' | 'preview'> & {
  payload: Uint8Array;
};

/** How many payload bytes a preview shows; Autobahn shows 256, and wider lines stop being readable. */
const PREVIEW_BYTES = 96;
/** A case that floods the log (octet-wise chops of a megabyte) keeps its first entries and a count. */
const DEFAULT_MAX_ENTRIES = 600;

/**
 * A bounded wire log. Entries past the limit are counted, not kept, so a case that writes 16 384 chops
 * cannot make a report of gigabytes.
 */
export class WireLog {
  readonly startedAt: number;
  private readonly entries: WireLogEntry[] = [];
  private readonly maxEntries: number;
  private omitted = 0;
  private isPaused = false;

  constructor(startedAt = performance.now(), maxEntries = DEFAULT_MAX_ENTRIES) {
    this.startedAt = startedAt;
    this.maxEntries = maxEntries;
  }

  /** Milliseconds since the case started, to one decimal. */
  now(): number {
    return Math.round((performance.now() - this.startedAt) * 10) / 10;
  }

  /** Stops logging frames and octets (notes and markers still go in): for cases of thousands of messages. */
  pause(reason: string): void {
    if (this.isPaused) return;
    this.note(`wire log paused: ${reason}`);
    this.isPaused = true;
  }

  resume(): void {
    if (!this.isPaused) return;
    this.isPaused = false;
    this.note('wire log resumed');
  }

  frame(record: WireFrameRecord): void {
    if (this.isPaused) return;
    const { payload, ...fields } = record;
    this.push({ at: this.now(), kind: 'frame', ...fields, preview: previewBytes(payload) });
  }

  octets(direction: WireDirection, bytes: Uint8Array): void {
    if (this.isPaused) return;
    this.push({
      at: this.now(),
      kind: 'octets',
      direction,
      length: bytes.length,
      preview: hexPreview(bytes, 24),
    });
  }

  http(direction: WireDirection, text: string): void {
    this.push({ at: this.now(), kind: 'http', direction, text });
  }

  marker(tag: string): void {
    this.push({ at: this.now(), kind: 'marker', tag });
  }

  note(text: string): void {
    this.push({ at: this.now(), kind: 'note', text });
  }

  /** The entries, with a closing note when some were left out. */
  toJSON(): WireLogEntry[] {
    if (this.omitted === 0) return [...this.entries];
    return [
      ...this.entries,
      { at: this.now(), kind: 'note', text: `${this.omitted} more entries were left out of this log` },
    ];
  }

  private push(entry: WireLogEntry): void {
    // Notes and markers explain a verdict, so they are kept even past the limit.
    if (this.entries.length >= this.maxEntries && entry.kind !== 'note' && entry.kind !== 'marker') {
      this.omitted++;
      return;
    }
    this.entries.push(entry);
  }
}

/** A short, readable rendering of a payload: printable UTF-8 as quoted text, anything else as hex. */
export function previewBytes(bytes: Uint8Array, limit = PREVIEW_BYTES): string {
  if (bytes.length === 0) return '(empty)';
  const head = bytes.subarray(0, limit);
  const suffix = bytes.length > limit ? ` … (${bytes.length} bytes)` : '';
  if (isPrintableText(head)) {
    return `${JSON.stringify(Buffer.from(head.buffer, head.byteOffset, head.length).toString('utf8'))}${suffix}`;
  }
  return `0x${hexPreview(head, limit)}${suffix}`;
}

export function hexPreview(bytes: Uint8Array, limit: number): string {
  const head = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, limit));
  return head.toString('hex') + (bytes.length > limit ? '…' : '');
}

function isPrintableText(bytes: Uint8Array): boolean {
  // A cut through a multi-byte character at the preview limit would look invalid; ASCII-printable and
  // valid multi-byte sequences both count, control characters do not.
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8');
  if (text.includes('\uFFFD')) return false;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code < 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0d) return false;
  }
  return true;
}
