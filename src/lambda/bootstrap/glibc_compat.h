// Two glibc functions that the Lambda bootstrap (and only it) defines itself, so that the
// binary built on Debian 12 (glibc 2.36) runs on Amazon Linux 2023 (glibc 2.34).
//
// GCC 12's libstdc++ and libgcc, configured against glibc 2.36, call arc4random (new in
// glibc 2.36; std::random_device's "arc4random" source, and its default one on CPUs
// without RDRAND, such as Graviton) and _dl_find_object (new in glibc 2.35; the unwinder
// finds a frame's unwind tables with it, so every thrown exception calls it). Linked
// statically into the bootstrap (-static-libstdc++ -static-libgcc), those calls would make
// it import arc4random@GLIBC_2.36 and _dl_find_object@GLIBC_2.35, and glibc 2.34's loader
// refuses to start it. glibc_compat.cc defines both symbols over interfaces glibc 2.34
// has (getrandom(2) and dl_iterate_phdr), so the linker resolves the calls inside the
// binary and it imports no GLIBC_2.35+ version. It is compiled into
// stockwatch_lambda_bootstrap and its test only, never into `stockwatch`, which keeps
// glibc's own implementations.
#pragma once

#include <dlfcn.h>

#include <cstddef>

namespace stockwatch::lambda {

// What glibc's _dl_find_object(address, result) does (glibc manual, "Dynamic Linker
// Introspection"): when a loaded object (the program, a shared library, the vDSO) maps
// `address`, fills *result (dlfo_flags 0; dlfo_map_start and dlfo_map_end, the range from
// its first PT_LOAD segment's start, page-aligned down, to its last one's end; its
// dlfo_link_map; dlfo_eh_frame, the start of its PT_GNU_EH_FRAME segment, or null when it
// has none) and returns 0; otherwise returns -1 and leaves *result unspecified. Only the
// objects of the base namespace have their dlfo_link_map found (null for dlmopen's).
// Thread-safe; unlike glibc's, not async-signal-safe (dl_iterate_phdr takes the loader's
// lock), and linear in the number of loaded objects.
int FindObject(void* address, struct dl_find_object* result);

// Fills `size` bytes at `out` with random bytes from getrandom(2), retrying on EINTR and
// short reads. Aborts the process when the kernel cannot supply them, as glibc's
// arc4random does: its callers have no way to be told of a failure.
void FillRandom(void* out, std::size_t size);

}  // namespace stockwatch::lambda
