// commands.hpp — the verbs of the `micro` tool. Each returns the process exit
// code and reports failures as one line on stderr (the caller prints
// micro::Error messages).
#pragma once

#include "options.hpp"

namespace micro::cli {

int pluginsInspect(const Options& options);
int pluginsCheck(const Options& options);
int services(const Options& options);
int describe(const Options& options);
int call(const Options& options);
int store(const Options& options);
int publish(const Options& options);
int subscribe(const Options& options);
int api(const Options& options);

}  // namespace micro::cli
