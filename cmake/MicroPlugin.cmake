# micro_add_plugin(<target> [INSTALL] <sources>...)
#
# Builds a micro plugin: a MODULE library named <target>.so (no "lib"
# prefix) that exports only `micro_plugin_entry`, refuses undefined symbols
# at link time, and hides everything else. INSTALL installs it into the
# plugin folder (lib/micro/plugins) of micro's install. Works in the micro tree and, after
# find_package(micro), in any out-of-tree project.
set(MICRO_PLUGIN_MAP ${CMAKE_CURRENT_LIST_DIR}/micro_plugin.map CACHE INTERNAL "")

function(micro_add_plugin target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "INSTALL" "" "")
  add_library(${target} MODULE ${arg_UNPARSED_ARGUMENTS})
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  if(DEFINED MICRO_PLUGIN_OUTPUT_DIR)
    # In micro's own tree: the plugin folder of the build, and of the install.
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${MICRO_PLUGIN_OUTPUT_DIR})
  endif()
  if(arg_INSTALL)
    # In micro's tree: lib/micro/plugins of the install. Out of tree: the
    # plugin folder of the micro installation that find_package found.
    if(DEFINED MICRO_INSTALL_PLUGINDIR)
      install(TARGETS ${target} LIBRARY DESTINATION ${MICRO_INSTALL_PLUGINDIR})
    elseif(DEFINED MICRO_PLUGIN_INSTALL_DIR)
      install(TARGETS ${target} LIBRARY DESTINATION ${MICRO_PLUGIN_INSTALL_DIR})
    endif()
  endif()
  target_link_options(${target} PRIVATE -Wl,-z,defs -Wl,--version-script=${MICRO_PLUGIN_MAP})
  if(TARGET micro_sdk)
    target_link_libraries(${target} PRIVATE micro_sdk)
  else()
    target_link_libraries(${target} PRIVATE micro::sdk)
  endif()
endfunction()
