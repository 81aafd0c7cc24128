// Owns the sentence added to a TLS certificate failure: what to pass so that the certificate verifies.

/**
 * OpenSSL's and Node's codes for a server certificate that did not verify: an unknown issuer (self-signed,
 * a private CA), an expired or not yet valid one, or one for another host name.
 */
const UNTRUSTED_CERTIFICATE_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** Whether `error` (or its cause) is a server certificate that failed verification. */
export function isCertificateError(error: unknown): boolean {
  let current: unknown = error;
  // A cause chain is short (a connect failure wraps a socket error); the bound only stops a cycle.
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    const code = (current as NodeJS.ErrnoException).code;
    if (code !== undefined && UNTRUSTED_CERTIFICATE_CODES.has(code)) return true;
    current = current.cause;
  }
  return false;
}

/**
 * For a certificate failure, the options that fix it, to append to the message; otherwise ''. The name
 * mismatch has its own fix (`servername`), the rest are a question of whom to trust (`ca`).
 */
export function certificateHint(error: unknown): string {
  if (!isCertificateError(error)) return '';
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return ' (the certificate is for another host name: connect to a name it lists, or set `servername`)';
  }
  return (
    " (to trust a self-signed or private certificate pass its CA as `ca: readFileSync('ca.pem')`; " +
    '`rejectUnauthorized: false` skips the check, for local tests only)'
  );
}
