/*  oms_schema: the msgpack codec every message and record goes through.

    Decoding is two passes. oms_msgpack_check walks the raw bytes without
    allocating and refuses anything that is not exactly one well formed
    object: msgpack-c allocates a container's declared size before reading a
    single element, so a five byte "array of four billion" must never reach
    it. Every declared length is compared with the bytes that remain (an array
    element takes at least one byte, a map entry two), nesting is capped at
    OMS_DEPTH_MAX, and the walk keeps one counter per open container, so it
    needs neither recursion nor memory. Only then does msgpack-c unpack.

    oms_schema_unpack then maps the object onto a C struct through a field
    table, and oms_schema_pack writes the struct back in table order. Pack
    validates with the decoder's rules first, so whatever we write we can read.
*/
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "oms_proto.h"

//  One bit per field tracks duplicates and missing keys.
#define SCHEMA_FIELDS_MAX 64

static const oms_field_t s_item_fields[] = {
    {.key = "sku",
     .type = OMS_T_STR,
     .offset = offsetof (oms_item_t, sku),
     .required = true,
     .chars = OMS_C_ID,
     .max = OMS_SKU_MAX},
    {.key = "qty",
     .type = OMS_T_INT,
     .offset = offsetof (oms_item_t, qty),
     .required = true,
     .min = 1,
     .max = OMS_QTY_MAX},
};
static const oms_schema_t s_item_schema = {"item", s_item_fields, 2, sizeof (oms_item_t)};

static const oms_field_t s_head_fields[] = {
    {.key = "topic",
     .type = OMS_T_STR,
     .offset = offsetof (oms_head_t, topic),
     .required = true,
     .chars = OMS_C_NAME,
     .max = OMS_NAME_MAX},
    {.key = "seq",
     .type = OMS_T_UINT,
     .offset = offsetof (oms_head_t, seq),
     .required = true,
     .max = UINT64_MAX},
};
static const oms_schema_t s_head_schema = {"head", s_head_fields, 2, sizeof (oms_head_t)};

// ---------------------------------------------------------------------------
//  Raw structure check

static uint64_t
s_be (const uint8_t *p, size_t n)
{
    uint64_t value = 0;
    for (size_t i = 0; i < n; i++)
        value = (value << 8) | p[i];
    return value;
}

int
oms_msgpack_check (const uint8_t *data, size_t size)
{
    //  open[d] counts the objects still expected in the d-th open container
    uint64_t open[OMS_DEPTH_MAX];
    size_t depth = 0;
    size_t pos = 0;
    if (!data)
        size = 0;

    for (;;) {
        if (pos >= size)
            return OMS_E_TRUNCATED;
        uint8_t b = data[pos++];
        size_t len_size = 0;  //  bytes of the length or count that follows
        uint64_t payload = 0; //  bytes of payload after the length
        uint64_t count = 0;   //  objects inside, for a container
        bool container = false;

        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
            ; //  fixint, nil, bool
        else if (b <= 0x8f) {
            container = true;
            count = 2 * (uint64_t) (b & 0x0f);
        }
        else if (b <= 0x9f) {
            container = true;
            count = b & 0x0f;
        }
        else if (b <= 0xbf)
            payload = b & 0x1f;
        else
            switch (b) {
            case 0xc1:
                return OMS_E_MALFORMED;
            case 0xc4:
            case 0xc5:
            case 0xc6: //  bin 8/16/32
                len_size = (size_t) 1 << (b - 0xc4);
                break;
            case 0xc7:
            case 0xc8:
            case 0xc9: //  ext 8/16/32: length, type, data
                len_size = (size_t) 1 << (b - 0xc7);
                payload = 1;
                break;
            case 0xca:
                payload = 4;
                break; //  float 32
            case 0xcb:
                payload = 8;
                break; //  float 64
            case 0xcc:
            case 0xcd:
            case 0xce:
            case 0xcf: //  uint 8..64
                payload = (uint64_t) 1 << (b - 0xcc);
                break;
            case 0xd0:
            case 0xd1:
            case 0xd2:
            case 0xd3: //  int 8..64
                payload = (uint64_t) 1 << (b - 0xd0);
                break;
            case 0xd4:
            case 0xd5:
            case 0xd6:
            case 0xd7:
            case 0xd8: //  fixext
                payload = 1 + ((uint64_t) 1 << (b - 0xd4));
                break;
            case 0xd9:
            case 0xda:
            case 0xdb: //  str 8/16/32
                len_size = (size_t) 1 << (b - 0xd9);
                break;
            case 0xdc:
            case 0xdd: //  array 16/32
                len_size = (size_t) 2 << (b - 0xdc);
                container = true;
                break;
            default: //  0xde, 0xdf: map 16/32
                len_size = (size_t) 2 << (b - 0xde);
                container = true;
                break;
            }

        if (len_size) {
            if (size - pos < len_size)
                return OMS_E_TRUNCATED;
            uint64_t n = s_be (data + pos, len_size);
            pos += len_size;
            if (!container)
                payload += n;
            else if (b >= 0xde)
                count = 2 * n;
            else
                count = n;
        }
        if (payload > size - pos)
            return OMS_E_TRUNCATED;
        pos += (size_t) payload;

        if (container) {
            if (depth == OMS_DEPTH_MAX)
                return OMS_E_DEPTH;
            //  Refuse a count the remaining bytes cannot hold before anything
            //  sizes an allocation by it.
            if (count > size - pos)
                return OMS_E_TRUNCATED;
            if (count > 0) {
                open[depth++] = count;
                continue;
            }
        }
        //  One object is complete; so is every container it completes.
        while (depth > 0 && --open[depth - 1] == 0)
            depth--;
        if (depth == 0)
            break;
    }
    return pos == size ? OMS_OK : OMS_E_TRAILING;
}

int
oms_msgpack_parse (const uint8_t *data, size_t size, msgpack_unpacked *result, oms_fault_t *fault)
{
    assert (result);
    msgpack_unpacked_init (result);
    oms_fault_set (fault, OMS_OK, "");
    if (size > OMS_MSG_MAX)
        return oms_fault_set (fault, OMS_E_TOO_BIG, "");
    int rc = oms_msgpack_check (data, size);
    if (rc)
        return oms_fault_set (fault, rc, "");

    size_t offset = 0;
    switch (msgpack_unpack_next (result, (const char *) data, size, &offset)) {
    case MSGPACK_UNPACK_SUCCESS:
        break;
    case MSGPACK_UNPACK_NOMEM_ERROR:
        return oms_fault_set (fault, OMS_E_NOMEM, "");
    case MSGPACK_UNPACK_CONTINUE:
        return oms_fault_set (fault, OMS_E_TRUNCATED, "");
    default:
        return oms_fault_set (fault, OMS_E_MALFORMED, "");
    }
    if (offset != size)
        return oms_fault_set (fault, OMS_E_TRAILING, "");
    if (result->data.type != MSGPACK_OBJECT_MAP)
        return oms_fault_set (fault, OMS_E_TYPE, "");
    return OMS_OK;
}

const msgpack_object *
oms_msgpack_get (const msgpack_object *map, const char *key)
{
    if (!map || map->type != MSGPACK_OBJECT_MAP || !key)
        return NULL;
    size_t key_size = strlen (key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == key_size &&
            memcmp (k->via.str.ptr, key, key_size) == 0)
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

// ---------------------------------------------------------------------------
//  Rules shared by decode and encode

static bool
s_char_ok (oms_chars_t chars, uint8_t c)
{
    if (c == 0)
        return false;
    switch (chars) {
    case OMS_C_ID:
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               strchr ("._:@/-", c);
    case OMS_C_NAME:
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr ("._-", c);
    case OMS_C_DIGITS:
        return c >= '0' && c <= '9';
    default:
        return true;
    }
}

static int
s_check_str (const oms_field_t *f, const char *s, size_t len)
{
    if (len > f->max)
        return OMS_E_TOO_LONG;
    for (size_t i = 0; i < len; i++)
        if (!s_char_ok (f->chars, (uint8_t) s[i]))
            return OMS_E_INVALID;
    //  Only an optional field may be empty, and then it means absent; free
    //  text may always be empty.
    if (len == 0 && f->required && f->chars != OMS_C_ANY)
        return OMS_E_INVALID;
    if (len > 0 && f->names) {
        for (const char *const *name = f->names; *name; name++)
            if (strlen (*name) == len && memcmp (*name, s, len) == 0)
                return OMS_OK;
        return OMS_E_INVALID;
    }
    return OMS_OK;
}

static bool
s_int_ok (const oms_field_t *f, int64_t value)
{
    return value >= f->min && (value < 0 || (uint64_t) value <= f->max);
}

static bool
s_uint_ok (const oms_field_t *f, uint64_t value)
{
    return (f->min <= 0 || value >= (uint64_t) f->min) && value <= f->max;
}

static const oms_schema_t *
s_element_schema (const oms_field_t *f)
{
    return f->type == OMS_T_ITEMS ? &s_item_schema : &s_head_schema;
}

//  Appends ".key" or "[index]" to a path; truncation only shortens messages.
static void
s_path_key (char *out, size_t size, const char *path, const char *key, size_t len)
{
    int n = snprintf (out, size, "%s%s", path, *path ? "." : "");
    for (size_t i = 0; i < len && n >= 0 && (size_t) n + 1 < size; i++) {
        uint8_t c = (uint8_t) key[i];
        out[n++] = c >= 0x20 && c < 0x7f ? (char) c : '?';
        out[n] = 0;
    }
}

static void
s_path_index (char *out, size_t size, const char *path, size_t index)
{
    if (snprintf (out, size, "%s[%zu]", path, index) < 0)
        *out = 0;
}

// ---------------------------------------------------------------------------
//  Decode

static int s_unpack (const oms_schema_t *schema, const msgpack_object *map, char *record,
                     const char *path, bool skip, oms_fault_t *fault);

//  `path` is NULL on the fast pass, which names no field: building names
//  costs more than decoding, and only a failure needs them.
//  `skip` passes unknown keys over, at every depth (a message of a newer
//  minor); it is handed down to nested maps and array elements.
static int
s_unpack_value (const oms_field_t *f, const msgpack_object *o, char *record, const char *path,
                bool skip, oms_fault_t *fault)
{
    void *at = record + f->offset;
    switch (f->type) {
    case OMS_T_STR: {
        if (o->type != MSGPACK_OBJECT_STR)
            return oms_fault_set (fault, OMS_E_TYPE, path);
        int rc = s_check_str (f, o->via.str.ptr, o->via.str.size);
        if (rc)
            return oms_fault_set (fault, rc, path);
        memcpy (at, o->via.str.ptr, o->via.str.size);
        ((char *) at)[o->via.str.size] = 0;
        return OMS_OK;
    }
    case OMS_T_UINT: {
        if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
            return oms_fault_set (fault, OMS_E_TYPE, path);
        if (!s_uint_ok (f, o->via.u64))
            return oms_fault_set (fault, OMS_E_RANGE, path);
        *(uint64_t *) at = o->via.u64;
        return OMS_OK;
    }
    case OMS_T_INT: {
        int64_t value;
        if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
            value = o->via.i64;
        else if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
            return oms_fault_set (fault, OMS_E_TYPE, path);
        else if (o->via.u64 > INT64_MAX)
            return oms_fault_set (fault, OMS_E_RANGE, path);
        else
            value = (int64_t) o->via.u64;
        if (!s_int_ok (f, value))
            return oms_fault_set (fault, OMS_E_RANGE, path);
        *(int64_t *) at = value;
        return OMS_OK;
    }
    case OMS_T_BOOL:
        if (o->type != MSGPACK_OBJECT_BOOLEAN)
            return oms_fault_set (fault, OMS_E_TYPE, path);
        *(bool *) at = o->via.boolean;
        return OMS_OK;
    case OMS_T_BIN:
        if (o->type != MSGPACK_OBJECT_BIN)
            return oms_fault_set (fault, OMS_E_TYPE, path);
        if (o->via.bin.size > f->max)
            return oms_fault_set (fault, OMS_E_TOO_LONG, path);
        ((oms_bin_t *) at)->data = (const uint8_t *) o->via.bin.ptr;
        ((oms_bin_t *) at)->size = o->via.bin.size;
        return OMS_OK;
    case OMS_T_MAP:
        if (o->type != MSGPACK_OBJECT_MAP)
            return oms_fault_set (fault, OMS_E_TYPE, path);
        if (f->schema)
            return s_unpack (f->schema, o, at, path, skip, fault);
        return OMS_OK;
    case OMS_T_ITEMS:
    case OMS_T_HEADS: {
        if (o->type != MSGPACK_OBJECT_ARRAY)
            return oms_fault_set (fault, OMS_E_TYPE, path);
        uint32_t n = o->via.array.size;
        if (n > f->max)
            return oms_fault_set (fault, OMS_E_TOO_MANY, path);
        if (f->min > 0 && n < (uint64_t) f->min)
            return oms_fault_set (fault, OMS_E_RANGE, path);
        const oms_schema_t *element = s_element_schema (f);
        for (uint32_t i = 0; i < n; i++) {
            char element_path[sizeof fault->field];
            if (path)
                s_path_index (element_path, sizeof element_path, path, i);
            int rc = s_unpack (element, &o->via.array.ptr[i], (char *) at + i * element->size,
                               path ? element_path : NULL, skip, fault);
            if (rc)
                return rc;
        }
        *(uint32_t *) (record + f->count_offset) = n;
        return OMS_OK;
    }
    }
    return oms_fault_set (fault, OMS_E_TYPE, path);
}

static size_t
s_field_size (const oms_field_t *f)
{
    switch (f->type) {
    case OMS_T_STR:
        return f->max + 1;
    case OMS_T_UINT:
        return sizeof (uint64_t);
    case OMS_T_INT:
        return sizeof (int64_t);
    case OMS_T_BOOL:
        return sizeof (bool);
    case OMS_T_BIN:
        return sizeof (oms_bin_t);
    case OMS_T_MAP:
        return f->schema ? f->schema->size : 0;
    case OMS_T_ITEMS:
    case OMS_T_HEADS:
        return f->max * s_element_schema (f)->size;
    }
    return 0;
}

static void
s_zero (const oms_schema_t *schema, char *record)
{
    if (schema->size) {
        memset (record, 0, schema->size);
        return;
    }
    for (size_t i = 0; i < schema->n_fields; i++) {
        const oms_field_t *f = &schema->fields[i];
        memset (record + f->offset, 0, s_field_size (f));
        if (f->type == OMS_T_ITEMS || f->type == OMS_T_HEADS)
            memset (record + f->count_offset, 0, sizeof (uint32_t));
    }
}

//  Decodes without zeroing: the caller zeroed the whole record, nested
//  records and array elements included.
static int
s_unpack (const oms_schema_t *schema, const msgpack_object *map, char *record, const char *path,
          bool skip, oms_fault_t *fault)
{
    if (!map || map->type != MSGPACK_OBJECT_MAP)
        return oms_fault_set (fault, OMS_E_TYPE, path);

    uint64_t seen = 0;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *key = &map->via.map.ptr[i].key;
        if (key->type != MSGPACK_OBJECT_STR)
            return oms_fault_set (fault, OMS_E_TYPE, path);
        char field_path[sizeof fault->field];
        if (path)
            s_path_key (field_path, sizeof field_path, path, key->via.str.ptr, key->via.str.size);
        const char *named = path ? field_path : NULL;

        size_t index = 0;
        while (index < schema->n_fields &&
               !(strlen (schema->fields[index].key) == key->via.str.size &&
                 memcmp (schema->fields[index].key, key->via.str.ptr, key->via.str.size) == 0))
            index++;
        if (index == schema->n_fields) {
            //  A key of a newer minor: its value was bounded by the parse
            //  (size, depth), which is all this build can check of it.
            if (skip)
                continue;
            return oms_fault_set (fault, OMS_E_UNKNOWN, named);
        }
        if (seen & ((uint64_t) 1 << index))
            return oms_fault_set (fault, OMS_E_DUPLICATE, named);
        seen |= (uint64_t) 1 << index;

        int rc = s_unpack_value (&schema->fields[index], &map->via.map.ptr[i].val, record, named,
                                 skip, fault);
        if (rc)
            return rc;
    }
    for (size_t i = 0; i < schema->n_fields; i++)
        if (schema->fields[i].required && !(seen & ((uint64_t) 1 << i))) {
            char field_path[sizeof fault->field];
            const char *key = schema->fields[i].key;
            if (path)
                s_path_key (field_path, sizeof field_path, path, key, strlen (key));
            return oms_fault_set (fault, OMS_E_MISSING, path ? field_path : NULL);
        }
    return OMS_OK;
}

static int
s_unpack_record (const oms_schema_t *schema, const msgpack_object *map, void *record,
                 const char *path, bool skip, oms_fault_t *fault)
{
    assert (schema && record);
    assert (schema->n_fields <= SCHEMA_FIELDS_MAX);
    s_zero (schema, record);
    int rc = s_unpack (schema, map, record, NULL, skip, fault);
    if (rc && fault) {
        //  Decoding is deterministic: a second pass meets the same failure and
        //  names where it is. The record is zeroed again, as promised.
        s_zero (schema, record);
        rc = s_unpack (schema, map, record, path ? path : "", skip, fault);
    }
    return rc;
}

int
oms_schema_unpack (const oms_schema_t *schema, const msgpack_object *map, void *record,
                   const char *path, oms_fault_t *fault)
{
    return s_unpack_record (schema, map, record, path, false, fault);
}

int
oms_schema_unpack_newer (const oms_schema_t *schema, const msgpack_object *map, void *record,
                         const char *path, oms_fault_t *fault)
{
    return s_unpack_record (schema, map, record, path, true, fault);
}

// ---------------------------------------------------------------------------
//  Encode

//  Whether pack leaves the field out: an optional field at its zero value.
static bool
s_omitted (const oms_field_t *f, const char *record)
{
    if (f->required)
        return false;
    const void *at = record + f->offset;
    switch (f->type) {
    case OMS_T_STR:
        return *(const char *) at == 0;
    case OMS_T_UINT:
        return *(const uint64_t *) at == 0;
    case OMS_T_INT:
        return *(const int64_t *) at == 0;
    case OMS_T_BOOL:
        return !*(const bool *) at;
    case OMS_T_BIN:
        return ((const oms_bin_t *) at)->size == 0;
    case OMS_T_MAP:
        return false;
    case OMS_T_ITEMS:
    case OMS_T_HEADS:
        return *(const uint32_t *) (record + f->count_offset) == 0;
    }
    return false;
}

static int
s_validate (const oms_schema_t *schema, const char *record)
{
    for (size_t i = 0; i < schema->n_fields; i++) {
        const oms_field_t *f = &schema->fields[i];
        if (s_omitted (f, record))
            continue;
        const void *at = record + f->offset;
        int rc = OMS_OK;
        switch (f->type) {
        case OMS_T_STR: {
            size_t len = strnlen (at, f->max + 1);
            rc = s_check_str (f, at, len);
            break;
        }
        case OMS_T_UINT:
            rc = s_uint_ok (f, *(const uint64_t *) at) ? OMS_OK : OMS_E_RANGE;
            break;
        case OMS_T_INT:
            rc = s_int_ok (f, *(const int64_t *) at) ? OMS_OK : OMS_E_RANGE;
            break;
        case OMS_T_BOOL:
            break;
        case OMS_T_BIN: {
            const oms_bin_t *bin = at;
            if (bin->size > f->max)
                rc = OMS_E_TOO_LONG;
            else if (bin->size && !bin->data)
                rc = OMS_E_INVALID;
            break;
        }
        case OMS_T_MAP:
            rc = f->schema ? s_validate (f->schema, at) : OMS_E_TYPE;
            break;
        case OMS_T_ITEMS:
        case OMS_T_HEADS: {
            uint32_t n = *(const uint32_t *) (record + f->count_offset);
            const oms_schema_t *element = s_element_schema (f);
            if (n > f->max)
                rc = OMS_E_TOO_MANY;
            else if (f->min > 0 && n < (uint64_t) f->min)
                rc = OMS_E_RANGE;
            for (uint32_t j = 0; j < n && rc == OMS_OK; j++)
                rc = s_validate (element, (const char *) at + j * element->size);
            break;
        }
        }
        if (rc)
            return rc;
    }
    return OMS_OK;
}

static int
s_pack (const oms_schema_t *schema, const char *record, msgpack_packer *pk)
{
    size_t n = 0;
    for (size_t i = 0; i < schema->n_fields; i++)
        n += !s_omitted (&schema->fields[i], record);
    int rc = msgpack_pack_map (pk, n);

    for (size_t i = 0; i < schema->n_fields && rc == 0; i++) {
        const oms_field_t *f = &schema->fields[i];
        if (s_omitted (f, record))
            continue;
        const void *at = record + f->offset;
        rc = msgpack_pack_str_with_body (pk, f->key, strlen (f->key));
        if (rc)
            break;
        switch (f->type) {
        case OMS_T_STR:
            rc = msgpack_pack_str_with_body (pk, at, strlen (at));
            break;
        case OMS_T_UINT:
            rc = msgpack_pack_uint64 (pk, *(const uint64_t *) at);
            break;
        case OMS_T_INT:
            rc = msgpack_pack_int64 (pk, *(const int64_t *) at);
            break;
        case OMS_T_BOOL:
            rc = *(const bool *) at ? msgpack_pack_true (pk) : msgpack_pack_false (pk);
            break;
        case OMS_T_BIN: {
            const oms_bin_t *bin = at;
            rc = msgpack_pack_bin (pk, bin->size);
            if (rc == 0 && bin->size)
                rc = msgpack_pack_bin_body (pk, bin->data, bin->size);
            break;
        }
        case OMS_T_MAP:
            rc = s_pack (f->schema, at, pk);
            break;
        case OMS_T_ITEMS:
        case OMS_T_HEADS: {
            uint32_t count = *(const uint32_t *) (record + f->count_offset);
            const oms_schema_t *element = s_element_schema (f);
            rc = msgpack_pack_array (pk, count);
            for (uint32_t j = 0; j < count && rc == 0; j++)
                rc = s_pack (element, (const char *) at + j * element->size, pk);
            break;
        }
        }
    }
    return rc ? OMS_E_NOMEM : OMS_OK;
}

int
oms_schema_pack (const oms_schema_t *schema, const void *record, msgpack_packer *pk)
{
    assert (schema && record && pk);
    int rc = s_validate (schema, record);
    if (rc == OMS_OK)
        rc = s_pack (schema, record, pk);
    return rc;
}
