# The dashboard (web/): web/build.mjs type-checks and bundles the TypeScript app with esbuild
# and writes it as a C++ source of byte arrays (src/server/web_assets.h), compiled into the
# server library, so the one binary serves its own dashboard. Needs node (18 or later) and
# web/node_modules (scripts/setup.sh runs `npm ci --prefix web`).

# sw_add_web_assets(TARGET): adds the generated web_assets.cc to TARGET's sources.
function(sw_add_web_assets target)
  set(web_dir ${PROJECT_SOURCE_DIR}/web)
  find_program(SW_NODE NAMES node nodejs)
  if(NOT SW_NODE)
    message(FATAL_ERROR "node is needed to build the dashboard (web/): run scripts/setup.sh")
  endif()
  if(NOT EXISTS ${web_dir}/node_modules/esbuild/package.json)
    message(FATAL_ERROR "web/node_modules is missing: run scripts/setup.sh "
                        "(or `npm ci --prefix web`) before configuring")
  endif()
  file(GLOB_RECURSE web_sources CONFIGURE_DEPENDS ${web_dir}/src/*)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/generated/web_assets.cc)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${SW_NODE} ${web_dir}/build.mjs --out ${out}
    DEPENDS ${web_sources} ${web_dir}/build.mjs ${web_dir}/index.html ${web_dir}/tsconfig.json
            ${web_dir}/package-lock.json
    WORKING_DIRECTORY ${web_dir}
    COMMENT "Building the dashboard (web/) into web_assets.cc"
    VERBATIM)
  target_sources(${target} PRIVATE ${out})
  # The app's pure helpers (CSV export, error positions, stock levels), with node's runner.
  if(STOCKWATCH_BUILD_TESTS)
    add_test(NAME web_unit COMMAND ${SW_NODE} --test ${web_dir}/test/unit.test.mjs
             WORKING_DIRECTORY ${web_dir})
  endif()
endfunction()
