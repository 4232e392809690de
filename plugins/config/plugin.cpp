// plugins/config/plugin.cpp — micro-config.so: configuration from the
// environment and from files.
#include <micro/driver/config_source.hpp>

#include "env_source.hpp"
#include "file_source.hpp"

using namespace micro::driver;
using namespace micro::config;

MICRO_PLUGIN("micro-config", "0.1.0", "Config sources: the process environment and files",
             MICRO_DRIVER(ConfigSourceDriver<EnvSource>, "env", "0.1.0",
                          "environment variables under a prefix, as KEY=value lines"),
             MICRO_DRIVER(ConfigSourceDriver<FileSource>, "file", "0.1.0",
                          "one file (toml, json, yaml or env), watched by polling"));
