/**
 * The environment the engine runs with: glibc's allocator told to give memory back. By default
 * it gives every thread that allocates an arena of its own and keeps what a thread freed for that
 * thread, and it raises the size from which a block is mapped on its own (and returned to the
 * system when freed) up to 32 MiB as large blocks come and go. libvips runs each step of an image
 * on whichever of libuv's threads is free, and encoders allocate tens of megabytes at a time, so
 * freed memory piled up in several places. Two arenas, and every block of 1 MiB or more mapped on
 * its own, keep the server at what its current step needs. Measured in the server with one
 * worker, the largest request a `user` key may make (ten variants at the output caps) peaked at
 * 1082 MiB with glibc's defaults, 755–1000 MiB with two arenas alone and 698–740 MiB with both
 * (docs/security.md, "Output caps"); processing speed did not change measurably. Read by glibc
 * once, at start-up: a parent has to set them (the desktop shell, the systemd unit) or the process
 * starts itself again with them (server/node-flags.ts `restartWithEngineEnv`). Other allocators ignore them.
 */
export const ENGINE_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '1048576' };
