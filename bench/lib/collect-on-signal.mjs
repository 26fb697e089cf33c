// Preloaded into every server the bench starts (with --expose-gc): SIGUSR2 runs a full garbage collection, so
// that a reading of the server's RSS is of what it holds, not of garbage V8 has yet to collect.
process.on('SIGUSR2', () => globalThis.gc?.());
