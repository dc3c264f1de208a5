# The malloc of the `stockwatch` binary (STOCKWATCH_MALLOC): `tcmalloc` (gperftools' minimal
# tcmalloc, Debian's libgoogle-perftools-dev), `jemalloc` (libjemalloc-dev), `mimalloc`
# (libmimalloc-dev) or `glibc`. Default tcmalloc: with it the inventory API under wrk (issue 5,
# bench/RESULTS.md) served 7% (quiet machine) to 17% (machine busy with compiles) more requests
# per second than with glibc's malloc, whose per-thread arenas spent their time in
# malloc_consolidate over the 12-25 KB response bodies of the 64 connection threads.
#
# Falls back to glibc, with a message, when the library is missing, and under
# STOCKWATCH_SANITIZE (the sanitizers bring their own allocator). Only the `stockwatch`
# binary links it: not the libraries, the tests or the Lambda bootstrap.
set(STOCKWATCH_MALLOC "tcmalloc" CACHE STRING
    "malloc of the stockwatch binary: tcmalloc, jemalloc, mimalloc or glibc")
set_property(CACHE STOCKWATCH_MALLOC PROPERTY STRINGS tcmalloc jemalloc mimalloc glibc)

set(sw_malloc_library "")
if(STOCKWATCH_SANITIZE)
  if(NOT STOCKWATCH_MALLOC STREQUAL "glibc")
    message(STATUS "malloc: glibc (STOCKWATCH_SANITIZE brings its own allocator)")
  endif()
elseif(STOCKWATCH_MALLOC STREQUAL "tcmalloc")
  find_library(SW_TCMALLOC_LIBRARY NAMES tcmalloc_minimal)
  set(sw_malloc_library ${SW_TCMALLOC_LIBRARY})
elseif(STOCKWATCH_MALLOC STREQUAL "jemalloc")
  find_library(SW_JEMALLOC_LIBRARY NAMES jemalloc)
  set(sw_malloc_library ${SW_JEMALLOC_LIBRARY})
elseif(STOCKWATCH_MALLOC STREQUAL "mimalloc")
  find_library(SW_MIMALLOC_LIBRARY NAMES mimalloc)
  set(sw_malloc_library ${SW_MIMALLOC_LIBRARY})
elseif(NOT STOCKWATCH_MALLOC STREQUAL "glibc")
  message(FATAL_ERROR "STOCKWATCH_MALLOC=${STOCKWATCH_MALLOC}: expected tcmalloc, jemalloc, "
                      "mimalloc or glibc")
endif()
if(NOT STOCKWATCH_SANITIZE AND NOT STOCKWATCH_MALLOC STREQUAL "glibc")
  if(sw_malloc_library)
    message(STATUS "malloc: ${STOCKWATCH_MALLOC} (${sw_malloc_library})")
  else()
    message(STATUS "malloc: glibc (${STOCKWATCH_MALLOC} not found; scripts/setup.sh installs "
                   "it)")
  endif()
endif()

# Links the chosen malloc into TARGET, an executable. Linked as a shared library it comes
# before libc in the search order, so its malloc and free serve the whole process, the
# shared libraries included. --no-as-needed keeps it although no symbol of the binary names
# it; --push-state and --pop-state limit that to the one library. (A link feature rather than
# plain flags, which CMake would deduplicate against other libraries' --pop-state.)
set(CMAKE_LINK_LIBRARY_USING_sw_no_as_needed "LINKER:--push-state,--no-as-needed"
    "<LINK_ITEM>" "LINKER:--pop-state")
set(CMAKE_LINK_LIBRARY_USING_sw_no_as_needed_SUPPORTED TRUE)
function(sw_link_malloc target)
  if(sw_malloc_library)
    target_link_libraries(${target} PRIVATE
                          "$<LINK_LIBRARY:sw_no_as_needed,${sw_malloc_library}>")
  endif()
endfunction()
