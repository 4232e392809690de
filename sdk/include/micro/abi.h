/*
 * micro/abi.h — the one contract between the micro core and its plugins.
 *
 * A plugin is a shared object that exports exactly one data symbol,
 * `micro_plugin_entry`, of type `micro_plugin`. Everything else the core needs
 * (the drivers the plugin offers and their function tables) is reached from
 * that symbol. This header is pure C11 so a driver can be written in C, or in
 * C++ with any compiler and any standard library, and still load in a core
 * built with another.
 *
 * VERSIONING
 *   MICRO_ABI_MAJOR changes only when an existing field or function changes
 *   meaning; the core refuses a plugin of another major. MICRO_ABI_MINOR grows
 *   when fields or functions are appended. Every struct that may grow begins
 *   with `uint32_t struct_size` (set by whoever fills the struct); a reader
 *   checks MICRO_HAS(ptr, type, member) before touching a member that a newer
 *   minor appended. A NULL optional function pointer means UNIMPLEMENTED.
 *   The first 8 bytes of `micro_plugin` are frozen for every major, so the
 *   core can always read the versions before it trusts anything else.
 *   An incompatible change to one driver kind is a new kind id, not a major.
 *
 * TYPES THAT CROSS
 *   Fixed-width integers, `micro_str` / `micro_bytes` (pointer + length, never
 *   NUL-terminated unless stated), opaque `void*` handles and function
 *   pointers. No bool (use uint32_t flags), no enums in structs (int32_t).
 *
 * OWNERSHIP ("who allocates frees")
 *   - Inputs are borrowed for the duration of the call that receives them.
 *   - Outputs flow through sinks and completions the caller provides; what a
 *     sink or completion receives is borrowed until that callback returns.
 *     To keep it, copy it.
 *   - An object is destroyed only by the side that created it: driver
 *     instances by `destroy`, subscriptions by `unsubscribe`, and so on.
 *   - `micro_error` is caller-owned with a fixed message buffer: nothing is
 *     allocated across the boundary to report a failure.
 *
 * ERRORS
 *   Every fallible call returns a `micro_code` (the gRPC numbering, below)
 *   and, when not MICRO_OK, a human-readable message: in the caller's
 *   `micro_error` for synchronous calls, as the `message` argument of the
 *   completion for asynchronous ones. No exception ever crosses the boundary.
 *
 * THREADS (tags used on every function below)
 *   [control]      called by the core from one thread with nothing else of
 *                  that object in flight: init, fini, create, destroy.
 *   [thread-safe]  may be called from any thread, concurrently.
 *   [may-block]    may wait on I/O or a lock; the core never calls it from
 *                  its I/O threads.
 *   [non-blocking] must return promptly; the core may call it anywhere.
 *   [any-thread]   a callback that the plugin may invoke from any thread,
 *                  including plugin-owned threads, possibly before the call
 *                  that registered it has returned.
 *   After `destroy(self)` returns, no plugin thread touches `self` or calls
 *   any callback registered through it. After `fini()` returns, no plugin
 *   thread exists. This is what makes unloading safe.
 *
 * ASYNCHRONOUS DATA-PATH CALLS
 *   Calls that may wait on a network (store, broker publish, registry, sync,
 *   auth, config read) take a `micro_done` completion. The driver invokes it
 *   exactly once, from any thread, possibly before the call returns. Sinks
 *   passed with the call are invoked zero or more times, never concurrently,
 *   and all before the completion. The caller keeps every `ctx` alive until
 *   the completion has run. A driver never holds its own locks while it calls
 *   a sink, a completion or any other callback: the callee may call back into
 *   the driver.
 */
#ifndef MICRO_ABI_H
#define MICRO_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MICRO_ABI_MAJOR 1
#define MICRO_ABI_MINOR 1

/* Name of the one exported data symbol, as a string for dlsym-style lookup. */
#define MICRO_PLUGIN_ENTRY_SYMBOL "micro_plugin_entry"

#if defined(_WIN32)
#define MICRO_PLUGIN_EXPORT __declspec(dllexport)
#else
#define MICRO_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

/* True when `ptr` (whose first member is `uint32_t struct_size`) is large
 * enough to contain `member` of `type`: the guard before reading a field that
 * a newer minor appended. */
#define MICRO_HAS(ptr, type, member) \
    ((ptr)->struct_size >= offsetof(type, member) + sizeof(((type*)0)->member))

/* ------------------------------------------------------------------------ */
/* Status codes: the gRPC numbering, one set end to end.                     */
/* ------------------------------------------------------------------------ */

typedef int32_t micro_code;

enum {
    MICRO_OK = 0,                  /* success */
    MICRO_CANCELLED = 1,           /* the caller gave up; nothing to retry */
    MICRO_UNKNOWN = 2,             /* an error with no better code */
    MICRO_INVALID_ARGUMENT = 3,    /* the caller's input is wrong: fix it, do not retry */
    MICRO_DEADLINE_EXCEEDED = 4,   /* time ran out; the effect may or may not have happened */
    MICRO_NOT_FOUND = 5,           /* the named thing does not exist */
    MICRO_ALREADY_EXISTS = 6,      /* the thing to create exists */
    MICRO_PERMISSION_DENIED = 7,   /* authenticated, but not allowed */
    MICRO_RESOURCE_EXHAUSTED = 8,  /* out of memory, quota or buffer: back off */
    MICRO_FAILED_PRECONDITION = 9, /* state is wrong (e.g. a version mismatch): re-read first */
    MICRO_ABORTED = 10,        /* a conflict (e.g. compare-and-set lost): retry the whole step */
    MICRO_OUT_OF_RANGE = 11,   /* past the end of a valid range */
    MICRO_UNIMPLEMENTED = 12,  /* the driver does not offer this operation */
    MICRO_INTERNAL = 13,       /* a bug: an invariant broke */
    MICRO_UNAVAILABLE = 14,    /* the backend cannot be reached now: retry with backoff */
    MICRO_DATA_LOSS = 15,      /* unrecoverable loss or corruption */
    MICRO_UNAUTHENTICATED = 16 /* no valid credentials */
};

#define MICRO_ERROR_MESSAGE_CAPACITY 512

/* Caller-owned error report for synchronous calls. The callee writes a
 * NUL-terminated message (truncated to fit) and the code it also returns. */
typedef struct micro_error {
    micro_code code;
    char message[MICRO_ERROR_MESSAGE_CAPACITY];
} micro_error;

/* ------------------------------------------------------------------------ */
/* Data that crosses                                                         */
/* ------------------------------------------------------------------------ */

/* UTF-8 text by pointer and length; not NUL-terminated. */
typedef struct micro_str {
    const char* data;
    size_t size;
} micro_str;

/* Opaque bytes by pointer and length. */
typedef struct micro_bytes {
    const uint8_t* data;
    size_t size;
} micro_bytes;

/* One key/value pair: metadata, headers, config entries. */
typedef struct micro_kv {
    micro_str key;
    micro_str value;
} micro_kv;

/* Completion of an asynchronous call. `fn` runs exactly once [any-thread].
 * `message` is empty on MICRO_OK. `value` is the call's integer result
 * (a version, a fencing token, a count) as each call documents; 0 otherwise. */
typedef struct micro_done {
    void* ctx;
    void (*fn)(void* ctx, micro_code code, micro_str message, uint64_t value);
} micro_done;

/* A sink of strings (service names, a leader id, an address) [any-thread]. */
typedef struct micro_str_sink {
    void* ctx;
    void (*fn)(void* ctx, micro_str value);
} micro_str_sink;

/* ------------------------------------------------------------------------ */
/* The host table: what the core offers to plugins                          */
/* ------------------------------------------------------------------------ */

enum {
    MICRO_LOG_TRACE = 0,
    MICRO_LOG_DEBUG = 1,
    MICRO_LOG_INFO = 2,
    MICRO_LOG_WARN = 3,
    MICRO_LOG_ERROR = 4
};

/* Passed to `init` and to every `create`; valid until `fini` returns.
 * A plugin never writes to stdout or stderr itself: it logs through here. */
typedef struct micro_host {
    uint32_t struct_size;
    uint16_t abi_major;
    uint16_t abi_minor;
    void* host_data; /* OWNERSHIP: the core's; opaque to plugins */
    /* [thread-safe][non-blocking] */
    void (*log)(const struct micro_host* host, int32_t level, micro_str source, micro_str message);
    /* Look up a host extension by id (e.g. "micro.executor/1"); NULL when the
     * core does not offer it. The returned table lives as long as the host.
     * [thread-safe][non-blocking] */
    const void* (*get_extension)(const struct micro_host* host, const char* id);
} micro_host;

/* ------------------------------------------------------------------------ */
/* Driver kinds and the common head of every driver table                    */
/* ------------------------------------------------------------------------ */

typedef int32_t micro_kind;

enum {
    MICRO_KIND_REGISTRY = 1,
    MICRO_KIND_TRANSPORT = 2,
    MICRO_KIND_BROKER = 3,
    MICRO_KIND_STORE = 4,
    MICRO_KIND_AUTH = 5,
    MICRO_KIND_SYNC = 6,
    MICRO_KIND_CONFIG_SOURCE = 7
};

/* A driver's configuration: its manifest table, flattened. Nested tables
 * become dotted keys ("pool.size"); strings are given as-is, integers and
 * floats in decimal, booleans as "true"/"false", arrays as JSON text. */
typedef struct micro_config {
    const micro_kv* entries; /* OWNERSHIP: borrowed for the call */
    size_t count;
} micro_config;

/* The first member of every kind's table. `struct_size` is the size of the
 * whole kind table (e.g. sizeof(micro_store_driver)), which grows only at its
 * end. micro_driver_base itself is frozen for the major: operations common to
 * every kind that come later are reached through `get_extension`. */
typedef struct micro_driver_base {
    uint32_t struct_size;
    /* Make an instance from its config. On failure return a code, fill `err`
     * and leave `*self` untouched. `instance_name` is the manifest slot
     * ("store", "config.source[0]"). `host` outlives the instance.
     * [control][may-block] */
    micro_code (*create)(const micro_host* host, micro_str instance_name,
                         const micro_config* config, void** self, micro_error* err);
    /* End an instance: after it returns no plugin thread touches `self` and
     * no callback registered through it runs again. [control][may-block] */
    void (*destroy)(void* self);
    /* Optional: an extension table by id, or NULL. [thread-safe][non-blocking] */
    const void* (*get_extension)(void* self, const char* id);
} micro_driver_base;

/* Plain data describing one driver, readable without running plugin code. */
typedef struct micro_driver_descriptor {
    uint32_t struct_size;
    micro_kind kind;
    const char* name;          /* NUL-terminated; unique per kind in a plugin */
    const char* version;       /* NUL-terminated, e.g. "1.0.0" */
    const char* description;   /* NUL-terminated, one line */
    const char* config_schema; /* NUL-terminated JSON Schema of the config, or NULL */
    /* Points to the kind's table (micro_store_driver, ...), whose first
     * member is micro_driver_base. */
    const micro_driver_base* driver;
} micro_driver_descriptor;

/* ------------------------------------------------------------------------ */
/* The plugin entry                                                          */
/* ------------------------------------------------------------------------ */

typedef struct micro_plugin {
    /* Frozen prefix: identical in every major. */
    uint16_t abi_major;
    uint16_t abi_minor;
    uint32_t struct_size;
    /* Since 1.0 */
    const char* name;                              /* NUL-terminated */
    const char* version;                           /* NUL-terminated */
    const char* description;                       /* NUL-terminated */
    const micro_driver_descriptor* const* drivers; /* array of driver_count */
    uint32_t driver_count;
    /* Optional (NULL = nothing to do). Called once after load, before any
     * create. A plugin built for a newer minor than host->abi_minor that
     * needs it fails here with MICRO_FAILED_PRECONDITION naming both.
     * [control][may-block] */
    micro_code (*init)(const micro_host* host, micro_error* err);
    /* Optional. Called once after every instance was destroyed, before
     * unload. [control][may-block] */
    void (*fini)(void);
} micro_plugin;

/* ======================================================================== */
/* Store: records under (database, table, key)                              */
/* ======================================================================== */

/* Expected-version values for compare-and-set writes. */
#define MICRO_VERSION_ANY UINT64_C(0)                     /* unconditional write */
#define MICRO_VERSION_ABSENT UINT64_C(0xFFFFFFFFFFFFFFFF) /* only if no record */

typedef struct micro_record {
    uint32_t struct_size;
    micro_bytes key;
    micro_bytes value;
    const micro_kv* metadata;
    size_t metadata_count;
    /* Absolute expiry in Unix milliseconds; 0 = never expires. */
    int64_t expiry_unix_ms;
    /* On read: the record's current version (> 0, grows on every write).
     * On write: the expected version (MICRO_VERSION_ANY, MICRO_VERSION_ABSENT
     * or a version previously read); a mismatch fails the write with
     * MICRO_ABORTED and changes nothing. */
    uint64_t version;
} micro_record;

enum {
    MICRO_STORE_EXACT = 0,          /* `key` names one record */
    MICRO_STORE_PREFIX = 1u << 0,   /* every key starting with `key` */
    MICRO_STORE_SUFFIX = 1u << 1,   /* every key ending with `key` */
    MICRO_STORE_KEYS_ONLY = 1u << 2 /* sink gets key/version/expiry; value and metadata empty */
};

typedef struct micro_store_query {
    uint32_t struct_size;
    micro_str database; /* empty: the driver's default */
    micro_str table;    /* empty: the driver's default */
    micro_bytes key;    /* empty with PREFIX: every record; an empty exact key is
                           INVALID_ARGUMENT, as is an empty key on write */
    uint32_t flags;     /* MICRO_STORE_* */
    uint64_t limit;     /* 0 = no limit */
    uint64_t offset;
} micro_store_query;

/* Receives records in ascending key order [any-thread]. */
typedef struct micro_record_sink {
    void* ctx;
    void (*fn)(void* ctx, const micro_record* record);
} micro_record_sink;

typedef struct micro_store_driver {
    micro_driver_base base;
    /* Records matching `query` (expired ones never), then `done`; an exact
     * key that does not exist completes with MICRO_NOT_FOUND.
     * [thread-safe][non-blocking] */
    void (*read)(void* self, const micro_store_query* query, micro_record_sink sink,
                 micro_done done);
    /* Write `count` records into (database, table) as one atomic batch where
     * the engine allows; `done.value` is the new version of the last record.
     * `records` is an array of pointers, not of structs, so micro_record can
     * grow in a later minor without changing the array's stride.
     * [thread-safe][non-blocking] */
    void (*write)(void* self, micro_str database, micro_str table,
                  const micro_record* const* records, size_t count, micro_done done);
    /* Erase one key; MICRO_NOT_FOUND when absent. [thread-safe][non-blocking] */
    void (*erase)(void* self, micro_str database, micro_str table, micro_bytes key,
                  micro_done done);
} micro_store_driver;

/* ======================================================================== */
/* Broker: (topic, headers, body) to subscribers                            */
/* ======================================================================== */

typedef struct micro_message {
    uint32_t struct_size;
    micro_str topic;
    const micro_kv* headers;
    size_t header_count;
    micro_bytes body;
} micro_message;

enum {
    MICRO_ACK_AUTO = 0,  /* the handler's return code acks (OK) or nacks */
    MICRO_ACK_MANUAL = 1 /* the core calls `ack` with the delivery id */
};

typedef struct micro_subscribe_options {
    uint32_t struct_size;
    micro_str topic;
    micro_str group;  /* empty: every subscriber gets every message;
                         otherwise one member of the group gets each */
    int32_t ack_mode; /* MICRO_ACK_* */
} micro_subscribe_options;

/* Delivery callback [any-thread]. `delivery_id` identifies this delivery for
 * a manual `ack`. In MICRO_ACK_AUTO the return value acks (MICRO_OK) or
 * nacks (anything else); in MICRO_ACK_MANUAL it is ignored. Deliveries to
 * one subscription are never concurrent. */
typedef struct micro_message_handler {
    void* ctx;
    micro_code (*fn)(void* ctx, const micro_message* message, uint64_t delivery_id);
} micro_message_handler;

typedef struct micro_broker_driver {
    micro_driver_base base;
    /* Publish one message. A driver that knows no subscriber received it may
     * complete with MICRO_NOT_FOUND. [thread-safe][non-blocking] */
    void (*publish)(void* self, const micro_message* message, micro_done done);
    /* Start delivering to `handler`; `*subscription` identifies it.
     * [thread-safe][may-block] */
    micro_code (*subscribe)(void* self, const micro_subscribe_options* options,
                            micro_message_handler handler, void** subscription, micro_error* err);
    /* Stop delivering: after it returns, `handler` is never called again and
     * `subscription` is invalid. Must not be called from inside the handler
     * of the same subscription. [thread-safe][may-block] */
    void (*unsubscribe)(void* self, void* subscription);
    /* Optional (manual ack mode): settle a delivery; `ok` nonzero acks, zero
     * nacks (redelivery where the engine supports it).
     * [thread-safe][non-blocking] */
    micro_code (*ack)(void* self, void* subscription, uint64_t delivery_id, uint32_t ok,
                      micro_error* err);
} micro_broker_driver;

/* ======================================================================== */
/* Registry: opaque service records under (service, node) with a TTL       */
/* ======================================================================== */

typedef struct micro_registry_node {
    uint32_t struct_size;
    micro_str service;
    micro_str node;
    micro_bytes record; /* opaque: the core owns its schema */
    int64_t ttl_ms;     /* 0 = no expiry */
} micro_registry_node;

typedef struct micro_node_sink {
    void* ctx;
    void (*fn)(void* ctx, const micro_registry_node* node);
} micro_node_sink;

enum {
    MICRO_REGISTRY_CREATED = 1,
    MICRO_REGISTRY_UPDATED = 2,
    MICRO_REGISTRY_DELETED = 3 /* deregistered or expired; record may be empty */
};

/* Watch callback [any-thread]; events of one watch are never concurrent. */
typedef struct micro_registry_watcher {
    void* ctx;
    void (*fn)(void* ctx, int32_t event, const micro_registry_node* node);
} micro_registry_watcher;

typedef struct micro_registry_driver {
    micro_driver_base base;
    /* Create or refresh (service, node) with its record and TTL.
     * [thread-safe][non-blocking] */
    void (*register_node)(void* self, const micro_registry_node* node, micro_done done);
    /* MICRO_NOT_FOUND when absent. [thread-safe][non-blocking] */
    void (*deregister_node)(void* self, micro_str service, micro_str node, micro_done done);
    /* Every live node of `service`; MICRO_NOT_FOUND when none.
     * [thread-safe][non-blocking] */
    void (*lookup)(void* self, micro_str service, micro_node_sink sink, micro_done done);
    /* Every service name with at least one live node, each once.
     * [thread-safe][non-blocking] */
    void (*list_services)(void* self, micro_str_sink sink, micro_done done);
    /* Events for `service` (empty: every service) from now on.
     * [thread-safe][may-block] */
    micro_code (*watch)(void* self, micro_str service, micro_registry_watcher watcher, void** watch,
                        micro_error* err);
    /* After it returns the watcher is never called again.
     * [thread-safe][may-block] */
    void (*unwatch)(void* self, void* watch);
} micro_registry_driver;

/* ======================================================================== */
/* Sync: leased locks with fencing tokens, and leader election               */
/* ======================================================================== */

typedef struct micro_lock_request {
    uint32_t struct_size;
    micro_str id;    /* lock name, or election name for campaign */
    micro_str owner; /* who asks (node id); reported by `leader` */
    int64_t ttl_ms;  /* lease length: the lock frees itself if not renewed */
    int64_t wait_ms; /* how long to wait for it: 0 try once, < 0 forever */
} micro_lock_request;

typedef struct micro_sync_driver {
    micro_driver_base base;
    /* Take the lock; `done.value` is the fencing token (strictly increasing
     * per id). MICRO_DEADLINE_EXCEEDED when not acquired within wait_ms.
     * [thread-safe][non-blocking] */
    void (*lock)(void* self, const micro_lock_request* request, micro_done done);
    /* Extend a held lease; MICRO_NOT_FOUND if it was lost.
     * [thread-safe][non-blocking] */
    void (*renew)(void* self, micro_str id, uint64_t token, int64_t ttl_ms, micro_done done);
    /* Release; MICRO_NOT_FOUND if the lease was already lost.
     * [thread-safe][non-blocking] */
    void (*unlock)(void* self, micro_str id, uint64_t token, micro_done done);
    /* Become leader of election `request->id` (waits per wait_ms);
     * `done.value` is the leadership term token. [thread-safe][non-blocking] */
    void (*campaign)(void* self, const micro_lock_request* request, micro_done done);
    /* Give up leadership held with `token`. [thread-safe][non-blocking] */
    void (*resign)(void* self, micro_str election, uint64_t token, micro_done done);
    /* The current leader's owner string into `sink`, then `done` with the
     * term token; MICRO_NOT_FOUND when there is none.
     * [thread-safe][non-blocking] */
    void (*leader)(void* self, micro_str election, micro_str_sink sink, micro_done done);
} micro_sync_driver;

/* ======================================================================== */
/* Auth: accounts and tokens (rules live in the core)                        */
/* ======================================================================== */

typedef struct micro_account {
    uint32_t struct_size;
    micro_str id;
    micro_str type; /* "user", "service", ... */
    micro_str issuer;
    const micro_str* scopes;
    size_t scope_count;
    const micro_kv* metadata;
    size_t metadata_count;
} micro_account;

typedef struct micro_account_sink {
    void* ctx;
    void (*fn)(void* ctx, const micro_account* account);
} micro_account_sink;

typedef struct micro_token {
    uint32_t struct_size;
    micro_str access_token;
    micro_str refresh_token;
    int64_t expiry_unix_ms;
} micro_token;

typedef struct micro_token_sink {
    void* ctx;
    void (*fn)(void* ctx, const micro_token* token);
} micro_token_sink;

typedef struct micro_auth_driver {
    micro_driver_base base;
    /* Create an account with a secret; the stored account goes to `sink`.
     * [thread-safe][non-blocking] */
    void (*generate)(void* self, const micro_account* account, micro_str secret,
                     micro_account_sink sink, micro_done done);
    /* Exchange (id, secret), or (empty id, refresh token), for a token.
     * MICRO_UNAUTHENTICATED on a wrong secret. [thread-safe][non-blocking] */
    void (*token)(void* self, micro_str id, micro_str secret, int64_t ttl_ms, micro_token_sink sink,
                  micro_done done);
    /* The account behind an access token; MICRO_UNAUTHENTICATED when the token
     * is forged, expired or malformed. [thread-safe][non-blocking] */
    void (*inspect)(void* self, micro_str access_token, micro_account_sink sink, micro_done done);
} micro_auth_driver;

/* ======================================================================== */
/* Config source: whole-document reads and change notification              */
/* ======================================================================== */

/* Receives the document and its format ("toml", "json", "env", ...). */
typedef struct micro_config_sink {
    void* ctx;
    void (*fn)(void* ctx, micro_bytes document, micro_str format);
} micro_config_sink;

typedef struct micro_change_handler {
    void* ctx;
    void (*fn)(void* ctx); /* [any-thread]; the core re-reads the source */
} micro_change_handler;

typedef struct micro_config_source_driver {
    micro_driver_base base;
    /* [thread-safe][non-blocking] */
    void (*read)(void* self, micro_config_sink sink, micro_done done);
    /* Optional. [thread-safe][may-block] */
    micro_code (*watch)(void* self, micro_change_handler handler, void** watch, micro_error* err);
    /* Optional; after it returns the handler is never called again.
     * [thread-safe][may-block] */
    void (*unwatch)(void* self, void* watch);
} micro_config_source_driver;

/* ======================================================================== */
/* Transport: ordered, bidirectional message pipes                          */
/* ======================================================================== */

typedef struct micro_transport_message {
    uint32_t struct_size;
    const micro_kv* headers;
    size_t header_count;
    micro_bytes body;
    /* Since minor 1: MICRO_SEND_* bits, meaningful to `send` only. */
    uint32_t flags;
} micro_transport_message;

/* The sender will send more on this connection shortly (a handler pool with
 * calls still queued). The driver may leave this message to its own I/O
 * thread, to go out in one write with what follows, instead of writing it on
 * the calling thread. A hint, not a hold: the message is still written
 * without any further call. Without it, a driver whose connection is idle
 * writes at once, for the lowest latency. */
#define MICRO_SEND_MORE_FOLLOWS 1u

/* What the core wants told about one connection. All three run [any-thread]
 * but never concurrently for one connection, and never from inside `send`,
 * `close` or `dial` on the calling thread (so the core may hold a lock of its
 * own across those calls). */
typedef struct micro_connection_events {
    void* ctx;
    /* One whole message, in order. */
    void (*on_message)(void* ctx, const micro_transport_message* message);
    /* A send that returned MICRO_RESOURCE_EXHAUSTED may be retried now. */
    void (*on_writable)(void* ctx);
    /* Exactly once per connection, last; the handle is invalid after it
     * returns. `code` is MICRO_OK for an orderly close. */
    void (*on_close)(void* ctx, micro_code code, micro_str reason);
} micro_connection_events;

/* A new inbound connection [any-thread]. The core fills `events` before
 * returning; the driver delivers nothing on `connection` before that. */
typedef struct micro_accept_handler {
    void* ctx;
    void (*fn)(void* ctx, void* connection, micro_str remote_address,
               micro_connection_events* events);
} micro_accept_handler;

typedef struct micro_transport_driver {
    micro_driver_base base;
    /* Listen on `address` ("127.0.0.1:0" picks a port); the bound address
     * goes to `bound`. [thread-safe][may-block] */
    micro_code (*listen)(void* self, micro_str address, micro_accept_handler handler,
                         micro_str_sink bound, void** listener, micro_error* err);
    /* Stop accepting; connections already accepted live on.
     * [thread-safe][may-block] */
    void (*unlisten)(void* self, void* listener);
    /* Connect within timeout_ms; events go to `events`.
     * [thread-safe][may-block] */
    micro_code (*dial)(void* self, micro_str address, int64_t timeout_ms,
                       micro_connection_events events, void** connection, micro_error* err);
    /* Queue one message. MICRO_RESOURCE_EXHAUSTED when the connection's
     * buffer is full (wait for on_writable); MICRO_UNAVAILABLE once closed.
     * [thread-safe][non-blocking] */
    micro_code (*send)(void* self, void* connection, const micro_transport_message* message,
                       micro_error* err);
    /* Begin an orderly close; on_close follows. [thread-safe][non-blocking] */
    void (*close)(void* self, void* connection);
} micro_transport_driver;

/* ======================================================================== */
/* Host extensions: what a driver may borrow from the runtime that made it   */
/* ======================================================================== */

/* micro_host.get_extension(host, MICRO_HOST_REGISTRY_EXTENSION) returns a
 * `const micro_host_registry*` naming the registry instance of the same
 * runtime, or NULL when the manifest has no registry slot or when it is asked
 * before that slot was created (slots are created in kind order: registry,
 * transport, broker, store, auth, sync, config sources). The instance outlives
 * every driver created after it, so a broker may keep the pointer for its own
 * lifetime. Calls go straight to the registry driver's table, under the
 * registry's contract. A driver built against a core that lacks the
 * extension sees NULL and must say so in its `create` error. */
#define MICRO_HOST_REGISTRY_EXTENSION "micro.registry/1"
typedef struct micro_host_registry {
    uint32_t struct_size;
    const micro_registry_driver* driver;
    void* self;
} micro_host_registry;

/* Likewise for the runtime's transport ("micro.transport/1"). */
#define MICRO_HOST_TRANSPORT_EXTENSION "micro.transport/1"
typedef struct micro_host_transport {
    uint32_t struct_size;
    const micro_transport_driver* driver;
    void* self;
    micro_str name; /* the transport driver's name ("tcp", "http"); borrowed */
} micro_host_transport;

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* MICRO_ABI_H */
