/** The REST contract: objects and calls (see contract.ts). */
export * from './objects.js';
export * from './contract.js';
export * from './present.js';
export * from './report-tables.js';
