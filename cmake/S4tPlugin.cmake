# s4t_add_plugin(<target> SOURCES <src>... [OUTPUT_DIR <dir>] [NO_INSTALL])
#
# Builds a plugin the way the host expects it: a MODULE library linked against the s4t SDK (and so
# against the one shared LibTorch of the process), hidden visibility so only the entry point that
# S4T_PLUGIN() writes is exported, and no undefined symbols left for load time.
# Used by the first-party plugins and, through find_package(s4t), by third-party plugins.
function(s4t_add_plugin target)
  cmake_parse_arguments(ARG "NO_INSTALL" "OUTPUT_DIR" "SOURCES" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "s4t_add_plugin(${target}): SOURCES is required")
  endif()
  add_library(${target} MODULE ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE s4t::sdk)
  target_compile_features(${target} PRIVATE cxx_std_17)
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  target_link_options(${target} PRIVATE "LINKER:--no-undefined")
  # Installed plugins find libs4t_sdk next to them (<prefix>/lib/s4t/plugins -> <prefix>/lib) or where
  # the SDK was found at build time.
  set_target_properties(${target} PROPERTIES INSTALL_RPATH "$ORIGIN/../.." INSTALL_RPATH_USE_LINK_PATH ON)
  if(ARG_OUTPUT_DIR)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${ARG_OUTPUT_DIR}")
  elseif(DEFINED S4T_BUILD_PLUGIN_DIR)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${S4T_BUILD_PLUGIN_DIR}")
  endif()
  if(NOT ARG_NO_INSTALL AND DEFINED S4T_PLUGIN_INSTALL_DIR)
    install(TARGETS ${target} LIBRARY DESTINATION "${S4T_PLUGIN_INSTALL_DIR}")
    set_property(GLOBAL APPEND PROPERTY S4T_SHIPPED_PLUGINS ${target})  # s4t's own build: part of s4t_runtime
  endif()
endfunction()
