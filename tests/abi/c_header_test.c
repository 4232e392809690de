/*
 * c_header_test.c — proves that micro/abi.h is a C ABI.
 *
 * Built as C11 with -Wall -Wextra -pedantic -Werror: if abi.h stops being
 * valid C, this does not compile. The _Static_asserts pin the layout of every
 * struct that crosses the boundary, so an accidental change (a reordered
 * field, a widened type, an inserted member) fails the build instead of
 * silently breaking plugins built against an earlier header. An intended
 * change must update the pin here and, unless it only appends, MICRO_ABI_MAJOR.
 *
 * The pins are written in terms of pointer size where they can be; the exact
 * byte offsets below hold on every LP64 target (Linux/macOS x86-64, AArch64).
 */
#include <micro/abi.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define PIN_OFFSET(type, member, value) \
    _Static_assert(offsetof(type, member) == (value), #type "." #member " moved")
#define PIN_SIZE(type, value) _Static_assert(sizeof(type) == (value), "sizeof(" #type ") changed")

/* ---- Versions and the entry symbol ------------------------------------- */

_Static_assert(MICRO_ABI_MAJOR == 1, "MICRO_ABI_MAJOR changed: update the ABI tests");
_Static_assert(MICRO_ABI_MINOR >= 1, "MICRO_ABI_MINOR never goes back");

/* ---- The frozen prefix of micro_plugin: identical in every major -------- */

PIN_OFFSET(micro_plugin, abi_major, 0);
PIN_OFFSET(micro_plugin, abi_minor, 2);
PIN_OFFSET(micro_plugin, struct_size, 4);
_Static_assert(sizeof(((micro_plugin*)0)->abi_major) == 2, "abi_major must stay uint16_t");
_Static_assert(sizeof(((micro_plugin*)0)->abi_minor) == 2, "abi_minor must stay uint16_t");
_Static_assert(sizeof(((micro_plugin*)0)->struct_size) == 4, "struct_size must stay uint32_t");

/* ---- Canonical codes: the gRPC numbering, forever ----------------------- */

_Static_assert(MICRO_OK == 0, "code");
_Static_assert(MICRO_CANCELLED == 1, "code");
_Static_assert(MICRO_UNKNOWN == 2, "code");
_Static_assert(MICRO_INVALID_ARGUMENT == 3, "code");
_Static_assert(MICRO_DEADLINE_EXCEEDED == 4, "code");
_Static_assert(MICRO_NOT_FOUND == 5, "code");
_Static_assert(MICRO_ALREADY_EXISTS == 6, "code");
_Static_assert(MICRO_PERMISSION_DENIED == 7, "code");
_Static_assert(MICRO_RESOURCE_EXHAUSTED == 8, "code");
_Static_assert(MICRO_FAILED_PRECONDITION == 9, "code");
_Static_assert(MICRO_ABORTED == 10, "code");
_Static_assert(MICRO_OUT_OF_RANGE == 11, "code");
_Static_assert(MICRO_UNIMPLEMENTED == 12, "code");
_Static_assert(MICRO_INTERNAL == 13, "code");
_Static_assert(MICRO_UNAVAILABLE == 14, "code");
_Static_assert(MICRO_DATA_LOSS == 15, "code");
_Static_assert(MICRO_UNAUTHENTICATED == 16, "code");
_Static_assert(sizeof(micro_code) == 4, "micro_code must stay int32_t");

/* ---- Other constants that travel as numbers ----------------------------- */

_Static_assert(MICRO_LOG_TRACE == 0 && MICRO_LOG_DEBUG == 1 && MICRO_LOG_INFO == 2 &&
                   MICRO_LOG_WARN == 3 && MICRO_LOG_ERROR == 4,
               "log levels");
_Static_assert(MICRO_KIND_REGISTRY == 1 && MICRO_KIND_TRANSPORT == 2 && MICRO_KIND_BROKER == 3 &&
                   MICRO_KIND_STORE == 4 && MICRO_KIND_AUTH == 5 && MICRO_KIND_SYNC == 6 &&
                   MICRO_KIND_CONFIG_SOURCE == 7,
               "driver kinds");
_Static_assert(sizeof(micro_kind) == 4, "micro_kind must stay int32_t");
_Static_assert(MICRO_STORE_EXACT == 0 && MICRO_STORE_PREFIX == 1 && MICRO_STORE_SUFFIX == 2 &&
                   MICRO_STORE_KEYS_ONLY == 4,
               "store flags");
_Static_assert(MICRO_ACK_AUTO == 0 && MICRO_ACK_MANUAL == 1, "ack modes");
_Static_assert(MICRO_SEND_MORE_FOLLOWS == 1, "send flags");
_Static_assert(MICRO_REGISTRY_CREATED == 1 && MICRO_REGISTRY_UPDATED == 2 &&
                   MICRO_REGISTRY_DELETED == 3,
               "registry events");
_Static_assert(MICRO_VERSION_ANY == 0, "MICRO_VERSION_ANY");
_Static_assert(MICRO_VERSION_ABSENT == UINT64_MAX, "MICRO_VERSION_ABSENT");
_Static_assert(MICRO_ERROR_MESSAGE_CAPACITY == 512, "error buffer capacity");

/* ---- Layout, independent of pointer size -------------------------------- */

#define PTR sizeof(void*)

PIN_SIZE(micro_str, 2 * PTR);
PIN_OFFSET(micro_str, size, PTR);
PIN_SIZE(micro_bytes, 2 * PTR);
PIN_OFFSET(micro_bytes, size, PTR);
PIN_SIZE(micro_kv, 4 * PTR);
PIN_OFFSET(micro_kv, value, 2 * PTR);
PIN_SIZE(micro_done, 2 * PTR);
PIN_OFFSET(micro_done, fn, PTR);
PIN_SIZE(micro_str_sink, 2 * PTR);
PIN_SIZE(micro_record_sink, 2 * PTR);
PIN_SIZE(micro_config, 2 * PTR);
PIN_OFFSET(micro_error, code, 0);
PIN_OFFSET(micro_error, message, 4);
PIN_SIZE(micro_error, 4 + MICRO_ERROR_MESSAGE_CAPACITY);

/* Every growable struct begins with its size. */
PIN_OFFSET(micro_host, struct_size, 0);
PIN_OFFSET(micro_driver_base, struct_size, 0);
PIN_OFFSET(micro_driver_descriptor, struct_size, 0);
PIN_OFFSET(micro_record, struct_size, 0);
PIN_OFFSET(micro_store_query, struct_size, 0);
PIN_OFFSET(micro_message, struct_size, 0);
PIN_OFFSET(micro_subscribe_options, struct_size, 0);
PIN_OFFSET(micro_registry_node, struct_size, 0);
PIN_OFFSET(micro_lock_request, struct_size, 0);
PIN_OFFSET(micro_account, struct_size, 0);
PIN_OFFSET(micro_token, struct_size, 0);
PIN_OFFSET(micro_transport_message, struct_size, 0);

/* Every kind's table begins with the common head. */
PIN_OFFSET(micro_store_driver, base, 0);
PIN_OFFSET(micro_broker_driver, base, 0);
PIN_OFFSET(micro_registry_driver, base, 0);
PIN_OFFSET(micro_sync_driver, base, 0);
PIN_OFFSET(micro_auth_driver, base, 0);
PIN_OFFSET(micro_config_source_driver, base, 0);
PIN_OFFSET(micro_transport_driver, base, 0);

/* ---- Exact layout on LP64 ------------------------------------------------ */

#if defined(__LP64__) || defined(_LP64)
_Static_assert(sizeof(void*) == 8 && sizeof(size_t) == 8, "LP64");

PIN_SIZE(micro_str, 16);
PIN_SIZE(micro_bytes, 16);
PIN_SIZE(micro_kv, 32);
PIN_SIZE(micro_done, 16);
PIN_SIZE(micro_error, 516);

PIN_OFFSET(micro_plugin, name, 8);
PIN_OFFSET(micro_plugin, version, 16);
PIN_OFFSET(micro_plugin, description, 24);
PIN_OFFSET(micro_plugin, drivers, 32);
PIN_OFFSET(micro_plugin, driver_count, 40);
PIN_OFFSET(micro_plugin, init, 48);
PIN_OFFSET(micro_plugin, fini, 56);
PIN_SIZE(micro_plugin, 64);

PIN_OFFSET(micro_host, abi_major, 4);
PIN_OFFSET(micro_host, abi_minor, 6);
PIN_OFFSET(micro_host, host_data, 8);
PIN_OFFSET(micro_host, log, 16);
PIN_OFFSET(micro_host, get_extension, 24);
PIN_SIZE(micro_host, 32);

PIN_OFFSET(micro_driver_base, create, 8);
PIN_OFFSET(micro_driver_base, destroy, 16);
PIN_OFFSET(micro_driver_base, get_extension, 24);
PIN_SIZE(micro_driver_base, 32);

PIN_OFFSET(micro_driver_descriptor, kind, 4);
PIN_OFFSET(micro_driver_descriptor, name, 8);
PIN_OFFSET(micro_driver_descriptor, version, 16);
PIN_OFFSET(micro_driver_descriptor, description, 24);
PIN_OFFSET(micro_driver_descriptor, config_schema, 32);
PIN_OFFSET(micro_driver_descriptor, driver, 40);
PIN_SIZE(micro_driver_descriptor, 48);

PIN_OFFSET(micro_record, key, 8);
PIN_OFFSET(micro_record, value, 24);
PIN_OFFSET(micro_record, metadata, 40);
PIN_OFFSET(micro_record, metadata_count, 48);
PIN_OFFSET(micro_record, expiry_unix_ms, 56);
PIN_OFFSET(micro_record, version, 64);
PIN_SIZE(micro_record, 72);

PIN_OFFSET(micro_store_query, database, 8);
PIN_OFFSET(micro_store_query, table, 24);
PIN_OFFSET(micro_store_query, key, 40);
PIN_OFFSET(micro_store_query, flags, 56);
PIN_OFFSET(micro_store_query, limit, 64);
PIN_OFFSET(micro_store_query, offset, 72);
PIN_SIZE(micro_store_query, 80);

PIN_OFFSET(micro_store_driver, read, 32);
PIN_OFFSET(micro_store_driver, write, 40);
PIN_OFFSET(micro_store_driver, erase, 48);
PIN_SIZE(micro_store_driver, 56);

PIN_OFFSET(micro_message, topic, 8);
PIN_OFFSET(micro_message, headers, 24);
PIN_OFFSET(micro_message, header_count, 32);
PIN_OFFSET(micro_message, body, 40);
PIN_SIZE(micro_message, 56);

PIN_OFFSET(micro_subscribe_options, topic, 8);
PIN_OFFSET(micro_subscribe_options, group, 24);
PIN_OFFSET(micro_subscribe_options, ack_mode, 40);
PIN_SIZE(micro_subscribe_options, 48);

PIN_SIZE(micro_message_handler, 16);
PIN_OFFSET(micro_broker_driver, publish, 32);
PIN_OFFSET(micro_broker_driver, subscribe, 40);
PIN_OFFSET(micro_broker_driver, unsubscribe, 48);
PIN_OFFSET(micro_broker_driver, ack, 56);
PIN_SIZE(micro_broker_driver, 64);

PIN_OFFSET(micro_registry_node, service, 8);
PIN_OFFSET(micro_registry_node, node, 24);
PIN_OFFSET(micro_registry_node, record, 40);
PIN_OFFSET(micro_registry_node, ttl_ms, 56);
PIN_SIZE(micro_registry_node, 64);

PIN_SIZE(micro_node_sink, 16);
PIN_SIZE(micro_registry_watcher, 16);
PIN_OFFSET(micro_registry_driver, register_node, 32);
PIN_OFFSET(micro_registry_driver, deregister_node, 40);
PIN_OFFSET(micro_registry_driver, lookup, 48);
PIN_OFFSET(micro_registry_driver, list_services, 56);
PIN_OFFSET(micro_registry_driver, watch, 64);
PIN_OFFSET(micro_registry_driver, unwatch, 72);
PIN_SIZE(micro_registry_driver, 80);

PIN_OFFSET(micro_lock_request, id, 8);
PIN_OFFSET(micro_lock_request, owner, 24);
PIN_OFFSET(micro_lock_request, ttl_ms, 40);
PIN_OFFSET(micro_lock_request, wait_ms, 48);
PIN_SIZE(micro_lock_request, 56);

PIN_OFFSET(micro_sync_driver, lock, 32);
PIN_OFFSET(micro_sync_driver, renew, 40);
PIN_OFFSET(micro_sync_driver, unlock, 48);
PIN_OFFSET(micro_sync_driver, campaign, 56);
PIN_OFFSET(micro_sync_driver, resign, 64);
PIN_OFFSET(micro_sync_driver, leader, 72);
PIN_SIZE(micro_sync_driver, 80);

PIN_OFFSET(micro_account, id, 8);
PIN_OFFSET(micro_account, type, 24);
PIN_OFFSET(micro_account, issuer, 40);
PIN_OFFSET(micro_account, scopes, 56);
PIN_OFFSET(micro_account, scope_count, 64);
PIN_OFFSET(micro_account, metadata, 72);
PIN_OFFSET(micro_account, metadata_count, 80);
PIN_SIZE(micro_account, 88);

PIN_OFFSET(micro_token, access_token, 8);
PIN_OFFSET(micro_token, refresh_token, 24);
PIN_OFFSET(micro_token, expiry_unix_ms, 40);
PIN_SIZE(micro_token, 48);

PIN_OFFSET(micro_auth_driver, generate, 32);
PIN_OFFSET(micro_auth_driver, token, 40);
PIN_OFFSET(micro_auth_driver, inspect, 48);
PIN_SIZE(micro_auth_driver, 56);

PIN_SIZE(micro_config_sink, 16);
PIN_SIZE(micro_change_handler, 16);
PIN_OFFSET(micro_config_source_driver, read, 32);
PIN_OFFSET(micro_config_source_driver, watch, 40);
PIN_OFFSET(micro_config_source_driver, unwatch, 48);
PIN_SIZE(micro_config_source_driver, 56);

PIN_OFFSET(micro_transport_message, headers, 8);
PIN_OFFSET(micro_transport_message, header_count, 16);
PIN_OFFSET(micro_transport_message, body, 24);
PIN_OFFSET(micro_transport_message, flags, 40); /* appended in minor 1 */
PIN_SIZE(micro_transport_message, 48);

PIN_OFFSET(micro_connection_events, on_message, 8);
PIN_OFFSET(micro_connection_events, on_writable, 16);
PIN_OFFSET(micro_connection_events, on_close, 24);
PIN_SIZE(micro_connection_events, 32);
PIN_SIZE(micro_accept_handler, 16);

PIN_OFFSET(micro_transport_driver, listen, 32);
PIN_OFFSET(micro_transport_driver, unlisten, 40);
PIN_OFFSET(micro_transport_driver, dial, 48);
PIN_OFFSET(micro_transport_driver, send, 56);
PIN_OFFSET(micro_transport_driver, close, 64);
PIN_SIZE(micro_transport_driver, 72);
#endif /* LP64 */

/* ---- The macros work in C ------------------------------------------------ */

/* A reader of a 1.0 plugin: MICRO_HAS must accept a full 1.0 struct and
 * refuse one that stops short of the member. */
static int hasChecks(void) {
    micro_plugin full = {0};
    micro_plugin shortened = {0};
    full.struct_size = (uint32_t)sizeof(micro_plugin);
    shortened.struct_size = (uint32_t)offsetof(micro_plugin, fini);
    return MICRO_HAS(&full, micro_plugin, fini) && !MICRO_HAS(&shortened, micro_plugin, fini) &&
           MICRO_HAS(&shortened, micro_plugin, init);
}

int main(void) {
    static const char entry[] = MICRO_PLUGIN_ENTRY_SYMBOL;
    _Static_assert(sizeof(entry) == sizeof("micro_plugin_entry"), "entry symbol name");
    if (!hasChecks()) {
        fputs("MICRO_HAS gave a wrong answer\n", stderr);
        return 1;
    }
    return 0;
}
