# micro_add_plugin(<target> <sources>...)
#
# Builds a micro plugin: a MODULE library named <target>.so (no "lib"
# prefix) that exports only `micro_plugin_entry`, refuses undefined symbols
# at link time, and hides everything else. Works in the micro tree and, after
# find_package(micro), in any out-of-tree project.
set(MICRO_PLUGIN_MAP ${CMAKE_CURRENT_LIST_DIR}/micro_plugin.map CACHE INTERNAL "")

function(micro_add_plugin target)
  add_library(${target} MODULE ${ARGN})
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  if(DEFINED MICRO_PLUGIN_OUTPUT_DIR)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${MICRO_PLUGIN_OUTPUT_DIR})
  endif()
  target_link_options(${target} PRIVATE -Wl,-z,defs -Wl,--version-script=${MICRO_PLUGIN_MAP})
  if(TARGET micro_sdk)
    target_link_libraries(${target} PRIVATE micro_sdk)
  else()
    target_link_libraries(${target} PRIVATE micro::sdk)
  endif()
endfunction()
