// Owns the self-signed certificate the TLS and HTTP/2 interop tests serve, made with openssl for the run.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** A key and certificate for `localhost` and 127.0.0.1, in PEM, and the directory that holds them. */
export interface SelfSignedCertificate {
  readonly key: Buffer;
  readonly cert: Buffer;
  readonly directory: string;
  /** Removes the directory; call it in afterAll. */
  cleanup(): void;
}

/**
 * Makes a certificate valid for one day for `localhost` and 127.0.0.1. Returns undefined, after printing
 * that `skipped` is skipped and why, when openssl is not on PATH: the TLS cases skip rather than fail on a
 * machine without it. Throws if openssl is there but fails.
 */
export function createSelfSignedCertificate(skipped: string): SelfSignedCertificate | undefined {
  if (spawnSync('openssl', ['version']).status !== 0) {
    console.warn(`${skipped} skipped: openssl is not on PATH to make a test certificate`);
    return undefined;
  }
  const directory = mkdtempSync(path.join(tmpdir(), 'hybi-certificate-'));
  const keyPath = path.join(directory, 'key.pem');
  const certPath = path.join(directory, 'cert.pem');
  const result = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      '/CN=localhost',
      // Clients check the name they connected to against subjectAltName, not the CN (RFC 6125 §6.4.4).
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-days',
      '1',
      '-keyout',
      keyPath,
      '-out',
      certPath,
    ],
    { encoding: 'utf8' },
  );
  if (result.status !== 0) {
    rmSync(directory, { recursive: true, force: true });
    throw new Error(`openssl failed: ${result.stderr}`);
  }
  return {
    key: readFileSync(keyPath),
    cert: readFileSync(certPath),
    directory,
    cleanup: () => rmSync(directory, { recursive: true, force: true }),
  };
}
