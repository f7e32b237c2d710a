/** A real PostgreSQL cluster for a test: the bench's (bench/postgres-cluster.ts), so both start clusters one way. */
export * from '../../bench/postgres-cluster.js';
