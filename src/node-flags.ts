/**
 * The node flags the server runs with: `npm start` passes them (package.json; a test keeps the two
 * alike), and the benchmarks start the server with them too, so they measure what users run.
 *
 * `--no-allocation-site-pretenuring`: V8 otherwise decides, from what survives a few collections
 * (the start's migrations and imports, a moment with many calls in flight), to allocate the objects
 * of some allocation sites straight in the old generation. When it does so for sites the gateway's
 * calls use, their short-lived objects are kept alive from the old generation: a few KB a call is
 * promoted (60 times more than usual), each young collection takes 8 ms instead of 1, and gateway
 * calls cost 30–60% more CPU with p99 6–15 ms higher, for as long as the process runs. Which
 * process falls into it is chance: 6 of 7 benchmark runs did on 2026-12-08, none of 11 with the
 * flag (bench/BENCHMARKS.md, the gateway).
 *
 * Not `--max-semi-space-size=2` any more (it was here for the Developers list's memory, about 30 MB
 * off its peak): it costs the gateway 8–10% of its calls a second (more, smaller young
 * collections). An operator who would rather have the memory can set it in NODE_OPTIONS.
 */
export const SERVER_NODE_FLAGS: readonly string[] = ['--no-allocation-site-pretenuring']
