// micro/sdk.hpp — everything a plugin author includes: the ABI, the error
// type, and the adapters for every driver kind. See micro/driver/plugin.hpp.
#pragma once

#include <micro/abi.h>
#include <micro/driver/auth.hpp>
#include <micro/driver/broker.hpp>
#include <micro/driver/config_source.hpp>
#include <micro/driver/plugin.hpp>
#include <micro/driver/registry.hpp>
#include <micro/driver/store.hpp>
#include <micro/driver/sync.hpp>
#include <micro/driver/text.hpp>
#include <micro/driver/transport.hpp>
#include <micro/error.hpp>
