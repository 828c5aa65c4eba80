// Sizes libuv's thread pool before anything uses it (imported first by the CLI). Every PUT does
// open, write, fsync, rename and a directory fsync on that pool; with libuv's default of 4
// threads, fsync latency caps small PUTs. 4 KiB PUT at 16/64 connections, same run, uws:
// 4 threads 415/647 ops/s, 16 threads 519/870, 32 threads 673/943 (README, design section).
// An explicit UV_THREADPOOL_SIZE from the environment wins.
export const DEFAULT_THREADPOOL_SIZE = 32;

process.env.UV_THREADPOOL_SIZE ??= String(DEFAULT_THREADPOOL_SIZE);
