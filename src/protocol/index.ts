/**
 * protocol: what agent and server say to each other — messages and frames,
 * the enrollment token, and the certificate authority helpers behind mutual
 * TLS. Depends on base and format.
 */
export * from './messages.js';
export * from './validate.js';
export * from './live-names.js';
export * from './pki.js';
export * from './enrollment-token.js';
export * from './rest/index.js';
