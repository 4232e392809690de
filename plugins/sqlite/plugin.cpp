// plugins/sqlite/plugin.cpp — micro-sqlite.so: the embedded defaults that
// share state between the processes of one host through SQLite files.
#include <micro/driver/registry.hpp>
#include <micro/driver/store.hpp>

#include "file_store.hpp"
#include "local_registry.hpp"

using namespace micro::driver;
using namespace micro::sqlite;

MICRO_PLUGIN("micro-sqlite", "0.1.0",
             "Drivers on SQLite files, shared by the processes of one host",
             MICRO_DRIVER(RegistryDriver<LocalRegistry>, "local", "0.1.0",
                          "service discovery across processes on one host (SQLite, WAL)"),
             MICRO_DRIVER(StoreDriver<FileStore>, "file", "0.1.0",
                          "records in SQLite files, one per database, shared by processes"));
