// plugins/sqlite/paths.hpp — where the SQLite drivers keep their files.
//
// Contract
//   defaultRegistryPath(): $MICRO_REGISTRY_PATH when set and not empty, else
//     $XDG_RUNTIME_DIR/micro/registry.db when XDG_RUNTIME_DIR is set, else
//     /tmp/micro-<uid>/registry.db. Every process of one user on one host
//     computes the same path, which is what lets them find each other.
//   defaultStoreDir(): $XDG_DATA_HOME/micro/store, else
//     $HOME/.local/share/micro/store, else /tmp/micro-<uid>/store.
//   ensureDirectory(dir): creates `dir` and any missing parent with mode
//     0700 (existing folders are left as they are). A folder directly under
//     /tmp named micro-<uid> must be a real directory owned by this user, so
//     another user cannot pre-create it (or a symlink) to read or feed our
//     files. Throws micro::Error(INVALID_ARGUMENT) naming the folder.
//   Reads the environment: call from [control] code (create), not
//   concurrently with setenv.
#pragma once

#include <string>

namespace micro::sqlite {

std::string defaultRegistryPath();
std::string defaultStoreDir();
void ensureDirectory(const std::string& dir);
/// ensureDirectory() of the folder holding `file` (nothing for a bare name).
void ensureParentDirectory(const std::string& file);

}  // namespace micro::sqlite
