// See glibc_compat.h for why the Lambda bootstrap defines arc4random and _dl_find_object.
#include "lambda/bootstrap/glibc_compat.h"

#include <elf.h>
#include <link.h>
#include <sys/random.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

// Amazon Linux 2023 runs x86_64 and arm64 Lambdas; on both glibc's struct dl_find_object
// has no dlfo_eh_dbase (that is i386's and nios2's), which this file does not compute.
#if DLFO_STRUCT_HAS_EH_DBASE || DLFO_STRUCT_HAS_EH_COUNT
#error "glibc_compat.cc does not fill dlfo_eh_dbase or dlfo_eh_count on this target"
#endif

namespace stockwatch::lambda {
namespace {

struct Search {
  std::uintptr_t address = 0;
  std::uintptr_t page_size = 0;
  bool found = false;
  std::uintptr_t base = 0;     // dlpi_addr of the object found
  const char* name = nullptr;  // its dlpi_name, the same pointer as its link map's l_name
  std::uintptr_t map_start = 0;
  std::uintptr_t map_end = 0;
  std::uintptr_t eh_frame = 0;  // 0 when the object has no PT_GNU_EH_FRAME
};

int VisitObject(struct dl_phdr_info* info, size_t /*size*/, void* data) {
  auto* search = static_cast<Search*>(data);
  bool any_load = false;
  std::uintptr_t start = 0;
  std::uintptr_t end = 0;
  std::uintptr_t eh_frame = 0;
  for (ElfW(Half) i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& phdr = info->dlpi_phdr[i];
    if (phdr.p_type == PT_GNU_EH_FRAME) {
      eh_frame = info->dlpi_addr + phdr.p_vaddr;
    } else if (phdr.p_type == PT_LOAD) {
      // The loader maps each segment from its page-aligned start (glibc's l_map_start and
      // l_map_end, which _dl_find_object reports, span the same range).
      const std::uintptr_t seg_start = (info->dlpi_addr + phdr.p_vaddr) & ~(search->page_size - 1);
      const std::uintptr_t seg_end = info->dlpi_addr + phdr.p_vaddr + phdr.p_memsz;
      start = any_load && start < seg_start ? start : seg_start;
      end = any_load && end > seg_end ? end : seg_end;
      any_load = true;
    }
  }
  if (!any_load || search->address < start || search->address >= end) return 0;
  search->found = true;
  search->base = info->dlpi_addr;
  search->name = info->dlpi_name;
  search->map_start = start;
  search->map_end = end;
  search->eh_frame = eh_frame;
  return 1;  // stops dl_iterate_phdr
}

// The link map of the object dl_iterate_phdr reported as (base, name): dl_iterate_phdr
// gives no link map, but its dlpi_name is the map's own l_name pointer.
struct link_map* LinkMapOf(std::uintptr_t base, const char* name) {
  for (struct link_map* map = _r_debug.r_map; map != nullptr; map = map->l_next) {
    if (map->l_addr == base && map->l_name == name) return map;
  }
  return nullptr;
}

}  // namespace

int FindObject(void* address, struct dl_find_object* result) {
  Search search;
  search.address = reinterpret_cast<std::uintptr_t>(address);
  search.page_size = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
  dl_iterate_phdr(VisitObject, &search);
  if (!search.found) return -1;
  std::memset(result, 0, sizeof(*result));
  result->dlfo_flags = 0;
  result->dlfo_map_start = reinterpret_cast<void*>(search.map_start);
  result->dlfo_map_end = reinterpret_cast<void*>(search.map_end);
  result->dlfo_link_map = LinkMapOf(search.base, search.name);
  result->dlfo_eh_frame = reinterpret_cast<void*>(search.eh_frame);
  return 0;
}

void FillRandom(void* out, std::size_t size) {
  auto* bytes = static_cast<unsigned char*>(out);
  while (size > 0) {
    const ssize_t got = getrandom(bytes, size, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      std::fprintf(stderr, "stockwatch: getrandom failed: %s\n", std::strerror(errno));
      std::abort();
    }
    bytes += got;
    size -= static_cast<std::size_t>(got);
  }
}

}  // namespace stockwatch::lambda

// The definitions the linker binds libstdc++'s and libgcc's calls to (see the header).
// They keep glibc's C signatures from <dlfcn.h> and <stdlib.h>.
extern "C" {

int _dl_find_object(void* address, struct dl_find_object* result) noexcept {
  return stockwatch::lambda::FindObject(address, result);
}

uint32_t arc4random() noexcept {
  uint32_t value;
  stockwatch::lambda::FillRandom(&value, sizeof(value));
  return value;
}

}  // extern "C"
