// Runs linked as the Lambda bootstrap is (glibc_compat.cc, -static-libstdc++ and
// -static-libgcc; see src/CMakeLists.txt), so libstdc++'s std::random_device and libgcc's
// unwinder call the definitions of glibc_compat.cc here too. glibc's own _dl_find_object
// (this machine's glibc is 2.36) is the reference the results are compared with.
#include "lambda/bootstrap/glibc_compat.h"

#include <dlfcn.h>
#include <sys/auxv.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <set>
#include <stdexcept>
#include <string>

#include "gtest/gtest.h"

namespace stockwatch::lambda {
namespace {

using FindObjectFn = int (*)(void*, struct dl_find_object*);

FindObjectFn GlibcFindObject() {
  return reinterpret_cast<FindObjectFn>(dlvsym(RTLD_NEXT, "_dl_find_object", "GLIBC_2.35"));
}

int main_program_data = 1;

void ExpectSameAsGlibc(void* address) {
  FindObjectFn glibc = GlibcFindObject();
  ASSERT_NE(glibc, nullptr);
  struct dl_find_object ours {};
  struct dl_find_object theirs {};
  const int ours_rc = FindObject(address, &ours);
  ASSERT_EQ(ours_rc, glibc(address, &theirs)) << address;
  if (ours_rc != 0) return;
  EXPECT_EQ(ours.dlfo_flags, theirs.dlfo_flags);
  EXPECT_EQ(ours.dlfo_map_start, theirs.dlfo_map_start);
  EXPECT_EQ(ours.dlfo_map_end, theirs.dlfo_map_end);
  EXPECT_EQ(ours.dlfo_link_map, theirs.dlfo_link_map);
  EXPECT_EQ(ours.dlfo_eh_frame, theirs.dlfo_eh_frame);
  EXPECT_NE(ours.dlfo_eh_frame, nullptr);
}

TEST(GlibcCompatTest, FindObjectAgreesWithGlibcForTheProgram) {
  ExpectSameAsGlibc(&main_program_data);
  ExpectSameAsGlibc(reinterpret_cast<void*>(&GlibcFindObject));
}

TEST(GlibcCompatTest, FindObjectAgreesWithGlibcForSharedLibraries) {
  ExpectSameAsGlibc(dlsym(RTLD_DEFAULT, "printf"));           // libc.so.6
  ExpectSameAsGlibc(dlsym(RTLD_DEFAULT, "dlvsym"));           // libc.so.6 (glibc 2.34 merged libdl)
  ExpectSameAsGlibc(dlsym(RTLD_DEFAULT, "_dl_debug_state"));  // ld-linux
  ExpectSameAsGlibc(reinterpret_cast<void*>(getauxval(AT_SYSINFO_EHDR)));  // the vDSO
}

TEST(GlibcCompatTest, FindObjectFailsOutsideLoadedObjects) {
  int on_stack = 0;
  struct dl_find_object result {};
  EXPECT_EQ(FindObject(&on_stack, &result), -1);
  EXPECT_EQ(FindObject(nullptr, &result), -1);
  ExpectSameAsGlibc(&on_stack);
}

TEST(GlibcCompatTest, TheProgramDefinesItsOwnSymbols) {
  // The point of glibc_compat.cc: the linker bound these names inside the program, not to
  // glibc's versioned ones.
  EXPECT_NE(reinterpret_cast<void*>(&_dl_find_object), reinterpret_cast<void*>(GlibcFindObject()));
  EXPECT_NE(reinterpret_cast<void*>(&arc4random), dlvsym(RTLD_NEXT, "arc4random", "GLIBC_2.36"));
}

[[gnu::noinline]] int ParseOrThrow(const std::string& text) { return std::stoi(text); }

[[gnu::noinline]] int Deeper(const std::string& text) { return ParseOrThrow(text) + 1; }

TEST(GlibcCompatTest, ExceptionsUnwindThroughTheStaticLibgcc) {
  // std::stoi throws from inside the static libstdc++; the unwinder looks up every frame
  // between there and here with _dl_find_object, that is glibc_compat.cc's.
  EXPECT_THROW(Deeper("not a number"), std::invalid_argument);
  try {
    Deeper("also not");
    FAIL() << "no exception";
  } catch (const std::exception& e) {
    EXPECT_STREQ(e.what(), "stoi");
  }
  EXPECT_EQ(Deeper("41"), 42);
}

TEST(GlibcCompatTest, RandomDeviceOverArc4randomGivesDistinctValues) {
  // The source std::random_device uses by default where the CPU has no RDRAND (arm64).
  std::random_device device("arc4random");
  std::set<unsigned> values;
  for (int i = 0; i < 16; ++i) values.insert(device());
  EXPECT_GT(values.size(), 12u);
}

TEST(GlibcCompatTest, FillRandomFillsEveryByte) {
  std::array<unsigned char, 4096> a{};
  std::array<unsigned char, 4096> b{};
  FillRandom(a.data(), a.size());
  FillRandom(b.data(), b.size());
  EXPECT_NE(a, b);
  // 4096 random bytes have about 16 zero bytes; an unfilled tail would have far more.
  int zeros = 0;
  for (unsigned char c : a) zeros += c == 0 ? 1 : 0;
  EXPECT_LT(zeros, 64);
  FillRandom(nullptr, 0);  // nothing to fill
}

}  // namespace
}  // namespace stockwatch::lambda
