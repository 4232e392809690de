// search_path.hpp — where plugin files and the default manifest are found.
//
// A bare plugin file name resolves, in order: beside the manifest, in each
// directory of $MICRO_PLUGIN_PATH (colon-separated), in
// <executable>/../lib/micro/plugins, and in <libmicro>/micro/plugins. A name
// with a '/' is a path, relative to the manifest's directory. This makes the
// build tree and an install work with no environment variables set.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace micro::detail {

/// Candidate locations for `plugin` named in `manifest`, in search order.
std::vector<std::filesystem::path> pluginCandidates(const std::string& plugin,
                                                    const std::filesystem::path& manifest);

/// The directory of the running executable and of libmicro itself.
std::filesystem::path executableDir();
std::filesystem::path libraryDir();

}  // namespace micro::detail
