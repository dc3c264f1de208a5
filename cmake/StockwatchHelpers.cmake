# Helpers in the style of leveldb's leveldb_test(): one line per test, bench or fuzzer.

# sw_add_test(NAME SOURCES... LIBS libs...): a GoogleTest binary registered with ctest.
function(sw_add_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest_main GTest::gmock)
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 300)
endfunction()

# sw_add_bench(NAME SOURCES... LIBS libs...): a Google Benchmark binary (not run by ctest).
function(sw_add_bench name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} benchmark::benchmark_main)
endfunction()

# sw_add_fuzzer(NAME SOURCE src [SOURCES srcs...] LIBS libs...): with Clang and
# STOCKWATCH_BUILD_FUZZ a libFuzzer binary; always a replay binary `NAME_replay` that ctest
# runs over fuzz/corpus/NAME/, so every crasher kept in the corpus is replayed on every
# build, GCC included. SOURCES are compiled into both binaries (with the fuzzer's
# sanitizers), so the code under test is instrumented and needs no other layer built.
function(sw_add_fuzzer name)
  cmake_parse_arguments(ARG "" "SOURCE" "SOURCES;LIBS" ${ARGN})
  add_executable(${name}_replay ${ARG_SOURCE} ${ARG_SOURCES}
                 ${PROJECT_SOURCE_DIR}/fuzz/replay_main.cc)
  target_include_directories(${name}_replay PRIVATE ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${name}_replay PRIVATE ${ARG_LIBS})
  add_test(NAME ${name}_corpus_replay
           COMMAND ${name}_replay ${PROJECT_SOURCE_DIR}/fuzz/corpus/${name})
  if(STOCKWATCH_BUILD_FUZZ AND CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    add_executable(${name} ${ARG_SOURCE} ${ARG_SOURCES})
    target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/src)
    target_compile_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined
                           -fno-sanitize-recover=all -fno-omit-frame-pointer)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_libraries(${name} PRIVATE ${ARG_LIBS})
  endif()
endfunction()
