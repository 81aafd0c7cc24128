// Owns the payloads of the compression cases: five synthetic corpora standing in for Autobahn's test
// files (JSON, a bitmap, German prose, HTML, a PDF), generated from a fixed seed so every run sends the
// same bytes and the package ships no data files.

/** One corpus: its bytes, whether it is sent as binary, and a description for reports. */
export interface Corpus {
  name: string;
  description: string;
  isBinary: boolean;
  data: Buffer;
}

/** Large enough that the biggest message (128 KiB) does not repeat itself within one message. */
const CORPUS_BYTES = 192 * 1024;

/** xorshift32: small, fast and the same on every platform. */
function randomSource(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 0x100000000;
  };
}

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

const FIRST_NAMES = [
  'Ada',
  'Grace',
  'Alan',
  'Edsger',
  'Barbara',
  'Donald',
  'Ken',
  'Radia',
  'Tim',
  'Margaret',
  'Linus',
  'Frances',
];
const LAST_NAMES = [
  'Lovelace',
  'Hopper',
  'Turing',
  'Dijkstra',
  'Liskov',
  'Knuth',
  'Thompson',
  'Perlman',
  'Berners-Lee',
  'Hamilton',
];
const TAGS = [
  'alpha',
  'beta',
  'gamma',
  'delta',
  'websocket',
  'deflate',
  'frame',
  'socket',
  'stream',
  'buffer',
  'queue',
];
const CITIES = [
  'Berlin',
  'Hamburg',
  'Lisbon',
  'Osaka',
  'Toronto',
  'Nairobi',
  'Lima',
  'Oslo',
  'Porto',
  'Kyoto',
];

function jsonCorpus(): Buffer {
  const random = randomSource(0x5eed0001);
  const records: string[] = [];
  let length = 2;
  for (let id = 1; length < CORPUS_BYTES; id++) {
    const first = pick(random, FIRST_NAMES);
    const last = pick(random, LAST_NAMES);
    const record = JSON.stringify({
      id,
      name: `${first} ${last}`,
      email: `${first.toLowerCase()}.${last.toLowerCase()}@example.org`,
      active: random() < 0.7,
      score: Math.round(random() * 100000) / 100,
      tags: Array.from({ length: 1 + Math.floor(random() * 4) }, () => pick(random, TAGS)),
      address: { city: pick(random, CITIES), zip: String(10000 + Math.floor(random() * 89999)) },
      created: new Date(1_600_000_000_000 + Math.floor(random() * 100_000_000_000)).toISOString(),
    });
    records.push(record);
    length += record.length + 2;
  }
  return Buffer.from(`[\n${records.join(',\n')}\n]`, 'utf8');
}

function bitmapCorpus(): Buffer {
  const random = randomSource(0x5eed0002);
  const width = 512;
  const height = 384;
  const paletteBytes = 256 * 4;
  const headerBytes = 54 + paletteBytes;
  const image = Buffer.alloc(headerBytes + width * height);
  // A BITMAPFILEHEADER and BITMAPINFOHEADER for an 8-bit greyscale image: real headers, as in a .bmp.
  image.write('BM', 0, 'latin1');
  image.writeUInt32LE(image.length, 2);
  image.writeUInt32LE(headerBytes, 10);
  image.writeUInt32LE(40, 14);
  image.writeInt32LE(width, 18);
  image.writeInt32LE(height, 22);
  image.writeUInt16LE(1, 26);
  image.writeUInt16LE(8, 28);
  image.writeUInt32LE(width * height, 34);
  image.writeUInt32LE(256, 46);
  for (let grey = 0; grey < 256; grey++) image.writeUInt32LE(grey * 0x010101, 54 + grey * 4);
  // Smooth shapes plus noise compress like a photograph: somewhat, not much.
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const wave = 96 * Math.sin(x / 37) * Math.cos(y / 23) + 64 * Math.sin((x + y) / 71);
      const value = 128 + wave + (random() - 0.5) * 24;
      image[headerBytes + y * width + x] = Math.max(0, Math.min(255, Math.round(value)));
    }
  }
  return image;
}

const GERMAN_WORDS = [
  'Habe',
  'nun',
  'ach',
  'Philosophie',
  'Juristerei',
  'und',
  'Medizin',
  'leider',
  'auch',
  'Theologie',
  'durchaus',
  'studiert',
  'mit',
  'heißem',
  'Bemühn',
  'da',
  'steh',
  'ich',
  'armer',
  'Tor',
  'bin',
  'so',
  'klug',
  'als',
  'wie',
  'zuvor',
  'Magister',
  'heiße',
  'Doktor',
  'gar',
  'zehen',
  'Jahre',
  'herauf',
  'herab',
  'quer',
  'krumm',
  'meine',
  'Schüler',
  'an',
  'der',
  'Nase',
  'herum',
  'sehe',
  'dass',
  'wir',
  'nichts',
  'wissen',
  'können',
  'Herz',
  'verbrennen',
  'Geist',
  'Wald',
  'Höhle',
  'Straße',
  'Gretchen',
];

function proseCorpus(): Buffer {
  const random = randomSource(0x5eed0003);
  const lines: string[] = [];
  let length = 0;
  while (length < CORPUS_BYTES) {
    const words = Array.from({ length: 4 + Math.floor(random() * 7) }, () => pick(random, GERMAN_WORDS));
    const line = `${words.join(' ')}${pick(random, ['.', ',', '!', '?', ';', ''])}`;
    lines.push(line);
    length += Buffer.byteLength(line) + 1;
  }
  return Buffer.from(lines.join('\n'), 'utf8');
}

function htmlCorpus(): Buffer {
  const random = randomSource(0x5eed0004);
  const rows: string[] = [
    '<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8"><title>Report</title></head>\n<body>\n<table class="data">',
  ];
  let length = rows[0]!.length;
  for (let row = 1; length < CORPUS_BYTES; row++) {
    const line = `  <tr class="${row % 2 === 0 ? 'even' : 'odd'}"><td class="id">${row}</td><td class="name"><a href="/people/${row}">${pick(random, FIRST_NAMES)} ${pick(random, LAST_NAMES)}</a></td><td class="city">${pick(random, CITIES)}</td><td class="tag"><span>${pick(random, TAGS)}</span></td></tr>`;
    rows.push(line);
    length += line.length + 1;
  }
  rows.push('</table>\n</body>\n</html>');
  return Buffer.from(rows.join('\n'), 'utf8');
}

function pdfCorpus(): Buffer {
  const random = randomSource(0x5eed0005);
  const parts: Buffer[] = [Buffer.from('%PDF-1.4\n%\xe2\xe3\xcf\xd3\n', 'latin1')];
  let length = parts[0]!.length;
  for (let object = 1; length < CORPUS_BYTES; object++) {
    // Text objects compress well; stream objects hold already-compressed (random-looking) data.
    const isStream = random() < 0.5;
    let part: Buffer;
    if (isStream) {
      const streamLength = 512 + Math.floor(random() * 3072);
      const stream = Buffer.alloc(streamLength);
      for (let index = 0; index < streamLength; index++) stream[index] = Math.floor(random() * 256);
      part = Buffer.concat([
        Buffer.from(
          `${object} 0 obj\n<< /Length ${streamLength} /Filter /FlateDecode >>\nstream\n`,
          'latin1',
        ),
        stream,
        Buffer.from('\nendstream\nendobj\n', 'latin1'),
      ]);
    } else {
      part = Buffer.from(
        `${object} 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents ${object + 1} 0 R /Resources << /Font << /F1 4 0 R >> >> >>\nendobj\n`,
        'latin1',
      );
    }
    parts.push(part);
    length += part.length;
  }
  return Buffer.concat(parts);
}

let corpora: Corpus[] | undefined;

/** The five corpora in the order of Autobahn's 12.1 to 12.5. */
export function compressionCorpora(): Corpus[] {
  corpora ??= [
    { name: 'json', description: 'Large JSON data (synthetic, utf8)', isBinary: false, data: jsonCorpus() },
    {
      name: 'bitmap',
      description: 'Bitmap 512x384 greyscale (synthetic, binary)',
      isBinary: true,
      data: bitmapCorpus(),
    },
    {
      name: 'prose',
      description: 'Human readable German text (synthetic, sent as binary)',
      isBinary: true,
      data: proseCorpus(),
    },
    { name: 'html', description: 'Large HTML file (synthetic, utf8)', isBinary: false, data: htmlCorpus() },
    { name: 'pdf', description: 'A PDF-like file (synthetic, binary)', isBinary: true, data: pdfCorpus() },
  ];
  return corpora;
}

/**
 * Cuts consecutive messages of `length` bytes out of a corpus, wrapping around at its end. Text corpora
 * are pure ASCII, so any cut is valid UTF-8.
 */
export class CorpusReader {
  private readonly data: Buffer;
  private position = 0;

  constructor(corpus: Corpus) {
    this.data = corpus.data;
  }

  next(length: number): Buffer {
    const data = this.data;
    const start = this.position;
    const end = start + length;
    this.position = end % data.length;
    if (end <= data.length) return data.subarray(start, end);
    const message = Buffer.allocUnsafe(length);
    let written = data.copy(message, 0, start);
    while (written < length)
      written += data.copy(message, written, 0, Math.min(data.length, length - written));
    return message;
  }
}
