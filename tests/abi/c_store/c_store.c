/*
 * c_store.c — the "c" store driver: an in-memory store written in plain C11.
 *
 * It exists to prove that micro's plugin ABI is a C ABI: it includes nothing
 * but <micro/abi.h> and the C library, and it passes the same store
 * conformance suite as the C++ memory store.
 *
 * Model
 *   A store instance holds namespaces, one per (database, table); empty names
 *   mean "micro". Each namespace is an array of entry pointers sorted by key
 *   in byte-wise order (memcmp, the shorter key first on a common prefix),
 *   searched by bisection. Versions come from one counter per instance, so a
 *   key's version grows strictly on every write, even across an erase.
 *
 * Entries
 *   An entry is one allocation: its header, its metadata array and every byte
 *   its record points to. Entries are immutable once published and
 *   reference-counted, so a read takes references under the lock, releases
 *   the lock, and only then calls the caller's sink: a sink may call back
 *   into the store without deadlocking, and a slow sink never blocks writers.
 *
 * Threads
 *   One pthread mutex guards an instance; every data-path call completes
 *   before it returns. Expired records are never returned; they are dropped
 *   when a write or an erase meets them.
 */
#define _POSIX_C_SOURCE 200809L

#include <micro/abi.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------------------ */
/* Types                                                                     */
/* ------------------------------------------------------------------------ */

typedef struct cs_entry {
    atomic_size_t refs;
    micro_record record; /* every pointer points into this allocation */
    micro_kv metadata[]; /* record.metadata_count entries, then the bytes */
} cs_entry;

typedef struct cs_space {
    char* names; /* the database name, then the table name (not terminated) */
    size_t database_size;
    size_t table_size;
    cs_entry** entries; /* sorted by key */
    size_t count;
    size_t capacity;
} cs_space;

typedef struct cs_store {
    pthread_mutex_t mutex;
    cs_space* spaces;
    size_t space_count;
    size_t space_capacity;
    uint64_t last_version;
} cs_store;

/* A message for a completion; borrowed by the callee for the call only. */
typedef struct cs_message {
    char text[MICRO_ERROR_MESSAGE_CAPACITY];
} cs_message;

static const uint8_t kNoBytes[1] = {0};
static const char kDefaultName[] = "micro";

/* ------------------------------------------------------------------------ */
/* Small helpers                                                             */
/* ------------------------------------------------------------------------ */

static void format_message(cs_message* out, const char* format, va_list args) {
    if (vsnprintf(out->text, sizeof(out->text), format, args) < 0) out->text[0] = '\0';
}

/* Complete `done` with `code` and a printf-style message. */
__attribute__((format(printf, 3, 4))) static void complete(micro_done done, micro_code code,
                                                           const char* format, ...) {
    cs_message message;
    va_list args;
    va_start(args, format);
    format_message(&message, format, args);
    va_end(args);
    micro_str text = {message.text, strlen(message.text)};
    done.fn(done.ctx, code, text, 0);
}

static void complete_ok(micro_done done, uint64_t value) {
    micro_str empty = {"", 0};
    done.fn(done.ctx, MICRO_OK, empty, value);
}

/* Fill a caller-owned micro_error and return its code. */
__attribute__((format(printf, 3, 4))) static micro_code fail(micro_error* err, micro_code code,
                                                             const char* format, ...) {
    if (err != NULL) {
        cs_message message;
        va_list args;
        va_start(args, format);
        format_message(&message, format, args);
        va_end(args);
        err->code = code;
        memcpy(err->message, message.text, strlen(message.text) + 1);
    }
    return code;
}

/* `key` as printable text for messages: at most 64 bytes, the rest
 * elided, bytes outside printable ASCII written as \xNN. */
static const char* describe_key(micro_bytes key, char* buffer, size_t capacity) {
    static const char hex[] = "0123456789abcdef";
    size_t out = 0;
    for (size_t i = 0; i < key.size && i < 64; ++i) {
        uint8_t c = key.data[i];
        if (out + 5 >= capacity) break;
        if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
            buffer[out++] = (char)c;
        } else {
            buffer[out++] = '\\';
            buffer[out++] = 'x';
            buffer[out++] = hex[c >> 4];
            buffer[out++] = hex[c & 0xf];
        }
    }
    if (key.size > 64 && out + 4 < capacity) {
        memcpy(buffer + out, "...", 3);
        out += 3;
    }
    buffer[out] = '\0';
    return buffer;
}

static int64_t now_unix_ms(void) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static int is_expired(const cs_entry* entry, int64_t now) {
    return entry->record.expiry_unix_ms != 0 && entry->record.expiry_unix_ms <= now;
}

/* A (pointer, length) is well-formed unless it claims bytes at NULL. */
static int valid_span(const void* data, size_t size) { return size == 0 || data != NULL; }

static micro_str name_or_default(micro_str name) {
    if (name.size != 0) return name;
    micro_str fallback = {kDefaultName, sizeof(kDefaultName) - 1};
    return fallback;
}

/* Byte-wise order; on a common prefix the shorter key sorts first. */
static int compare_keys(micro_bytes a, micro_bytes b) {
    size_t common = a.size < b.size ? a.size : b.size;
    int order = common == 0 ? 0 : memcmp(a.data, b.data, common);
    if (order != 0) return order;
    return (a.size > b.size) - (a.size < b.size);
}

static int same_key(micro_bytes a, micro_bytes b) {
    return a.size == b.size && (a.size == 0 || memcmp(a.data, b.data, a.size) == 0);
}

static int has_prefix(micro_bytes key, micro_bytes prefix) {
    return key.size >= prefix.size &&
           (prefix.size == 0 || memcmp(key.data, prefix.data, prefix.size) == 0);
}

static int has_suffix(micro_bytes key, micro_bytes suffix) {
    return key.size >= suffix.size && (suffix.size == 0 || memcmp(key.data + key.size - suffix.size,
                                                                  suffix.data, suffix.size) == 0);
}

/* *total += n, refusing to wrap. */
static int add_size(size_t* total, size_t n) {
    if (n > SIZE_MAX - *total) return 0;
    *total += n;
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Entries                                                                   */
/* ------------------------------------------------------------------------ */

static void entry_retain(cs_entry* entry) {
    atomic_fetch_add_explicit(&entry->refs, 1, memory_order_relaxed);
}

static void entry_release(cs_entry* entry) {
    if (atomic_fetch_sub_explicit(&entry->refs, 1, memory_order_acq_rel) == 1) free(entry);
}

/* Copy `size` bytes to `*cursor` and advance it; returns where they went. */
static const uint8_t* place(uint8_t** cursor, const void* data, size_t size) {
    uint8_t* at = *cursor;
    if (size != 0) memcpy(at, data, size);
    *cursor += size;
    return at;
}

/* A private copy of `record` (version 0 until published), or NULL when
 * memory runs out. */
static cs_entry* entry_new(const micro_record* record) {
    size_t count = record->metadata_count;
    size_t total = sizeof(cs_entry);
    if (count > (SIZE_MAX - total) / sizeof(micro_kv)) return NULL;
    total += count * sizeof(micro_kv);
    int fits = add_size(&total, record->key.size) && add_size(&total, record->value.size);
    for (size_t i = 0; fits && i < count; ++i) {
        fits = add_size(&total, record->metadata[i].key.size) &&
               add_size(&total, record->metadata[i].value.size);
    }
    if (!fits) return NULL;

    cs_entry* entry = malloc(total);
    if (entry == NULL) return NULL;
    atomic_init(&entry->refs, 1);
    uint8_t* cursor = (uint8_t*)(entry->metadata + count);
    micro_record* copy = &entry->record;
    copy->struct_size = sizeof(micro_record);
    copy->key.data = place(&cursor, record->key.data, record->key.size);
    copy->key.size = record->key.size;
    copy->value.data = place(&cursor, record->value.data, record->value.size);
    copy->value.size = record->value.size;
    for (size_t i = 0; i < count; ++i) {
        const micro_kv* from = &record->metadata[i];
        micro_kv* to = &entry->metadata[i];
        to->key.data = (const char*)place(&cursor, from->key.data, from->key.size);
        to->key.size = from->key.size;
        to->value.data = (const char*)place(&cursor, from->value.data, from->value.size);
        to->value.size = from->value.size;
    }
    copy->metadata = count == 0 ? NULL : entry->metadata;
    copy->metadata_count = count;
    copy->expiry_unix_ms = record->expiry_unix_ms;
    copy->version = 0;
    return entry;
}

/* ------------------------------------------------------------------------ */
/* Namespaces                                                                */
/* ------------------------------------------------------------------------ */

static int space_is(const cs_space* space, micro_str database, micro_str table) {
    return space->database_size == database.size && space->table_size == table.size &&
           memcmp(space->names, database.data, database.size) == 0 &&
           memcmp(space->names + database.size, table.data, table.size) == 0;
}

/* `database` and `table` are already defaulted (never empty). */
static cs_space* space_find(cs_store* store, micro_str database, micro_str table) {
    for (size_t i = 0; i < store->space_count; ++i) {
        if (space_is(&store->spaces[i], database, table)) return &store->spaces[i];
    }
    return NULL;
}

/* A new, empty namespace, or NULL when memory runs out. */
static cs_space* space_add(cs_store* store, micro_str database, micro_str table) {
    if (store->space_count == store->space_capacity) {
        size_t capacity = store->space_capacity == 0 ? 4 : store->space_capacity * 2;
        cs_space* grown = realloc(store->spaces, capacity * sizeof(cs_space));
        if (grown == NULL) return NULL;
        store->spaces = grown;
        store->space_capacity = capacity;
    }
    size_t size = database.size;
    if (!add_size(&size, table.size)) return NULL;
    char* names = malloc(size);
    if (names == NULL) return NULL;
    memcpy(names, database.data, database.size);
    memcpy(names + database.size, table.data, table.size);

    cs_space* space = &store->spaces[store->space_count++];
    memset(space, 0, sizeof(*space));
    space->names = names;
    space->database_size = database.size;
    space->table_size = table.size;
    return space;
}

static void space_clear(cs_space* space) {
    for (size_t i = 0; i < space->count; ++i) entry_release(space->entries[i]);
    free(space->entries);
    free(space->names);
}

/* Drop the most recently added namespace (undoing space_add). */
static void space_drop_last(cs_store* store) { space_clear(&store->spaces[--store->space_count]); }

/* First position whose key is not less than `key`. */
static size_t space_lower_bound(const cs_space* space, micro_bytes key) {
    size_t low = 0;
    size_t high = space->count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        if (compare_keys(space->entries[middle]->record.key, key) < 0) {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    return low;
}

/* The entry stored under `key` (expired or not), or NULL; `*position` is
 * where it is or would go. */
static cs_entry* space_lookup(const cs_space* space, micro_bytes key, size_t* position) {
    size_t at = space_lower_bound(space, key);
    if (position != NULL) *position = at;
    if (at < space->count && same_key(space->entries[at]->record.key, key)) {
        return space->entries[at];
    }
    return NULL;
}

static void space_remove_at(cs_space* space, size_t at) {
    entry_release(space->entries[at]);
    memmove(&space->entries[at], &space->entries[at + 1],
            (space->count - at - 1) * sizeof(cs_entry*));
    --space->count;
}

/* Drop every expired entry, keeping the order. */
static void space_sweep(cs_space* space, int64_t now) {
    size_t kept = 0;
    for (size_t i = 0; i < space->count; ++i) {
        if (is_expired(space->entries[i], now)) {
            entry_release(space->entries[i]);
        } else {
            space->entries[kept++] = space->entries[i];
        }
    }
    space->count = kept;
}

/* Room for `extra` more entries; 0 when memory runs out. */
static int space_reserve(cs_space* space, size_t extra) {
    if (extra <= space->capacity - space->count) return 1;
    if (extra > SIZE_MAX / sizeof(cs_entry*) - space->count) return 0;
    size_t needed = space->count + extra;
    size_t capacity = space->capacity == 0 ? 16 : space->capacity;
    while (capacity < needed) capacity = capacity > SIZE_MAX / 2 ? needed : capacity * 2;
    if (capacity > SIZE_MAX / sizeof(cs_entry*)) capacity = needed;
    cs_entry** grown = realloc(space->entries, capacity * sizeof(cs_entry*));
    if (grown == NULL) return 0;
    space->entries = grown;
    space->capacity = capacity;
    return 1;
}

/* Insert `entry` or replace the entry under its key; takes over the
 * caller's reference. Capacity must have been reserved. */
static void space_put(cs_space* space, cs_entry* entry) {
    size_t at = 0;
    cs_entry* old = space_lookup(space, entry->record.key, &at);
    if (old != NULL) {
        space->entries[at] = entry;
        entry_release(old);
        return;
    }
    memmove(&space->entries[at + 1], &space->entries[at], (space->count - at) * sizeof(cs_entry*));
    space->entries[at] = entry;
    ++space->count;
}

/* ------------------------------------------------------------------------ */
/* Lifecycle                                                                 */
/* ------------------------------------------------------------------------ */

static micro_code store_create(const micro_host* host, micro_str instance_name,
                               const micro_config* config, void** self, micro_error* err) {
    /* The driver takes no configuration: any key is a mistake to report. */
    if (config != NULL && !valid_span(config->entries, config->count)) {
        return fail(err, MICRO_INVALID_ARGUMENT, "malformed config");
    }
    if (config != NULL && config->count > 0) {
        micro_str key = config->entries[0].key;
        int shown = key.size > 200 ? 200 : (int)key.size;
        return fail(err, MICRO_INVALID_ARGUMENT, "unknown key '%.*s'", shown,
                    key.size == 0 ? "" : key.data);
    }
    cs_store* store = calloc(1, sizeof(cs_store));
    if (store == NULL) return fail(err, MICRO_RESOURCE_EXHAUSTED, "out of memory");
    if (pthread_mutex_init(&store->mutex, NULL) != 0) {
        free(store);
        return fail(err, MICRO_RESOURCE_EXHAUSTED, "cannot create a mutex");
    }
    if (host != NULL && MICRO_HAS(host, micro_host, log) && host->log != NULL) {
        static const char ready[] = "c store ready";
        micro_str message = {ready, sizeof(ready) - 1};
        host->log(host, MICRO_LOG_DEBUG, instance_name, message);
    }
    *self = store;
    return MICRO_OK;
}

static void store_destroy(void* self) {
    cs_store* store = self;
    for (size_t i = 0; i < store->space_count; ++i) space_clear(&store->spaces[i]);
    free(store->spaces);
    pthread_mutex_destroy(&store->mutex);
    free(store);
}

/* ------------------------------------------------------------------------ */
/* Read                                                                      */
/* ------------------------------------------------------------------------ */

/* The references a read took under the lock, to emit after releasing it. */
typedef struct cs_matches {
    cs_entry* one; /* storage when there is a single match */
    cs_entry** entries;
    size_t count;
} cs_matches;

static void emit(micro_record_sink sink, const cs_entry* entry, uint32_t flags) {
    if ((flags & MICRO_STORE_KEYS_ONLY) == 0) {
        sink.fn(sink.ctx, &entry->record);
        return;
    }
    micro_record keys_only = entry->record;
    keys_only.value.data = kNoBytes;
    keys_only.value.size = 0;
    keys_only.metadata = NULL;
    keys_only.metadata_count = 0;
    sink.fn(sink.ctx, &keys_only);
}

static void matches_release(cs_matches* matches) {
    for (size_t i = 0; i < matches->count; ++i) entry_release(matches->entries[i]);
    if (matches->entries != &matches->one) free(matches->entries);
}

static int query_matches(const micro_store_query* query, micro_bytes key) {
    if ((query->flags & MICRO_STORE_PREFIX) != 0 && !has_prefix(key, query->key)) return 0;
    if ((query->flags & MICRO_STORE_SUFFIX) != 0 && !has_suffix(key, query->key)) return 0;
    return 1;
}

/* Visit the live entries a prefix/suffix query selects, after `offset`, at
 * most `limit`; with `out` NULL only counts them. Returns the count. */
static size_t scan(const cs_space* space, const micro_store_query* query, int64_t now,
                   cs_entry** out) {
    int prefix = (query->flags & MICRO_STORE_PREFIX) != 0;
    size_t at = prefix ? space_lower_bound(space, query->key) : 0;
    uint64_t skipped = 0;
    size_t taken = 0;
    for (; at < space->count; ++at) {
        cs_entry* entry = space->entries[at];
        if (prefix && !has_prefix(entry->record.key, query->key)) break; /* past the range */
        if (is_expired(entry, now) || !query_matches(query, entry->record.key)) continue;
        if (skipped < query->offset) {
            ++skipped;
            continue;
        }
        if (query->limit != 0 && taken >= query->limit) break;
        if (out != NULL) {
            entry_retain(entry);
            out[taken] = entry;
        }
        ++taken;
    }
    return taken;
}

/* Take references to what `query` selects; the lock must be held. */
static micro_code collect(cs_store* store, const micro_store_query* query, int64_t now,
                          cs_matches* matches) {
    matches->entries = &matches->one;
    matches->count = 0;
    const cs_space* space =
        space_find(store, name_or_default(query->database), name_or_default(query->table));
    int exact = (query->flags & (MICRO_STORE_PREFIX | MICRO_STORE_SUFFIX)) == 0;
    if (exact) {
        cs_entry* entry = space == NULL ? NULL : space_lookup(space, query->key, NULL);
        if (entry == NULL || is_expired(entry, now)) return MICRO_NOT_FOUND;
        if (query->offset == 0) {
            entry_retain(entry);
            matches->one = entry;
            matches->count = 1;
        }
        return MICRO_OK;
    }
    if (space == NULL) return MICRO_OK;
    size_t count = scan(space, query, now, NULL);
    if (count == 0) return MICRO_OK;
    if (count > SIZE_MAX / sizeof(cs_entry*)) return MICRO_RESOURCE_EXHAUSTED;
    matches->entries = malloc(count * sizeof(cs_entry*));
    if (matches->entries == NULL) {
        matches->entries = &matches->one;
        return MICRO_RESOURCE_EXHAUSTED;
    }
    matches->count = scan(space, query, now, matches->entries);
    return MICRO_OK;
}

static int valid_query(const micro_store_query* query) {
    return query != NULL && MICRO_HAS(query, micro_store_query, offset) &&
           valid_span(query->database.data, query->database.size) &&
           valid_span(query->table.data, query->table.size) &&
           valid_span(query->key.data, query->key.size);
}

static void store_read(void* self, const micro_store_query* query, micro_record_sink sink,
                       micro_done done) {
    cs_store* store = self;
    if (!valid_query(query) || sink.fn == NULL) {
        complete(done, MICRO_INVALID_ARGUMENT, "malformed query or sink");
        return;
    }
    int64_t now = now_unix_ms();
    cs_matches matches;
    pthread_mutex_lock(&store->mutex);
    micro_code code = collect(store, query, now, &matches);
    pthread_mutex_unlock(&store->mutex);

    if (code == MICRO_NOT_FOUND) {
        char key[300];
        complete(done, code, "key '%s' not found", describe_key(query->key, key, sizeof(key)));
        return;
    }
    if (code != MICRO_OK) {
        complete(done, code, "out of memory");
        return;
    }
    for (size_t i = 0; i < matches.count; ++i) emit(sink, matches.entries[i], query->flags);
    matches_release(&matches);
    complete_ok(done, 0);
}

/* ------------------------------------------------------------------------ */
/* Write                                                                     */
/* ------------------------------------------------------------------------ */

static int valid_record(const micro_record* record) {
    if (!MICRO_HAS(record, micro_record, version)) return 0;
    if (!valid_span(record->key.data, record->key.size) ||
        !valid_span(record->value.data, record->value.size) ||
        !valid_span(record->metadata, record->metadata_count)) {
        return 0;
    }
    for (size_t i = 0; i < record->metadata_count; ++i) {
        const micro_kv* kv = &record->metadata[i];
        if (!valid_span(kv->key.data, kv->key.size) || !valid_span(kv->value.data, kv->value.size))
            return 0;
    }
    return 1;
}

/* Check every record's arguments; on a problem complete `done` and return 0. */
static int validate_batch(const micro_record* const* records, size_t count, micro_str database,
                          micro_str table, micro_done done) {
    if (!valid_span(database.data, database.size) || !valid_span(table.data, table.size) ||
        !valid_span(records, count)) {
        complete(done, MICRO_INVALID_ARGUMENT, "malformed database, table or record array");
        return 0;
    }
    for (size_t i = 0; i < count; ++i) {
        if (!valid_record(records[i])) {
            complete(done, MICRO_INVALID_ARGUMENT, "record %zu is malformed", i);
            return 0;
        }
        if (records[i]->key.size == 0) {
            complete(done, MICRO_INVALID_ARGUMENT, "record %zu has an empty key", i);
            return 0;
        }
    }
    return 1;
}

static void free_entries(cs_entry** entries, size_t count) {
    for (size_t i = 0; i < count; ++i) {
        if (entries[i] != NULL) entry_release(entries[i]);
    }
    free(entries);
}

/* Private copies of every record, made before taking the lock. */
static cs_entry** copy_batch(const micro_record* const* records, size_t count) {
    if (count > SIZE_MAX / sizeof(cs_entry*)) return NULL;
    cs_entry** entries = calloc(count, sizeof(cs_entry*));
    if (entries == NULL) return NULL;
    for (size_t i = 0; i < count; ++i) {
        entries[i] = entry_new(records[i]);
        if (entries[i] == NULL) {
            free_entries(entries, i);
            return NULL;
        }
    }
    return entries;
}

/* The version `records[i]` would replace, counting earlier records of the
 * batch as already written (they get first_version, first_version + 1, ...);
 * 0 when the key is absent. */
static uint64_t current_version(const cs_space* space, const micro_record* const* records, size_t i,
                                uint64_t first_version, int64_t now) {
    for (size_t j = i; j-- > 0;) {
        if (same_key(records[j]->key, records[i]->key)) return first_version + j;
    }
    const cs_entry* entry = space_lookup(space, records[i]->key, NULL);
    return entry == NULL || is_expired(entry, now) ? 0 : entry->record.version;
}

static int version_matches(uint64_t expected, uint64_t current) {
    if (expected == MICRO_VERSION_ANY) return 1;
    if (expected == MICRO_VERSION_ABSENT) return current == 0;
    return current == expected;
}

static void describe_version(uint64_t version, char* buffer, size_t capacity) {
    if (version == MICRO_VERSION_ABSENT) {
        snprintf(buffer, capacity, "absent");
    } else {
        snprintf(buffer, capacity, "%" PRIu64, version);
    }
}

/* printf into a cs_message. */
__attribute__((format(printf, 2, 3))) static void say(cs_message* out, const char* format, ...) {
    va_list args;
    va_start(args, format);
    format_message(out, format, args);
    va_end(args);
}

/* Apply the batch; the lock must be held. On failure nothing visible has
 * changed and `why` says what went wrong. `*version` is the last record's. */
static micro_code apply_batch(cs_store* store, cs_space* space, const micro_record* const* records,
                              cs_entry** entries, size_t count, uint64_t* version,
                              cs_message* why) {
    int64_t now = now_unix_ms();
    space_sweep(space, now);
    if (store->last_version > MICRO_VERSION_ABSENT - 1 - count) {
        say(why, "versions exhausted");
        return MICRO_RESOURCE_EXHAUSTED;
    }
    uint64_t first_version = store->last_version + 1;
    for (size_t i = 0; i < count; ++i) {
        uint64_t expected = records[i]->version;
        if (expected == MICRO_VERSION_ANY) continue;
        uint64_t current = current_version(space, records, i, first_version, now);
        if (!version_matches(expected, current)) {
            char key[300];
            char want[24];
            char found[24];
            describe_version(expected, want, sizeof(want));
            describe_version(current == 0 ? MICRO_VERSION_ABSENT : current, found, sizeof(found));
            say(why, "version conflict on key '%s': expected %s, found %s; nothing written",
                describe_key(records[i]->key, key, sizeof(key)), want, found);
            return MICRO_ABORTED;
        }
    }
    if (!space_reserve(space, count)) {
        say(why, "out of memory");
        return MICRO_RESOURCE_EXHAUSTED;
    }
    for (size_t i = 0; i < count; ++i) {
        entries[i]->record.version = first_version + i;
        space_put(space, entries[i]);
        entries[i] = NULL; /* the namespace owns it now */
    }
    store->last_version += count;
    *version = store->last_version;
    return MICRO_OK;
}

static void store_write(void* self, micro_str database, micro_str table,
                        const micro_record* const* records, size_t count, micro_done done) {
    cs_store* store = self;
    if (!validate_batch(records, count, database, table, done)) return;
    if (count == 0) {
        complete_ok(done, 0);
        return;
    }
    cs_entry** entries = copy_batch(records, count);
    if (entries == NULL) {
        complete(done, MICRO_RESOURCE_EXHAUSTED, "out of memory copying %zu records", count);
        return;
    }
    database = name_or_default(database);
    table = name_or_default(table);

    /* Completions run after the lock is released: the caller may re-enter. */
    cs_message why = {{0}};
    uint64_t version = 0;
    micro_code code = MICRO_RESOURCE_EXHAUSTED;
    pthread_mutex_lock(&store->mutex);
    cs_space* space = space_find(store, database, table);
    int created = 0;
    if (space == NULL) {
        space = space_add(store, database, table);
        created = space != NULL;
    }
    if (space == NULL) {
        say(&why, "out of memory");
    } else {
        code = apply_batch(store, space, records, entries, count, &version, &why);
        if (code != MICRO_OK && created) space_drop_last(store);
    }
    pthread_mutex_unlock(&store->mutex);

    free_entries(entries, count);
    if (code == MICRO_OK) {
        complete_ok(done, version);
    } else {
        complete(done, code, "%s", why.text);
    }
}

/* ------------------------------------------------------------------------ */
/* Erase                                                                     */
/* ------------------------------------------------------------------------ */

static void store_erase(void* self, micro_str database, micro_str table, micro_bytes key,
                        micro_done done) {
    cs_store* store = self;
    if (!valid_span(database.data, database.size) || !valid_span(table.data, table.size) ||
        !valid_span(key.data, key.size)) {
        complete(done, MICRO_INVALID_ARGUMENT, "malformed database, table or key");
        return;
    }
    int64_t now = now_unix_ms();
    int found = 0;
    pthread_mutex_lock(&store->mutex);
    cs_space* space = space_find(store, name_or_default(database), name_or_default(table));
    size_t at = 0;
    cs_entry* entry = space == NULL ? NULL : space_lookup(space, key, &at);
    if (entry != NULL) {
        found = !is_expired(entry, now);
        space_remove_at(space, at); /* an expired entry goes too */
    }
    pthread_mutex_unlock(&store->mutex);

    if (!found) {
        char text[300];
        complete(done, MICRO_NOT_FOUND, "key '%s' not found",
                 describe_key(key, text, sizeof(text)));
        return;
    }
    complete_ok(done, 0);
}

/* ------------------------------------------------------------------------ */
/* The plugin entry                                                          */
/* ------------------------------------------------------------------------ */

static const micro_store_driver kStoreDriver = {
    .base =
        {
            .struct_size = sizeof(micro_store_driver),
            .create = store_create,
            .destroy = store_destroy,
            .get_extension = NULL, /* optional: no extensions */
        },
    .read = store_read,
    .write = store_write,
    .erase = store_erase,
};

static const micro_driver_descriptor kStoreDescriptor = {
    .struct_size = sizeof(micro_driver_descriptor),
    .kind = MICRO_KIND_STORE,
    .name = "c",
    .version = "1.0.0",
    .description = "An in-memory store written in plain C11",
    .config_schema = "{\"type\":\"object\",\"additionalProperties\":false}",
    .driver = &kStoreDriver.base,
};

static const micro_driver_descriptor* const kDrivers[] = {&kStoreDescriptor};

MICRO_PLUGIN_EXPORT const micro_plugin micro_plugin_entry = {
    .abi_major = MICRO_ABI_MAJOR,
    .abi_minor = MICRO_ABI_MINOR,
    .struct_size = sizeof(micro_plugin),
    .name = "micro-cstore",
    .version = "1.0.0",
    .description = "A store driver in plain C: the proof that the plugin ABI is a C ABI",
    .drivers = kDrivers,
    .driver_count = sizeof(kDrivers) / sizeof(kDrivers[0]),
    .init = NULL,
    .fini = NULL,
};
