/**
 * Process entry. RSA signing and scrypt run on libuv's thread pool; sized to the cores (default
 * 4 threads on a 2-core machine only add contention). It must be set before anything uses the
 * pool, hence this file does nothing else before loading the server.
 */
import { availableParallelism } from 'node:os';

process.env.UV_THREADPOOL_SIZE ??= String(Math.max(2, availableParallelism()));
// eslint-disable-next-line @typescript-eslint/no-require-imports
(require('./server') as typeof import('./server')).start();
