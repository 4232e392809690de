// plugins/postgres/plugin.cpp — micro-postgres.so: the store driver
// "postgres", for PostgreSQL and CockroachDB (same driver, different url).
#include <micro/driver/store.hpp>

#include "postgres_store.hpp"

using namespace micro::driver;
using namespace micro::postgres;

MICRO_PLUGIN("micro-postgres", "0.1.0", "Drivers on a PostgreSQL or CockroachDB server",
             MICRO_DRIVER(StoreDriver<PostgresStore>, "postgres", "0.1.0",
                          "records in PostgreSQL or CockroachDB tables, shared by processes"));
