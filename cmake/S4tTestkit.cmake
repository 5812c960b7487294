# s4t_add_plugin_test(<name> SOURCES <src>... [PLUGIN_DIRS <dir>...] [DEPENDS <target>...])
#
# A doctest executable that tests plugins through the s4t test kit (s4t_testkit/testkit.hpp): it links
# s4t::testkit and doctest, gets doctest's main, and is registered with ctest (one entry per TEST_CASE
# when doctest's CMake module is there, else one entry for the executable). PLUGIN_DIRS reach the kit as
# S4T_TEST_PLUGIN_DIR, searched before the SDK's own plugin folder; DEPENDS (typically the plugins under
# test) are built first. Used by s4t's own tests and, through find_package(s4t), by third-party plugins.

# doctest and its CMake module, looked for here (not in the function) because the module keeps a
# variable that doctest_discover_tests() needs in the scope it was included in.
if(NOT TARGET doctest::doctest)
  find_package(doctest QUIET)
endif()
if(TARGET doctest::doctest AND NOT COMMAND doctest_discover_tests)
  include(doctest OPTIONAL)
endif()

function(s4t_add_plugin_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;PLUGIN_DIRS;DEPENDS" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "s4t_add_plugin_test(${name}): SOURCES is required")
  endif()
  if(NOT TARGET doctest::doctest)
    message(FATAL_ERROR "s4t_add_plugin_test(${name}) needs doctest: install it (e.g. Debian's doctest-dev) or "
                        "point CMAKE_PREFIX_PATH at it before find_package(s4t)")
  endif()
  # Written only when missing or different, so a reconfigure does not rebuild it.
  set(_main "${CMAKE_CURRENT_BINARY_DIR}/${name}_main.cpp")
  file(CONFIGURE OUTPUT "${_main}" CONTENT "#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN\n#include <doctest/doctest.h>\n")
  add_executable(${name} ${ARG_SOURCES} "${_main}")
  target_link_libraries(${name} PRIVATE s4t::testkit doctest::doctest)
  if(ARG_DEPENDS)
    add_dependencies(${name} ${ARG_DEPENDS})
  endif()
  set(_properties)
  if(ARG_PLUGIN_DIRS)
    list(JOIN ARG_PLUGIN_DIRS ":" _dirs)
    set(_properties ENVIRONMENT "S4T_TEST_PLUGIN_DIR=${_dirs}")
  endif()
  if(COMMAND doctest_discover_tests)
    if(_properties)
      doctest_discover_tests(${name} WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR} PROPERTIES ${_properties})
    else()
      doctest_discover_tests(${name} WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
    endif()
  else()
    add_test(NAME ${name} COMMAND ${name} WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
    if(_properties)
      set_tests_properties(${name} PROPERTIES ${_properties})
    endif()
  endif()
endfunction()
