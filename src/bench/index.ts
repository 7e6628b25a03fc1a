/** unikit bench: the unikernel against a runc container and the native process, one machine, one run (docs in src/bench/suite.ts). */
export { runBench, SUITES } from './suite.js';
export type { BenchOptions, BenchResults, BootResult, LatencyPoint, MemoryPoint, SuiteName, ComparatorInfo } from './suite.js';
export { COMPARATORS, makeComparator, unavailable } from './comparators.js';
export type { Comparator, ComparatorName, Instance, InstanceMemory } from './comparators.js';
export { markdownSummary, htmlReport, findings } from './report.js';
export { ociConfig, writeBundle } from './oci.js';
export { hybridCgroups, podmanUlimits, withCgroup2Hidden } from './containers.js';
export { fetchOnce, parseWrk, parseStaggeredWrk, waitForHttp, wrk, STAGGERED_WRK_LUA } from './http.js';
export type { WrkResult } from './http.js';
export { percentile, median } from './stats.js';
